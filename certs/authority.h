// A certificate authority key and certificate chain that issues X.509-SVIDs. The control plane's
// CA wraps one; tests make their own in-process.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "certs/openssl_ptr.h"
#include "certs/spiffe_id.h"

namespace remora::certs {

class Authority {
 public:
  // A new self-signed ECDSA P-256 root for `trust_domain`, valid from `now` minus an hour (clock
  // skew) for `lifetime`.
  static absl::StatusOr<Authority> NewRoot(absl::string_view trust_domain, absl::Time now,
                                           absl::Duration lifetime);

  // An operator-supplied ("plug-in") CA: `chain_pem` starts with the signing certificate and may
  // continue up to the root; `key_pem` is the signing certificate's key.
  static absl::StatusOr<Authority> FromPem(absl::string_view chain_pem, absl::string_view key_pem);

  // Issues a workload certificate for `public_key` naming exactly `id`: URI SAN only, CA:FALSE,
  // digitalSignature+keyEncipherment, serverAuth+clientAuth, valid from `now - backdate` until
  // `now + lifetime`, clipped to the signing certificate's own expiry. A non-empty `workload`
  // binds it to that workload (certs/workload_binding.h).
  absl::StatusOr<X509Ptr> IssueSvid(EVP_PKEY* public_key, const SpiffeId& id, absl::Time now,
                                    absl::Duration lifetime,
                                    absl::Duration backdate = absl::Minutes(5),
                                    absl::string_view workload = "") const;

  // The chain a workload presents with `leaf`: the leaf, then every CA certificate of this
  // authority except a self-signed root (peers have that in their bundle).
  CertChain PresentedChain(X509Ptr leaf) const;

  X509* cert() const { return chain_.front().get(); }
  EVP_PKEY* key() const { return key_.get(); }
  // Signing certificate first, root (if known) last.
  const CertChain& chain() const { return chain_; }
  // The last certificate of the chain: the anchor to put in trust bundles.
  X509* anchor() const { return chain_.back().get(); }

 private:
  Authority(CertChain chain, EvpPkeyPtr key) : chain_(std::move(chain)), key_(std::move(key)) {}

  CertChain chain_;
  EvpPkeyPtr key_;
};

}  // namespace remora::certs
