// What inbound and outbound connections share: the worker's resources, connecting upstream under
// a deadline, relaying both directions, and the one-line refusal log.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/proxy_config.h"
#include "proxy/connection_limits.h"
#include "proxy/proxy_stats.h"
#include "proxy/session.h"
#include "proxy/snapshot.h"
#include "proxy/transport/buffer_pool.h"
#include "proxy/transport/stream.h"

namespace remora::proxy {

namespace filter {
class FilterChains;
}  // namespace filter

// One listener as a worker runs it.
struct ListenerRuntime {
  ListenerConfig config;
  tcp::endpoint bound;  // the address actually bound (port 0 resolved)
  ListenerStats* stats;
};

// A refusal that can come in floods: logged at most once a second, with how many it stands for.
struct FloodLog {
  Clock::time_point last{};
  int64_t folded = 0;
  // Counts one refusal; true (and the count so far in `*count`) when a line is due now.
  bool Due(int64_t* count) {
    ++folded;
    if (Clock::now() - last <= std::chrono::seconds(1)) return false;
    last = Clock::now();
    *count = std::exchange(folded, 0);
    return true;
  }
};

// A worker's resources, used by the connections it serves, all on the worker's thread.
struct WorkerResources {
  asio::io_context& io;
  transport::BufferPool& pool;
  SessionList& sessions;
  ProxyStats& proxy_stats;
  uint64_t round_robin = 0;  // endpoint choice for virtual addresses
  // The worker's newest snapshot: long-lived HTTP connections authorize each request with it.
  const std::shared_ptr<const Snapshot>* latest = nullptr;
  // Shared by every worker of the proxy: per-direction and per-source counts (limits).
  ConnectionCounts* counts = nullptr;
  // Every endpoint the proxy itself serves (its listeners, admin, health, metrics): an inbound
  // original destination among them would make the proxy dial itself.
  const std::vector<tcp::endpoint>* own_endpoints = nullptr;
  FloodLog source_overload_log;
  // The worker's filter chains; they outlive every connection it serves.
  const filter::FilterChains* filters = nullptr;
};

// Connects to `to` from `source` (unset: the kernel chooses) within `timeout`: a kConnect phase of
// `session` that closes the new socket, and `also` (a downstream waiting for it), when it expires.
// Unavailable, naming the address, on failure ("connect to 10.0.0.2:80: timed out").
awaitable<absl::StatusOr<tcp::socket>> ConnectUpstream(
    asio::io_context& io, const tcp::endpoint& to, const std::optional<asio::ip::address>& source,
    Session& session, Clock::duration timeout, Session::Closable also = {});

// Relays both directions until both have ended, in an established phase of `session` that
// closes both streams after `idle_timeout` without traffic; half-close passes through. OK on a
// clean end; otherwise what failed (Unavailable: "read from upstream: ...", DeadlineExceeded:
// "idle timeout").
awaitable<absl::Status> Relay(transport::Stream& downstream, transport::Stream& upstream,
                              Session& session, Clock::duration idle_timeout, ListenerStats& stats,
                              transport::BufferPool& pool);

// Logs a refused connection on one line: listener, who, where, which identity, and why.
void LogRefusal(const ListenerRuntime& listener, const tcp::endpoint& peer,
                const std::string& destination, const std::string& identity,
                const std::string& reason);

std::string Quote(absl::string_view text);

}  // namespace remora::proxy
