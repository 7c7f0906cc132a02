// The control plane's bootstrap-token issuer and verifier: an EC P-256 key kept in the state
// directory (mode 0600), used to mint tokens for `remoractl token create` and to check the tokens
// workloads present to the CA.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "certs/jwt.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

class TokenAuthority {
 public:
  // Loads <state_dir>/token/signing.key, creating it on first start.
  static absl::StatusOr<std::unique_ptr<TokenAuthority>> Open(const std::string& state_dir);
  // From an existing key (tests).
  explicit TokenAuthority(EvpPkeyPtr key);

  // A token for the workload `workload` of `ns` running as `service_account`: the CA binds the
  // certificate it issues for it to that workload (certs/workload_binding.h), and the control
  // plane serves that certificate the xDS view of that workload only.
  absl::StatusOr<std::string> Mint(absl::string_view ns, absl::string_view service_account,
                                   absl::string_view workload, absl::Duration ttl,
                                   absl::Time now) const;
  // A token bound to no workload: it verifies, but the CA issues no workload certificate for it.
  absl::StatusOr<std::string> Mint(absl::string_view ns, absl::string_view service_account,
                                   absl::Duration ttl, absl::Time now) const;
  absl::StatusOr<TokenClaims> Verify(absl::string_view token, absl::Time now) const;

  // The workload a verified token was minted for (its "workload" claim, which VerifyToken has
  // validated); NotFound for a token bound to none.
  static absl::StatusOr<std::string> BoundWorkload(const TokenClaims& claims);

  EVP_PKEY* key() const { return key_.get(); }

 private:
  EvpPkeyPtr key_;
  std::string key_id_;
};

}  // namespace remora::certs
