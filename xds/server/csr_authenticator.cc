#include "xds/server/csr_authenticator.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace remora::xds {

void BootstrapTokenAuthenticator::Authenticate(std::string token, Done done) {
  absl::StatusOr<certs::TokenClaims> claims = tokens_.Verify(token, absl::Now());
  if (!claims.ok()) {
    done(claims.status());
    return;
  }
  // The certificate is bound to the workload the token was minted for, so the xDS server can
  // tell apart workloads that share a service account (certs/workload_binding.h).
  absl::StatusOr<std::string> workload = certs::TokenAuthority::BoundWorkload(*claims);
  if (!workload.ok()) {
    done(absl::PermissionDeniedError(absl::StrCat("token for ", claims->ns, "/",
                                                  claims->service_account, ": ",
                                                  workload.status().message())));
    return;
  }
  done(CsrCaller{claims->ns, claims->service_account, *workload, "bootstrap token"});
}

}  // namespace remora::xds
