// Who is asking the CA for a certificate: the seam between the CA service and the credential a
// proxy presents. Embedded mode checks the control plane's own bootstrap tokens; Kubernetes mode
// has the API server review the pod's projected ServiceAccount token (xds/kube/).
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "certs/token_authority.h"

namespace remora::xds {

// The identity a credential proves: the CA signs spiffe://<td>/ns/<ns>/sa/<service_account> and
// binds the certificate to `workload` (certs/workload_binding.h), whatever the CSR asks for.
struct CsrCaller {
  std::string ns;
  std::string service_account;
  std::string workload;  // the workload (pod) name; never empty for an accepted caller
  std::string via;       // how it was proven, for the log: "bootstrap token", "TokenReview ..."
};

class CsrAuthenticator {
 public:
  virtual ~CsrAuthenticator() = default;

  using Done = std::function<void(absl::StatusOr<CsrCaller>)>;
  // Authenticates the bearer `token` of one CreateCertificate call. Calls `done` exactly once,
  // on any thread, possibly before returning. A refusal is Unauthenticated (the credential is not
  // valid) or PermissionDenied (valid, but not for a certificate), with a message that says which
  // check failed and what to do.
  virtual void Authenticate(std::string token, Done done) = 0;
};

// Embedded mode: an ES256 bootstrap token from `remoractl token create`, naming its workload.
class BootstrapTokenAuthenticator final : public CsrAuthenticator {
 public:
  explicit BootstrapTokenAuthenticator(const certs::TokenAuthority& tokens) : tokens_(tokens) {}
  void Authenticate(std::string token, Done done) override;

 private:
  const certs::TokenAuthority& tokens_;
};

}  // namespace remora::xds
