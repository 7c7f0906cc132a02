#include "proxy/connection_limits.h"

#include <utility>

#include "proxy/transport/original_dst.h"

namespace remora::proxy {

ConnectionCounts::HandshakeSlot::HandshakeSlot(HandshakeSlot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), source_(other.source_) {}

ConnectionCounts::HandshakeSlot& ConnectionCounts::HandshakeSlot::operator=(
    HandshakeSlot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    source_ = other.source_;
  }
  return *this;
}

void ConnectionCounts::HandshakeSlot::Release() {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->ReleaseHandshake(source_);
}

ConnectionCounts::HandshakeSlot ConnectionCounts::AcquireHandshake(const asio::ip::address& source,
                                                                   int64_t cap) {
  // One key per host, however a dual-stack listener spells an IPv4 peer.
  const asio::ip::address key = transport::Canonical(source);
  absl::MutexLock lock(&mu_);
  int64_t& count = handshakes_[key];
  if (count >= cap) {
    if (count == 0) handshakes_.erase(key);
    return HandshakeSlot();
  }
  ++count;
  return HandshakeSlot(this, key);
}

int64_t ConnectionCounts::handshakes(const asio::ip::address& source) const {
  absl::MutexLock lock(&mu_);
  auto it = handshakes_.find(transport::Canonical(source));
  return it == handshakes_.end() ? 0 : it->second;
}

void ConnectionCounts::ReleaseHandshake(const asio::ip::address& source) {
  absl::MutexLock lock(&mu_);
  auto it = handshakes_.find(source);
  if (it == handshakes_.end()) return;
  if (--it->second <= 0) handshakes_.erase(it);
}

}  // namespace remora::proxy
