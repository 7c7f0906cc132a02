// The remora-proxy process: workers, the identity source, admin endpoints, and graceful drain.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/stats.h"
#include "filters/engine.h"
#include "http/http_server.h"
#include "proxy/admin/admin_handler.h"
#include "proxy/config/proxy_config.h"
#include "proxy/control/certificate_client.h"
#include "proxy/control/dynamic_config.h"
#include "proxy/control/xds_client.h"
#include "proxy/tls/file_identity_watcher.h"
#include "proxy/worker.h"

namespace remora::proxy {

struct ServerOptions {
  // When set, the bound addresses of every listener are written here as JSON once all are
  // listening (lets tests and scripts use port 0).
  std::string bound_ports_file;
};

class ProxyServer final : public admin::AdminView {
 public:
  ProxyServer(ProxyConfig config, ServerOptions options);
  ~ProxyServer() override;

  // Binds everything, serves until SIGTERM/SIGINT or POST /quitquitquit, drains, and returns.
  // Errors are about startup (a port in use, a bad TLS setting); they name what failed.
  absl::Status Run();

  // AdminView
  admin::Readiness Ready() const override;
  std::shared_ptr<const Snapshot> Current() const override { return snapshot_; }
  std::string StatsText(bool prometheus) const override;
  void RequestDrain() override;

 private:
  absl::Status Start();
  absl::Status StartStatic();
  absl::Status StartWithControlPlane();
  void StopClients();
  void OnIdentity(std::shared_ptr<const tls::Identity> identity);
  // Rebuilds the snapshot from the current TLS contexts, effective configuration and policy, and
  // hands it to every worker.
  void Publish();
  // Applies an xDS update on the admin thread; returns the refused resources.
  std::vector<remora::v1::ResourceError> ApplyUpdate(const control::ReceivedUpdate& update);
  // `root_namespace` empty: the engine's default (static configurations only; with a control plane
  // the root namespace is the control plane's).
  absl::Status RebuildPolicy(const filters::PolicySet& policies, const filters::Labels& labels,
                             const std::string& root_namespace = "");
  awaitable<void> Drain();

  std::shared_ptr<const ProxyConfig> config_;
  ServerOptions options_;
  asio::io_context io_{1};  // admin, identity, signals: everything but the data path
  ProxyStats proxy_stats_;
  std::vector<std::unique_ptr<ListenerStats>> listener_stats_;
  StatsRegistry registry_;
  std::atomic<int64_t> active_connections_{0};
  ConnectionCounts connection_counts_;  // shared by the workers: per-direction, per-source limits
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<tcp::endpoint> bound_;
  std::vector<ListenerConfig> active_listeners_;  // what was bound, parallel to bound_
  std::unique_ptr<tls::FileIdentityWatcher> identity_watcher_;
  std::vector<std::unique_ptr<http::Server>> http_servers_;
  std::shared_ptr<const Snapshot> snapshot_;             // io_ thread only
  std::shared_ptr<const tls::TlsContexts> tls_;          // io_ thread only
  std::shared_ptr<const ProxyConfig> effective_;         // io_ thread only
  std::shared_ptr<const filters::PolicyEngine> engine_;  // io_ thread only
  filters::Labels labels_;                               // io_ thread only
  std::unique_ptr<control::DynamicConfig> dynamic_;      // io_ thread only
  std::unique_ptr<control::CertificateClient> certificates_;
  std::unique_ptr<control::XdsClient> xds_;
  std::atomic<bool> stopping_{false};
  uint64_t generation_ = 0;
  bool draining_ = false;
  bool started_ = false;
};

}  // namespace remora::proxy
