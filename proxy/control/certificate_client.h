// Keeps the proxy supplied with a workload certificate from the control plane's CA: generates a
// key in memory (it never leaves the process), sends a CSR with the bootstrap token, and renews at
// about half the certificate's lifetime (with jitter so a fleet does not stampede), retrying with
// exponential backoff while the CA is away. The current certificate keeps serving until a new one
// arrives. Also the one place identities are built, so a new trust bundle from xDS re-validates the
// current certificate and reaches the TLS contexts through the same callback.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "certs/trust_bundle.h"
#include "proxy/config/proxy_config.h"
#include "proxy/proxy_stats.h"
#include "proxy/tls/identity.h"

namespace remora::proxy::control {

class CertificateClient {
 public:
  // Called on the client's thread with every new identity (certificate or bundle change).
  using OnIdentity = std::function<void(std::shared_ptr<const tls::Identity>)>;

  CertificateClient(ControlPlaneConfig config, std::string trust_domain, std::string spiffe_id,
                    OnIdentity on_identity, ProxyStats& stats);
  ~CertificateClient();

  // Reads the bootstrap roots (ca_file) and starts requesting. Fails when ca_file is unusable.
  absl::Status Start();
  void Stop();

  // A new trust bundle from the control plane: re-validates the current certificate against it.
  void SetBundle(certs::TrustBundle bundle);

  std::shared_ptr<const tls::Identity> current() const;
  std::string RootsPem() const;

 private:
  void Loop();
  // One CreateCertificate call; on success publishes the identity and returns its expiry.
  absl::StatusOr<absl::Time> RequestOnce();
  void Publish(std::shared_ptr<const tls::Identity> identity) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ControlPlaneConfig config_;
  const std::string trust_domain_;
  const std::string spiffe_id_;
  OnIdentity on_identity_;
  ProxyStats& stats_;
  mutable absl::Mutex mu_;
  std::optional<certs::TrustBundle> bundle_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const tls::Identity> current_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool renew_now_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace remora::proxy::control
