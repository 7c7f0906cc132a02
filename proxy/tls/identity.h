// The workload's own identity material, validated as a unit: certificate chain, private key and
// the trust bundle its peers are checked against.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "certs/cert_info.h"
#include "certs/openssl_ptr.h"
#include "certs/spiffe_id.h"
#include "certs/trust_bundle.h"

namespace remora::proxy::tls {

struct Identity {
  certs::CertChain chain;  // leaf first
  certs::EvpPkeyPtr key;
  certs::TrustBundle bundle;
  certs::SpiffeId id;
  certs::CertInfo leaf;
  std::string source;  // where it came from, for logs ("files /etc/remora/cert.pem", "CA")
};

// Checks that `key` matches the leaf, that the leaf is a valid X.509-SVID of `trust_domain`
// chaining to `bundle`, and that it is in force at `now`. Errors name `source` and the problem.
absl::StatusOr<std::shared_ptr<const Identity>> MakeIdentity(certs::CertChain chain,
                                                             certs::EvpPkeyPtr key,
                                                             certs::TrustBundle bundle,
                                                             absl::string_view trust_domain,
                                                             absl::Time now, std::string source);

// Reads PEM files and calls MakeIdentity.
absl::StatusOr<std::shared_ptr<const Identity>> LoadIdentityFiles(const std::string& cert_file,
                                                                  const std::string& key_file,
                                                                  const std::string& bundle_file,
                                                                  absl::string_view trust_domain,
                                                                  absl::Time now);

}  // namespace remora::proxy::tls
