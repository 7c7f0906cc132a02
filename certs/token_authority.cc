#include "certs/token_authority.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/spiffe_id.h"
#include "certs/workload_binding.h"
#include "common/file.h"
#include "common/log.h"

namespace remora::certs {
TokenAuthority::TokenAuthority(EvpPkeyPtr key) : key_(std::move(key)), key_id_(KeyId(key_.get())) {}

absl::StatusOr<std::unique_ptr<TokenAuthority>> TokenAuthority::Open(const std::string& state_dir) {
  const std::string dir = state_dir + "/token";
  const std::string path = dir + "/signing.key";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (absl::IsNotFound(pem.status())) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
    if (!key.ok()) return key.status();
    if (absl::Status s = WriteFileAtomic(path, PrivateKeyToPem(key->get()), 0600); !s.ok())
      return s;
    LOG_INFO("ca", "created bootstrap-token signing key ", path);
    return std::make_unique<TokenAuthority>(std::move(*key));
  }
  if (!pem.ok()) return pem.status();
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(*pem, path);
  if (!key.ok()) return key.status();
  return std::make_unique<TokenAuthority>(std::move(*key));
}

absl::StatusOr<std::string> TokenAuthority::Mint(absl::string_view ns,
                                                 absl::string_view service_account,
                                                 absl::Duration ttl, absl::Time now) const {
  return Mint(ns, service_account, "", ttl, now);
}

absl::StatusOr<std::string> TokenAuthority::Mint(absl::string_view ns,
                                                 absl::string_view service_account,
                                                 absl::string_view workload, absl::Duration ttl,
                                                 absl::Time now) const {
  absl::StatusOr<SpiffeId> id = SpiffeId::ForServiceAccount("td", ns, service_account);
  if (!id.ok()) return id.status();
  TokenClaims claims;
  if (!workload.empty()) {
    if (absl::Status s = CheckWorkloadName(workload); !s.ok()) return s;
    claims.workload = std::string(workload);
  }
  claims.issuer = std::string(kTokenIssuer);
  claims.audience = std::string(kTokenAudience);
  claims.ns = std::string(ns);
  claims.service_account = std::string(service_account);
  claims.issued_at = now;
  claims.not_before = now - absl::Seconds(5);
  claims.expires = now + ttl;
  return SignToken(claims, key_.get(), key_id_);
}

absl::StatusOr<std::string> TokenAuthority::BoundWorkload(const TokenClaims& claims) {
  if (claims.workload.empty()) {
    return absl::NotFoundError(
        "the bootstrap token names no workload; mint one for the workload with `remoractl token "
        "create --namespace=NS --service-account=SA --workload=NAME`");
  }
  return claims.workload;
}

absl::StatusOr<TokenClaims> TokenAuthority::Verify(absl::string_view token, absl::Time now) const {
  VerifyOptions options;
  options.now = now;
  return VerifyToken(token, {key_.get()}, options);
}

}  // namespace remora::certs
