#include "proxy/worker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "net/listen.h"
#include "proxy/filter/connection_context.h"
#include "proxy/filter/network_filter.h"
#include "proxy/inbound/inbound_connection.h"
#include "proxy/outbound/outbound_connection.h"

namespace remora::proxy {

Worker::Worker(int index, const Limits& limits, ProxyStats& proxy_stats,
               std::atomic<int64_t>& active_connections, ConnectionCounts& counts)
    : index_(index),
      limits_(limits),
      proxy_stats_(proxy_stats),
      active_connections_(active_connections),
      counts_(counts),
      pool_(static_cast<size_t>(limits.buffer_size), 256),
      work_(asio::make_work_guard(io_)),
      resources_{io_,        pool_,    sessions_,       proxy_stats_, 0,
                 &snapshot_, &counts_, &own_endpoints_, {},           &filters_},
      sweep_timer_(io_) {}

Worker::~Worker() {
  if (thread_.joinable()) {
    Shutdown();
    Join();
  }
}

absl::Status Worker::Bind(const std::vector<ListenerConfig>& listeners,
                          const std::vector<ListenerStats*>& stats,
                          std::vector<tcp::endpoint>& bound) {
  for (size_t i = 0; i < listeners.size(); ++i) {
    const ListenerConfig& config = listeners[i];
    absl::StatusOr<tcp::acceptor> acceptor =
        net::Listen(io_, bound[i], /*reuse_port=*/true, static_cast<int>(limits_.listen_backlog),
                    absl::StrCat(config.name, " listener ", net::ToString(bound[i])));
    if (!acceptor.ok()) return acceptor.status();
    error_code ec;
    bound[i] = acceptor->local_endpoint(ec);
    listeners_.push_back(
        std::make_unique<ListenerRuntime>(ListenerRuntime{config, bound[i], stats[i]}));
    acceptors_.push_back(std::move(*acceptor));
  }
  return absl::OkStatus();
}

void Worker::Spawn(awaitable<void> task, const char* what) {
  asio::co_spawn(io_, std::move(task), [what, index = index_](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      LOG_ERROR("proxy.worker", "worker ", index, ": ", what, " failed: ", ex.what());
    }
  });
}

void Worker::Start(std::shared_ptr<const Snapshot> snapshot) {
  snapshot_ = std::move(snapshot);
  for (const std::unique_ptr<ListenerRuntime>& listener : listeners_) {
    own_endpoints_.push_back(listener->bound);
  }
  const ProxyConfig& config = snapshot_->config();
  for (const std::optional<tcp::endpoint>& e : {config.admin, config.health, config.prometheus}) {
    if (e.has_value()) own_endpoints_.push_back(*e);
  }
  for (size_t i = 0; i < listeners_.size(); ++i) {
    Spawn(AcceptLoop(*listeners_[i], acceptors_[i]), "accept loop");
  }
  // Timeouts are enforced by a sweep; its period bounds how late one can fire.
  Clock::duration shortest =
      std::min({ToChrono(limits_.connect_timeout), ToChrono(limits_.handshake_timeout),
                ToChrono(limits_.idle_timeout)});
  Clock::duration interval = std::clamp<Clock::duration>(
      shortest / 10, std::chrono::milliseconds(5), std::chrono::seconds(1));
  Spawn(Sweep(interval), "timeout sweep");
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::Publish(std::shared_ptr<const Snapshot> snapshot) {
  asio::post(io_, [this, snapshot = std::move(snapshot)]() mutable {
    // A new policy, or new per-port settings (a PERMISSIVE port turned STRICT).
    const bool changed = snapshot_ == nullptr || snapshot_->policy() != snapshot->policy() ||
                         snapshot_->config_ptr() != snapshot->config_ptr();
    snapshot_ = std::move(snapshot);
    if (changed) Reauthorize();
  });
}

void Worker::Reauthorize() {
  // Policies are live: a connection admitted under the old configuration is checked against the
  // new one by the network filters that admitted it, and closed if they would no longer admit it.
  for (Session& session : sessions_) {
    if (session.admitted == nullptr) continue;
    filter::ConnectionContext& connection = *session.admitted;
    filter::FilterResult result = filter::RunOnConfigChange(connection, *snapshot_);
    if (result.proceeds()) continue;
    connection.stats.authz_denied.Inc();
    LOG_WARN(connection.component, "closing connection ", connection.Who(),
             " reason=", Quote(result.why().message()));
    session.admitted = nullptr;
    session.Abort();
  }
}

void Worker::StopAccepting() {
  asio::post(io_, [this] {
    for (tcp::acceptor& acceptor : acceptors_) {
      error_code ignored;
      acceptor.close(ignored);
    }
  });
}

void Worker::Shutdown() {
  asio::post(io_, [this] {
    stopping_ = true;
    for (tcp::acceptor& acceptor : acceptors_) {
      error_code ignored;
      acceptor.close(ignored);
    }
    for (Session& session : sessions_) session.Abort();
    sweep_timer_.cancel();
    work_.reset();
  });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

awaitable<void> Worker::AcceptLoop(ListenerRuntime& listener, tcp::acceptor& acceptor) {
  const std::string component = absl::StrCat("proxy.", listener.config.name);
  Clock::time_point last_overload_log{};
  int64_t overload_since_log = 0;
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // Typically EMFILE/ENFILE: back off briefly rather than spin, and say so.
      LOG_ERROR(component, "accept failed: ", ec.message(), "; retrying in 100ms");
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    listener.stats->downstream_cx.Inc();
    // Beyond a limit the socket closes here, counted, and logged once a second at most: an
    // overload must not also flood the log.
    const auto refuse = [&](Counter& counter, absl::string_view limit, int64_t value) {
      counter.Inc();
      listener.stats->downstream_cx_refused.Inc();
      ++overload_since_log;
      if (Clock::now() - last_overload_log > std::chrono::seconds(1)) {
        LOG_WARN(component, "refused ", overload_since_log, " connection(s): ", limit, "=", value,
                 " reached (raise limits.", limit, " or add capacity)");
        last_overload_log = Clock::now();
        overload_since_log = 0;
      }
    };
    if (active_connections_.load(std::memory_order_relaxed) >= limits_.max_connections) {
      refuse(listener.stats->overload_refused, "max_connections", limits_.max_connections);
      continue;
    }
    // Each direction has its own limit, so connections from the network cannot take the slots
    // the app's own outbound calls need.
    const bool inbound = listener.config.inbound;
    std::atomic<int64_t>& direction_active = counts_.active(inbound);
    const int64_t direction_limit = DirectionLimit(limits_, inbound);
    if (direction_active.load(std::memory_order_relaxed) >= direction_limit) {
      refuse(listener.stats->direction_overload_refused,
             inbound ? "max_inbound_connections" : "max_outbound_connections", direction_limit);
      continue;
    }
    direction_active.fetch_add(1, std::memory_order_relaxed);
    active_connections_.fetch_add(1, std::memory_order_relaxed);
    proxy_stats_.cx_active.Add();
    listener.stats->downstream_cx_active.Add();
    auto task = listener.config.inbound
                    ? inbound::ServeInbound(std::move(socket), snapshot_, listener, resources_)
                    : outbound::ServeOutbound(std::move(socket), snapshot_, listener, resources_);
    asio::co_spawn(io_, std::move(task),
                   [this, &listener, &direction_active, component](std::exception_ptr e) {
                     direction_active.fetch_sub(1, std::memory_order_relaxed);
                     active_connections_.fetch_sub(1, std::memory_order_relaxed);
                     proxy_stats_.cx_active.Sub();
                     listener.stats->downstream_cx_active.Sub();
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       LOG_ERROR(component, "connection handler failed: ", ex.what());
                     }
                   });
  }
}

awaitable<void> Worker::Sweep(Clock::duration interval) {
  while (!stopping_) {
    sweep_timer_.expires_after(interval);
    auto [ec] = co_await sweep_timer_.async_wait(kUseTuple);
    if (ec || stopping_) break;
    const Clock::time_point now = Clock::now();
    for (Session& session : sessions_) {
      if (!session.timed_out() && session.Expired(now)) {
        LOG_DEBUG("proxy.worker", "closing connection: ", ToString(session.phase()),
                  session.phase() == Session::Phase::kEstablished ? " timeout" : " timed out");
        session.MarkTimedOut();
        session.Abort();
      }
    }
  }
}

}  // namespace remora::proxy
