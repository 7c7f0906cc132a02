// The connection counts every worker of one proxy shares, so its limits hold across workers:
// open connections per direction (limits.max_inbound_connections / max_outbound_connections) and
// inbound connections per source address still in protocol detection or TLS handshake
// (limits.max_handshakes_per_source). The overall count (max_connections) stays with ProxyServer,
// which also drains by it.
//
// The per-direction counts are atomics read on every accept. The per-source table takes a mutex,
// once when a connection is accepted and once when it leaves its handshake; never per byte.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "net/asio.h"

namespace remora::proxy {

class ConnectionCounts {
 public:
  ConnectionCounts() = default;
  ConnectionCounts(const ConnectionCounts&) = delete;
  ConnectionCounts& operator=(const ConnectionCounts&) = delete;

  std::atomic<int64_t>& active(bool inbound) { return inbound ? inbound_ : outbound_; }

  // One source's place in the handshake table; gives it back when released or destroyed.
  class HandshakeSlot {
   public:
    HandshakeSlot() = default;
    HandshakeSlot(HandshakeSlot&& other) noexcept;
    HandshakeSlot& operator=(HandshakeSlot&& other) noexcept;
    ~HandshakeSlot() { Release(); }
    explicit operator bool() const { return owner_ != nullptr; }
    void Release();

   private:
    friend class ConnectionCounts;
    HandshakeSlot(ConnectionCounts* owner, asio::ip::address source)
        : owner_(owner), source_(std::move(source)) {}
    ConnectionCounts* owner_ = nullptr;
    asio::ip::address source_;
  };

  // A slot for one more connection from `source` in its handshake; an empty slot when `source`
  // already holds `cap` of them.
  HandshakeSlot AcquireHandshake(const asio::ip::address& source, int64_t cap);

  // How many connections from `source` are in their handshake now (tests, debugging).
  int64_t handshakes(const asio::ip::address& source) const;

 private:
  void ReleaseHandshake(const asio::ip::address& source);

  std::atomic<int64_t> inbound_{0};
  std::atomic<int64_t> outbound_{0};
  mutable absl::Mutex mu_;
  std::map<asio::ip::address, int64_t> handshakes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace remora::proxy
