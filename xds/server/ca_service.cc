#include "xds/server/ca_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "xds/server/grpc_auth.h"

namespace remora::xds {

grpc::ServerUnaryReactor* CaService::CreateCertificate(
    grpc::CallbackServerContext* context, const istio::v1::auth::IstioCertificateRequest* request,
    istio::v1::auth::IstioCertificateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  stats_.csr_received.Inc();
  const std::string peer = context->peer();
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> token = BearerToken(*context);
  absl::StatusOr<certs::TokenClaims> claims =
      token.ok() ? tokens_.Verify(*token, now) : absl::StatusOr<certs::TokenClaims>(token.status());
  if (!claims.ok()) {
    stats_.csr_refused_token.Inc();
    LOG_WARN("ca", "refused CreateCertificate peer=", peer, " reason=\"", claims.status().message(),
             "\"");
    reactor->Finish(ToGrpc(claims.status()));
    return reactor;
  }
  // The certificate is bound to the workload the token was minted for, so the xDS server can
  // tell apart workloads that share a service account (certs/workload_binding.h).
  absl::StatusOr<std::string> workload = certs::TokenAuthority::BoundWorkload(*claims);
  if (!workload.ok()) {
    stats_.csr_refused_token.Inc();
    LOG_WARN("ca", "refused CreateCertificate peer=", peer, " token_identity=", claims->ns, "/",
             claims->service_account, " reason=\"", workload.status().message(), "\"");
    reactor->Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                 std::string(workload.status().message())));
    return reactor;
  }
  absl::StatusOr<certs::IssuedCertificate> issued = ca_.Sign(
      request->csr(), absl::Seconds(request->validity_duration()), *claims, now, *workload);
  if (!issued.ok()) {
    stats_.csr_refused_request.Inc();
    LOG_WARN("ca", "refused CreateCertificate peer=", peer, " token_identity=", claims->ns, "/",
             claims->service_account, " reason=\"", issued.status().message(), "\"");
    reactor->Finish(ToGrpc(issued.status()));
    return reactor;
  }
  for (std::string& pem : issued->chain_pem) response->add_cert_chain(std::move(pem));
  stats_.csr_issued.Inc();
  LOG_INFO("ca", "issued ", issued->identity, " workload=", claims->ns, "/", issued->workload,
           " serial=", issued->serial_hex,
           " expires=", absl::FormatTime(absl::RFC3339_sec, issued->not_after, absl::UTCTimeZone()),
           " peer=", peer);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace remora::xds
