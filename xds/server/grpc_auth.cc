#include "xds/server/grpc_auth.h"

#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "certs/pem.h"
#include "certs/svid.h"
#include "certs/workload_binding.h"

namespace remora::xds {

absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "no \"authorization: Bearer <token>\" metadata; the caller must present a token");
  }
  std::string value(it->second.data(), it->second.size());
  constexpr absl::string_view kPrefix = "Bearer ";
  if (!absl::StartsWithIgnoreCase(value, kPrefix)) {
    return absl::UnauthenticatedError("authorization metadata is not \"Bearer <token>\"");
  }
  return value.substr(kPrefix.size());
}

namespace {

// The peer's verified leaf certificate, parsed.
absl::StatusOr<certs::CertChain> PeerCertificate(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::NotFoundError("the peer presented no client certificate");
  }
  std::vector<grpc::string_ref> pem = auth->FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return absl::NotFoundError("the peer presented no client certificate");
  return certs::ParseCertificates(absl::string_view(pem[0].data(), pem[0].size()),
                                  "peer certificate");
}

}  // namespace

absl::StatusOr<std::optional<std::string>> PeerWorkload(const grpc::ServerContextBase& context) {
  absl::StatusOr<certs::CertChain> chain = PeerCertificate(context);
  if (!chain.ok()) return chain.status();
  return certs::WorkloadBinding((*chain)[0].get());
}

absl::StatusOr<certs::SpiffeId> PeerIdentity(const grpc::ServerContextBase& context,
                                             absl::string_view trust_domain) {
  absl::StatusOr<certs::CertChain> chain = PeerCertificate(context);
  if (!chain.ok()) return chain.status();
  // gRPC already verified the chain against the trust bundle; the SVID leaf rules remain.
  absl::StatusOr<certs::SpiffeId> id = certs::CheckSvidLeaf((*chain)[0].get(), trust_domain);
  if (!id.ok()) return absl::PermissionDeniedError(id.status().message());
  return id;
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

bool SecretEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace remora::xds
