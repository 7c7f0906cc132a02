// X.509-SVID verification per the SPIFFE specification (standards/X509-SVID.md): a chain to the
// trust bundle, validity in force, and the leaf rules that plain chain validation does not check.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "certs/openssl_ptr.h"
#include "certs/spiffe_id.h"
#include "certs/trust_bundle.h"

namespace remora::certs {

// Leaf rules: exactly one URI SAN, a valid SPIFFE ID in `trust_domain`, not a CA, keyUsage with
// digitalSignature and without keyCertSign/cRLSign. Returns the SPIFFE ID. Errors read as a
// sentence about the certificate ("has 2 URI SANs; an X.509-SVID has exactly one").
absl::StatusOr<SpiffeId> CheckSvidLeaf(X509* leaf, absl::string_view trust_domain);

// Full verification of `chain` (leaf first, then intermediates) at time `now`: chain validation
// against `bundle`, then CheckSvidLeaf.
absl::StatusOr<SpiffeId> VerifySvid(const CertChain& chain, const TrustBundle& bundle,
                                    absl::string_view trust_domain, absl::Time now);

// The words for an OpenSSL chain-validation error, with what an operator should check, e.g.
// "certificate has expired" or "unknown CA: the chain does not lead to a root in the trust bundle".
std::string DescribeVerifyError(int x509_error);

}  // namespace remora::certs
