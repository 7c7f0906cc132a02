// The admin API (loopback, default 15000), the kubelet health port (15021) and the Prometheus
// port (15090) as pure request -> response functions over a view of the running proxy.
#pragma once

#include <memory>
#include <string>

#include "http/http_server.h"
#include "proxy/snapshot.h"

namespace remora::proxy::admin {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not, in words; "ready" when ready
};

// What the admin endpoints may see of the proxy. Called on the admin thread.
class AdminView {
 public:
  virtual ~AdminView() = default;
  virtual Readiness Ready() const = 0;
  virtual std::shared_ptr<const Snapshot> Current() const = 0;
  virtual std::string StatsText(bool prometheus) const = 0;
  // POST /quitquitquit: begin a graceful drain, as SIGTERM does.
  virtual void RequestDrain() = 0;
};

// /ready, /healthz, /certs, /config_dump, /stats, /stats/prometheus, POST /quitquitquit, /help.
http::Response HandleAdmin(const http::Request& request, AdminView& view);
// /healthz/ready only (what the kubelet probes).
http::Response HandleHealth(const http::Request& request, AdminView& view);
// /stats/prometheus (and /metrics).
http::Response HandlePrometheus(const http::Request& request, AdminView& view);

// JSON documents behind /certs and /config_dump; no private key material ever appears.
std::string CertsJson(const Snapshot& snapshot);
std::string ConfigDumpJson(const Snapshot& snapshot);

}  // namespace remora::proxy::admin
