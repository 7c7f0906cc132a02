// Bootstrap credentials: short-lived JSON Web Tokens (RFC 7519) signed with ES256 (RFC 7518 3.4)
// by the control plane's own key. A token names one namespace and service account; the CA signs
// only that identity for its bearer. A token may also name the one workload (pod) it was minted
// for, in a private claim of its own (RFC 7519 4.3), "workload".
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

struct TokenClaims {
  std::string issuer;    // iss
  std::string audience;  // aud
  std::string ns;        // namespace
  std::string service_account;
  absl::Time issued_at;   // iat
  absl::Time not_before;  // nbf
  absl::Time expires;     // exp
  std::string id;         // jti: random, unique per token
  // The workload the token was minted for ("workload"); empty when it names none. A Kubernetes
  // object name (certs/workload_binding.h CheckWorkloadName); the CA binds its certificate to it.
  std::string workload;
};

inline constexpr char kWorkloadClaim[] = "workload";

inline constexpr absl::string_view kTokenIssuer = "remora-control";
inline constexpr absl::string_view kTokenAudience = "remora-control";

// Signs `claims` with the EC P-256 `key`. `key_id` goes in the header ("kid").
absl::StatusOr<std::string> SignToken(const TokenClaims& claims, EVP_PKEY* key,
                                      absl::string_view key_id);

struct VerifyOptions {
  std::string issuer = std::string(kTokenIssuer);
  std::string audience = std::string(kTokenAudience);
  absl::Time now;
  absl::Duration leeway = absl::Seconds(30);  // clock skew tolerated on exp/nbf
};

// Verifies `token` against any of `keys` (public P-256 keys; several during key rotation): only
// alg ES256, a valid signature, the expected issuer and audience, in force at `now`, a
// namespace and service account that form a valid SPIFFE path, and, when the "workload" claim is
// present, a string that is a valid workload name. Errors are Unauthenticated and say
// which check failed ("token expired at 2026-11-25T07:00:00Z"). Pure: a fuzz target drives it.
absl::StatusOr<TokenClaims> VerifyToken(absl::string_view token, const std::vector<EVP_PKEY*>& keys,
                                        const VerifyOptions& options);

// A stable key id: the first 16 hex digits of the SHA-256 of the public key's DER encoding.
std::string KeyId(EVP_PKEY* key);

}  // namespace remora::certs
