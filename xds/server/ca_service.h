// istio.v1.auth.IstioCertificateService on the control plane: authenticates the caller's bearer
// credential (CsrAuthenticator: a bootstrap token, or a Kubernetes TokenReview), has the CA sign
// the CSR for the identity the credential proves, and logs every decision.
#pragma once

#include "certs/ca.h"
#include "common/stats.h"
#include "istio/v1/auth/ca.grpc.pb.h"
#include "xds/server/csr_authenticator.h"

namespace remora::xds {

#define REMORA_CA_STATS(COUNTER, GAUGE)                                          \
  COUNTER(csr_received, "CreateCertificate calls")                               \
  COUNTER(csr_issued, "Certificates issued")                                     \
  COUNTER(csr_refused_token, "Calls refused: missing, invalid or expired token") \
  COUNTER(csr_refused_request, "Calls refused: bad CSR, weak key or identity mismatch")
REMORA_DECLARE_STATS(CaStats, REMORA_CA_STATS);

class CaService final : public istio::v1::auth::IstioCertificateService::CallbackService {
 public:
  CaService(certs::CertificateAuthority& ca, CsrAuthenticator& authenticator, CaStats& stats)
      : ca_(ca), authenticator_(authenticator), stats_(stats) {}

  // Answers asynchronously when the authenticator does (a TokenReview is a network round trip):
  // no gRPC thread waits on it.
  grpc::ServerUnaryReactor* CreateCertificate(
      grpc::CallbackServerContext* context, const istio::v1::auth::IstioCertificateRequest* request,
      istio::v1::auth::IstioCertificateResponse* response) override;

 private:
  certs::CertificateAuthority& ca_;
  CsrAuthenticator& authenticator_;
  CaStats& stats_;
};

}  // namespace remora::xds
