#include "proxy/proxy_server.h"

#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "net/endpoint.h"

namespace remora::proxy {

ProxyServer::ProxyServer(ProxyConfig config, ServerOptions options)
    : config_(std::make_shared<const ProxyConfig>(std::move(config))), options_(std::move(options)) {
  proxy_stats_.Register(registry_, "proxy_", "");
  for (const ListenerConfig& l : config_->listeners) {
    listener_stats_.push_back(std::make_unique<ListenerStats>());
    listener_stats_.back()->Register(registry_, "listener_", absl::StrCat("listener=\"", l.name, "\""));
  }
  snapshot_ = std::make_shared<const Snapshot>(config_, nullptr, generation_);
}

ProxyServer::~ProxyServer() {
  for (auto& worker : workers_) worker->Shutdown();
  for (auto& worker : workers_) worker->Join();
}

void ProxyServer::Publish(std::shared_ptr<const tls::TlsContexts> tls) {
  snapshot_ = std::make_shared<const Snapshot>(config_, std::move(tls), ++generation_);
  for (auto& worker : workers_) worker->Publish(snapshot_);
}

void ProxyServer::OnIdentity(std::shared_ptr<const tls::Identity> identity) {
  tls::TlsOptions options;
  options.trust_domain = config_->trust_domain;
  absl::StatusOr<std::shared_ptr<const tls::TlsContexts>> contexts =
      tls::TlsContexts::Build(std::move(identity), options);
  if (!contexts.ok()) {
    proxy_stats_.identity_update_failures.Inc();
    LOG_ERROR("proxy.identity", "cannot build TLS contexts, keeping the previous identity: ",
              contexts.status().message());
    return;
  }
  proxy_stats_.identity_expiry_seconds.Set(absl::ToUnixSeconds((*contexts)->identity().leaf.not_after));
  Publish(std::move(*contexts));
}

admin::Readiness ProxyServer::Ready() const {
  if (draining_) return {false, "draining: not accepting new connections"};
  if (!started_) return {false, "starting"};
  const auto& tls = snapshot_->tls();
  if (tls == nullptr) return {false, "no workload certificate: mTLS is refused until one loads"};
  if (tls->identity().leaf.not_after <= absl::Now()) {
    return {false, absl::StrCat("workload certificate ", tls->identity().leaf.serial_hex,
                                " expired at ",
                                absl::FormatTime(absl::RFC3339_sec, tls->identity().leaf.not_after,
                                                 absl::UTCTimeZone()),
                                "; mTLS is refused until a new one loads")};
  }
  return {true, "ready"};
}

std::string ProxyServer::StatsText(bool prometheus) const {
  return prometheus ? registry_.RenderPrometheus() : registry_.RenderText();
}

void ProxyServer::RequestDrain() {
  if (draining_) return;
  draining_ = true;
  asio::co_spawn(io_, Drain(), asio::detached);
}

absl::Status ProxyServer::Start() {
  identity_watcher_ = std::make_unique<tls::FileIdentityWatcher>(
      io_, config_->identity, config_->trust_domain,
      [this](std::shared_ptr<const tls::Identity> identity) { OnIdentity(std::move(identity)); },
      proxy_stats_);
  // A missing or bad certificate at startup is not fatal: the proxy serves (refusing mTLS, not
  // ready) and picks the files up as soon as they are valid.
  (void)identity_watcher_->LoadNow();
  identity_watcher_->Start();

  for (const ListenerConfig& l : config_->listeners) bound_.push_back(l.address);
  std::vector<ListenerStats*> stats;
  for (auto& s : listener_stats_) stats.push_back(s.get());
  for (int64_t i = 0; i < config_->limits.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(static_cast<int>(i), config_->limits, proxy_stats_,
                                                active_connections_));
    if (absl::Status s = workers_.back()->Bind(config_->listeners, stats, bound_); !s.ok()) return s;
  }

  nlohmann::json ports = nlohmann::json::object();
  struct HttpEndpoint {
    const char* name;
    const std::optional<tcp::endpoint>& address;
    http::Response (*handler)(const http::Request&, admin::AdminView&);
  };
  for (const HttpEndpoint& e : {HttpEndpoint{"admin", config_->admin, admin::HandleAdmin},
                                HttpEndpoint{"health", config_->health, admin::HandleHealth},
                                HttpEndpoint{"prometheus", config_->prometheus,
                                             admin::HandlePrometheus}}) {
    if (!e.address.has_value()) continue;
    http::ServerOptions options;
    options.name = absl::StrCat("proxy.", e.name);
    options.body_limit = 4096;
    auto handler = e.handler;
    auto server = std::make_unique<http::Server>(
        io_, [this, handler](const http::Request& r) { return handler(r, *this); }, options);
    if (absl::Status s = server->Listen(*e.address); !s.ok()) return s;
    server->Start();
    ports[e.name] = net::ToString(server->bound());
    http_servers_.push_back(std::move(server));
  }
  for (size_t i = 0; i < config_->listeners.size(); ++i) {
    ports[config_->listeners[i].name] = net::ToString(bound_[i]);
    LOG_INFO("proxy", config_->listeners[i].name, " listener on ", net::ToString(bound_[i]),
             config_->listeners[i].target
                 ? absl::StrCat(" (target ", net::ToString(*config_->listeners[i].target), ")")
                 : std::string(" (original destination from SO_ORIGINAL_DST)"));
  }
  for (auto& worker : workers_) worker->Start(snapshot_);
  started_ = true;
  if (!options_.bound_ports_file.empty()) {
    if (absl::Status s = WriteFileAtomic(options_.bound_ports_file, ports.dump() + "\n", 0644);
        !s.ok()) {
      return s;
    }
  }
  LOG_INFO("proxy", "serving with ", workers_.size(), " worker(s); ", Ready().reason);
  return absl::OkStatus();
}

awaitable<void> ProxyServer::Drain() {
  proxy_stats_.draining.Set(1);
  for (auto& worker : workers_) worker->StopAccepting();
  const absl::Time deadline = absl::Now() + config_->limits.drain_timeout;
  LOG_INFO("proxy", "draining: stopped accepting; ", active_connections_.load(),
           " connection(s) open; waiting up to ", absl::FormatDuration(config_->limits.drain_timeout));
  asio::steady_timer timer(io_);
  absl::Time last_report = absl::Now();
  while (active_connections_.load() > 0 && absl::Now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(kUseTuple);
    if (absl::Now() - last_report >= absl::Seconds(1)) {
      LOG_INFO("proxy", "draining: ", active_connections_.load(), " connection(s) still open");
      last_report = absl::Now();
    }
  }
  const int64_t left = active_connections_.load();
  if (left > 0) {
    LOG_WARN("proxy", "drain timeout reached; closing ", left, " connection(s)");
  } else {
    LOG_INFO("proxy", "drained: all connections finished");
  }
  for (auto& worker : workers_) worker->Shutdown();
  for (auto& worker : workers_) worker->Join();
  identity_watcher_->Stop();
  for (auto& server : http_servers_) server->Stop();
  io_.stop();
}

absl::Status ProxyServer::Run() {
  if (absl::Status s = Start(); !s.ok()) return s;
  asio::signal_set signals(io_, SIGTERM, SIGINT);
  std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int signo) {
    if (ec) return;
    if (draining_) {
      LOG_WARN("proxy", "second signal ", signo, ": exiting now");
      for (auto& worker : workers_) worker->Shutdown();
      for (auto& worker : workers_) worker->Join();
      io_.stop();
      return;
    }
    LOG_INFO("proxy", "signal ", signo, ": starting graceful drain");
    RequestDrain();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  io_.run();
  LOG_INFO("proxy", "exited cleanly");
  return absl::OkStatus();
}

}  // namespace remora::proxy
