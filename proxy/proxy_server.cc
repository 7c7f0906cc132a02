#include "proxy/proxy_server.h"

#include <boost/asio/signal_set.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "filters/policy_yaml.h"
#include "net/endpoint.h"
#include "net/listen.h"
#include "proxy/admin/app_probe.h"
#include "proxy/control/channel.h"
#include "xds/view/resource_types.h"

namespace remora::proxy {

ProxyServer::ProxyServer(ProxyConfig config, ServerOptions options)
    : config_(std::make_shared<const ProxyConfig>(std::move(config))),
      options_(std::move(options)) {
  proxy_stats_.Register(registry_, "proxy_", "");
  for (const ListenerConfig& l : config_->listeners) {
    listener_stats_.push_back(std::make_unique<ListenerStats>());
    listener_stats_.back()->Register(registry_, "listener_",
                                     absl::StrCat("listener=\"", l.name, "\""));
  }
  effective_ = config_;
  snapshot_ =
      std::make_shared<const Snapshot>(config_, nullptr, nullptr, filters::Labels{}, generation_);
}

ProxyServer::~ProxyServer() {
  StopClients();
  for (auto& worker : workers_) worker->Shutdown();
  for (auto& worker : workers_) worker->Join();
}

void ProxyServer::StopClients() {
  stopping_ = true;
  if (xds_ != nullptr) xds_->Stop();
  if (certificates_ != nullptr) certificates_->Stop();
}

void ProxyServer::Publish() {
  std::shared_ptr<const filters::WorkloadPolicy> policy;
  std::string ns = config_->workload.ns;
  if (tls_ != nullptr && tls_->identity().id.Namespace().has_value()) {
    ns = *tls_->identity().id.Namespace();
  }
  if (engine_ != nullptr) policy = engine_->ForWorkload(ns, labels_);
  const bool configured = dynamic_ == nullptr || dynamic_->complete();
  snapshot_ = std::make_shared<const Snapshot>(effective_, tls_, std::move(policy), labels_,
                                               ++generation_, configured);
  for (auto& worker : workers_) worker->Publish(snapshot_);
}

absl::Status ProxyServer::RebuildPolicy(const filters::PolicySet& policies,
                                        const filters::Labels& labels,
                                        const std::string& root_namespace) {
  if (policies.size() == 0) {
    engine_ = nullptr;
    labels_ = labels;
    return absl::OkStatus();
  }
  filters::EngineOptions options;
  if (!root_namespace.empty()) options.root_namespace = root_namespace;
  absl::StatusOr<std::shared_ptr<const filters::PolicyEngine>> engine =
      filters::PolicyEngine::Build(policies, options);
  if (!engine.ok()) return engine.status();
  engine_ = std::move(*engine);
  labels_ = labels;
  return absl::OkStatus();
}

std::vector<remora::v1::ResourceError> ProxyServer::ApplyUpdate(
    const control::ReceivedUpdate& update) {
  control::DynamicConfig before = *dynamic_;
  std::vector<remora::v1::ResourceError> errors = dynamic_->Apply(update);
  absl::Status policy =
      RebuildPolicy(dynamic_->Policies(), dynamic_->Labels(), dynamic_->RootNamespace());
  if (!policy.ok()) {
    // The documents are valid one by one but not together: refuse this update's resources (new
    // policies among them are enforced as allowing nothing) and keep what was accepted before.
    *dynamic_ = std::move(before);
    errors = dynamic_->RefuseAll(update, policy.message());
    if (absl::Status again =
            RebuildPolicy(dynamic_->Policies(), dynamic_->Labels(), dynamic_->RootNamespace());
        !again.ok()) {
      LOG_ERROR("proxy.xds", "cannot rebuild the policy accepted before either (", again.message(),
                "); denying all traffic until a configuration that compiles arrives");
      (void)RebuildPolicy(dynamic_->DenyAll(), dynamic_->Labels(), dynamic_->RootNamespace());
    }
  }
  effective_ = std::make_shared<const ProxyConfig>(dynamic_->Effective(*config_));
  if (std::optional<certs::TrustBundle> bundle = dynamic_->Bundle(); bundle.has_value()) {
    certificates_->SetBundle(std::move(*bundle));
  }
  const std::string type = update.type_url.substr(update.type_url.rfind('.') + 1);
  LOG_INFO("proxy.xds", "applied ", update.resources.size(), " ", type, " resource(s) version ",
           update.version, errors.empty() ? "" : absl::StrCat("; refused ", errors.size()));
  for (const remora::v1::ResourceError& e : errors) {
    LOG_WARN("proxy.xds", "refused ", type, " ", e.name(), " version ", update.version,
             " reason=", Quote(e.reason()));
  }
  const bool was_configured = snapshot_->configured();
  Publish();
  if (!was_configured && snapshot_->configured()) {
    LOG_INFO("proxy.xds", "first complete configuration applied (version ", update.version,
             "); serving");
  }
  return errors;
}

void ProxyServer::OnIdentity(std::shared_ptr<const tls::Identity> identity) {
  if (identity == nullptr) return;
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
  proxy_stats_.identity_expiry_seconds.Set(
      absl::ToUnixSeconds((*contexts)->identity().leaf.not_after));
  const bool first = tls_ == nullptr;
  tls_ = std::move(*contexts);
  Publish();
  if (first && xds_ != nullptr) xds_->Kick();  // xDS waits for a certificate to authenticate with
}

admin::Readiness ProxyServer::Ready() const {
  if (draining_) return {false, "draining: not accepting new connections"};
  if (!started_) return {false, "starting"};
  const auto& tls = snapshot_->tls();
  if (tls == nullptr) return {false, "no workload certificate: mTLS is refused until one loads"};
  if (dynamic_ != nullptr && !snapshot_->configured()) {
    return {false, absl::StrCat("waiting for the first complete configuration from the control "
                                "plane (missing: ",
                                dynamic_->Missing(), "); refusing every connection until then")};
  }
  if (tls->identity().leaf.not_after <= absl::Now()) {
    return {false,
            absl::StrCat("workload certificate ", tls->identity().leaf.serial_hex, " expired at ",
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

absl::Status ProxyServer::StartStatic() {
  if (!config_->policy_files.empty()) {
    filters::PolicySet policies;
    for (const std::string& file : config_->policy_files) {
      absl::StatusOr<std::string> text = ReadFile(file);
      if (!text.ok()) return text.status();
      absl::StatusOr<filters::PolicySet> set = filters::ParsePolicyDocuments(*text, file);
      if (!set.ok()) return set.status();
      policies.Append(std::move(*set));
    }
    filters::Labels labels(config_->workload.labels.begin(), config_->workload.labels.end());
    if (absl::Status s = RebuildPolicy(policies, labels); !s.ok()) return s;
    LOG_INFO("proxy", "enforcing ", policies.size(), " policy document(s) from ",
             config_->policy_files.size(), " file(s)");
  }
  identity_watcher_ = std::make_unique<tls::FileIdentityWatcher>(
      io_, config_->identity, config_->trust_domain,
      [this](std::shared_ptr<const tls::Identity> identity) { OnIdentity(std::move(identity)); },
      proxy_stats_);
  // A missing or bad certificate at startup is not fatal: the proxy serves (refusing mTLS, not
  // ready) and picks the files up as soon as they are valid.
  (void)identity_watcher_->LoadNow();
  identity_watcher_->Start();
  return absl::OkStatus();
}

namespace {

// Runs `fn` on `io`'s thread and waits for its result; gives up (nullopt) when `stopping` is set,
// so a shutdown never deadlocks a caller waiting for the admin thread.
template <typename T>
std::optional<T> RunOn(asio::io_context& io, const std::atomic<bool>& stopping,
                       std::function<T()> fn) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  asio::post(io, [promise, fn = std::move(fn)] { promise->set_value(fn()); });
  while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (stopping) return std::nullopt;
  }
  return future.get();
}

}  // namespace

absl::Status ProxyServer::StartWithControlPlane() {
  const ControlPlaneConfig& cp = *config_->control_plane;
  const WorkloadConfig& w = config_->workload;
  absl::StatusOr<certs::SpiffeId> id =
      certs::SpiffeId::ForServiceAccount(config_->trust_domain, w.ns, w.service_account);
  if (!id.ok()) return id.status();
  dynamic_ = std::make_unique<control::DynamicConfig>(
      absl::StrCat(w.ns, "/", w.name), id->str(), config_->trust_domain,
      static_cast<size_t>(config_->limits.max_policies));
  certificates_ = std::make_unique<control::CertificateClient>(
      cp, config_->trust_domain, id->str(),
      [this](std::shared_ptr<const tls::Identity> identity) {
        asio::post(io_, [this, identity = std::move(identity)]() mutable {
          OnIdentity(std::move(identity));
        });
      },
      proxy_stats_);
  if (absl::Status s = certificates_->Start(); !s.ok()) return s;
  envoy::config::core::v3::Node node;
  node.set_id(absl::StrCat(w.ns, "/", w.name));
  node.set_user_agent_name("remora-proxy");
  std::vector<std::string> types(xds::kAllTypes.begin(), xds::kAllTypes.end());
  xds_ = std::make_unique<control::XdsClient>(
      cp, node, types,
      [this, cp]() -> std::shared_ptr<grpc::Channel> {
        std::shared_ptr<const tls::Identity> identity = certificates_->current();
        if (identity == nullptr) return nullptr;  // xDS needs the mesh certificate
        return control::ControlPlaneChannel(cp, certificates_->RootsPem(), identity.get());
      },
      [this](const control::ReceivedUpdate& update) {
        std::optional<std::vector<remora::v1::ResourceError>> errors =
            RunOn<std::vector<remora::v1::ResourceError>>(
                io_, stopping_, [this, &update] { return ApplyUpdate(update); });
        return errors.value_or(std::vector<remora::v1::ResourceError>{});
      });
  xds_->Start();
  return absl::OkStatus();
}

absl::Status ProxyServer::Start() {
  absl::Status source =
      config_->control_plane.has_value() ? StartWithControlPlane() : StartStatic();
  if (!source.ok()) return source;

  std::vector<ListenerConfig> listeners;
  std::vector<ListenerStats*> stats;
  for (size_t i = 0; i < config_->listeners.size(); ++i) {
    const ListenerConfig& l = config_->listeners[i];
    if (l.optional) {
      absl::StatusOr<tcp::acceptor> probe = net::Listen(io_, l.address, true, 1, l.name);
      if (!probe.ok()) {
        LOG_INFO("proxy", "skipping optional ", l.name, " listener: ", probe.status().message());
        continue;
      }
    }
    listeners.push_back(l);
    stats.push_back(listener_stats_[i].get());
    bound_.push_back(l.address);
  }
  for (int64_t i = 0; i < config_->limits.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(static_cast<int>(i), config_->limits, proxy_stats_,
                                                active_connections_, connection_counts_));
    if (absl::Status s = workers_.back()->Bind(listeners, stats, bound_); !s.ok()) return s;
  }
  active_listeners_ = listeners;

  nlohmann::json ports = nlohmann::json::object();
  struct HttpEndpoint {
    const char* name;
    const std::optional<tcp::endpoint>& address;
    http::Response (*handler)(const http::Request&, admin::AdminView&);
  };
  for (const HttpEndpoint& e :
       {HttpEndpoint{"admin", config_->admin, admin::HandleAdmin},
        HttpEndpoint{"health", config_->health, admin::HandleHealth},
        HttpEndpoint{"prometheus", config_->prometheus, admin::HandlePrometheus}}) {
    if (!e.address.has_value()) continue;
    http::ServerOptions options;
    options.name = absl::StrCat("proxy.", e.name);
    options.body_limit = 4096;
    auto handler = e.handler;
    const bool health = std::string(e.name) == "health";
    auto server = std::make_unique<http::Server>(
        io_,
        [this, handler, health](const http::Request& r) -> awaitable<http::Response> {
          // Rewritten kubelet probes run against the app; everything else answers at once.
          std::string path(r.target().substr(0, r.target().find('?')));
          if (health) {
            auto probe = config_->app_probes.find(path);
            if (probe != config_->app_probes.end()) {
              co_return co_await admin::RunAppProbe(probe->second, r, absl::Seconds(10));
            }
          }
          co_return handler(r, *this);
        },
        options);
    if (absl::Status s = server->Listen(*e.address); !s.ok()) return s;
    server->Start();
    ports[e.name] = net::ToString(server->bound());
    http_servers_.push_back(std::move(server));
  }
  for (size_t i = 0; i < active_listeners_.size(); ++i) {
    ports[active_listeners_[i].name] = net::ToString(bound_[i]);
    LOG_INFO("proxy", active_listeners_[i].name, " listener on ", net::ToString(bound_[i]),
             active_listeners_[i].target
                 ? absl::StrCat(" (target ", net::ToString(*active_listeners_[i].target), ")")
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
           " connection(s) open; waiting up to ",
           absl::FormatDuration(config_->limits.drain_timeout));
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
  StopClients();
  for (auto& worker : workers_) worker->Shutdown();
  for (auto& worker : workers_) worker->Join();
  if (identity_watcher_ != nullptr) identity_watcher_->Stop();
  for (auto& server : http_servers_) server->Stop();
  io_.stop();
}

absl::Status ProxyServer::Run() {
  // Signals are caught before Start() announces the bound ports: a SIGTERM sent as soon as they
  // are known is queued for the handler below, never the default action (exit 143, no drain).
  asio::signal_set signals(io_, SIGTERM, SIGINT);
  if (absl::Status s = Start(); !s.ok()) return s;
  std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int signo) {
    if (ec) return;
    if (draining_) {
      LOG_WARN("proxy", "second signal ", signo, ": exiting now");
      StopClients();
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
