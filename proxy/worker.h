// One worker thread: its own io_context, its own SO_REUSEPORT listening sockets, its own buffer
// pool and session list. Nothing on a worker's data path takes a lock; configuration arrives as
// an immutable Snapshot posted to the worker's thread.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "proxy/connection.h"
#include "proxy/filter/chains.h"

namespace remora::proxy {

class Worker {
 public:
  // `active_connections` counts every connection of the proxy (max_connections, drain);
  // `counts` is shared by its workers too (per-direction and per-source limits).
  Worker(int index, const Limits& limits, ProxyStats& proxy_stats,
         std::atomic<int64_t>& active_connections, ConnectionCounts& counts);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds every listener. `bound[i]` is the address to bind; a port 0 there is resolved by the
  // first worker and written back so the others share the same port.
  absl::Status Bind(const std::vector<ListenerConfig>& listeners,
                    const std::vector<ListenerStats*>& stats, std::vector<tcp::endpoint>& bound);

  // Starts the thread; connections use `snapshot` until Publish replaces it.
  void Start(std::shared_ptr<const Snapshot> snapshot);
  // Thread-safe: the new snapshot applies to connections accepted after it lands.
  void Publish(std::shared_ptr<const Snapshot> snapshot);
  // Thread-safe: closes the listening sockets (drain).
  void StopAccepting();
  // Thread-safe: closes every live connection, then lets the thread finish.
  void Shutdown();
  void Join();

 private:
  awaitable<void> AcceptLoop(ListenerRuntime& listener, tcp::acceptor& acceptor);
  awaitable<void> Sweep(Clock::duration interval);
  void Reauthorize();
  void Spawn(awaitable<void> task, const char* what);

  const int index_;
  const Limits limits_;
  ProxyStats& proxy_stats_;
  std::atomic<int64_t>& active_connections_;
  ConnectionCounts& counts_;
  std::vector<tcp::endpoint> own_endpoints_;  // set by Start, before any connection
  // Outlive io_: sessions still suspended when io_ is destroyed return their buffers here, and
  // connections hold on to the filters that admitted them.
  transport::BufferPool pool_;
  const filter::FilterChains filters_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  SessionList sessions_;
  WorkerResources resources_;
  std::vector<std::unique_ptr<ListenerRuntime>> listeners_;
  std::vector<tcp::acceptor> acceptors_;
  std::shared_ptr<const Snapshot> snapshot_;  // touched only on the worker thread
  asio::steady_timer sweep_timer_;
  bool stopping_ = false;  // worker thread only
  std::thread thread_;
};

}  // namespace remora::proxy
