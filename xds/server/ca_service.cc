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
  std::string peer = context->peer();
  absl::StatusOr<std::string> token = BearerToken(*context);
  if (!token.ok()) {
    stats_.csr_refused_token.Inc();
    LOG_WARN("ca", "refused CreateCertificate peer=", peer, " reason=\"", token.status().message(),
             "\"");
    reactor->Finish(ToGrpc(token.status()));
    return reactor;
  }
  // The request and response stay valid until Finish, which `done` calls.
  authenticator_.Authenticate(std::move(*token), [this, reactor, request, response,
                                                  peer](absl::StatusOr<CsrCaller> caller) {
    if (!caller.ok()) {
      stats_.csr_refused_token.Inc();
      LOG_WARN("ca", "refused CreateCertificate peer=", peer, " reason=\"",
               caller.status().message(), "\"");
      reactor->Finish(ToGrpc(caller.status()));
      return;
    }
    certs::TokenClaims claims;
    claims.ns = caller->ns;
    claims.service_account = caller->service_account;
    absl::StatusOr<certs::IssuedCertificate> issued =
        ca_.Sign(request->csr(), absl::Seconds(request->validity_duration()), claims, absl::Now(),
                 caller->workload);
    if (!issued.ok()) {
      stats_.csr_refused_request.Inc();
      LOG_WARN("ca", "refused CreateCertificate peer=", peer, " caller=", caller->ns, "/",
               caller->service_account, " workload=", caller->workload, " reason=\"",
               issued.status().message(), "\"");
      reactor->Finish(ToGrpc(issued.status()));
      return;
    }
    for (std::string& pem : issued->chain_pem) response->add_cert_chain(std::move(pem));
    stats_.csr_issued.Inc();
    LOG_INFO("ca", "issued ", issued->identity, " workload=", caller->ns, "/", issued->workload,
             " serial=", issued->serial_hex, " expires=",
             absl::FormatTime(absl::RFC3339_sec, issued->not_after, absl::UTCTimeZone()),
             " via=", caller->via, " peer=", peer);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace remora::xds
