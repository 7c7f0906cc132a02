// The control plane's own TLS identity on its gRPC port: a key it generates, a certificate from
// its own CA (spiffe://<td>/ns/<namespace>/sa/remora-control plus DNS names), and the trust bundle,
// written as files that gRPC's file-watching certificate provider reloads. Renewed at half its
// lifetime and whenever the CA's signing root or bundle changes.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "certs/ca.h"

namespace remora::xds {

struct ServingIdentityOptions {
  std::string dir;  // <state>/serving
  std::string spiffe_id;
  std::vector<std::string> dns_names;
  absl::Duration lifetime = absl::Hours(24);
};

class ServingIdentity {
 public:
  ServingIdentity(certs::CertificateAuthority& ca, ServingIdentityOptions options)
      : ca_(ca), options_(std::move(options)) {}

  // Issues and writes the files when missing, due for renewal, or stale against the CA.
  absl::Status Refresh(absl::Time now);
  // When the next Refresh must run to renew the certificate at half of its lifetime.
  absl::Time renew_at() const { return renew_at_; }

  std::string cert_file() const { return options_.dir + "/cert.pem"; }
  std::string key_file() const { return options_.dir + "/key.pem"; }
  std::string bundle_file() const { return options_.dir + "/bundle.pem"; }

 private:
  certs::CertificateAuthority& ca_;
  ServingIdentityOptions options_;
  absl::Time renew_at_ = absl::InfinitePast();
  std::string signing_root_;
  std::string bundle_;
};

}  // namespace remora::xds
