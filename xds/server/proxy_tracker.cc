#include "xds/server/proxy_tracker.h"

namespace remora::xds {

void ProxyTracker::Connected(const std::string& stream_id, ProxyState state) {
  absl::MutexLock lock(&mu_);
  streams_[stream_id] = std::move(state);
}

void ProxyTracker::Disconnected(const std::string& stream_id) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream_id);
}

void ProxyTracker::Update(const std::string& stream_id,
                          const std::function<void(ProxyState&)>& update) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(stream_id);
  if (it != streams_.end()) update(it->second);
}

void ProxyTracker::RecordPush(PushRecord record) {
  absl::MutexLock lock(&mu_);
  latest_push_ = std::max(latest_push_, record.version);
  pushes_[record.version] = std::move(record);
  // Keep a bounded history: waits are for recent versions.
  while (pushes_.size() > 256) pushes_.erase(pushes_.begin());
}

std::optional<PushRecord> ProxyTracker::PushFor(uint64_t version) const {
  absl::MutexLock lock(&mu_);
  auto it = pushes_.find(version);
  if (it != pushes_.end()) return it->second;
  if (latest_push_ >= version) {
    // Coalesced into a later push (debounce): that push carries this version's changes.
    auto later = pushes_.lower_bound(version);
    if (later != pushes_.end()) return later->second;
  }
  return std::nullopt;
}

std::vector<ProxyState> ProxyTracker::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<ProxyState> out;
  out.reserve(streams_.size());
  for (const auto& [id, state] : streams_) out.push_back(state);
  return out;
}

std::optional<ProxyState> ProxyTracker::Find(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, state] : streams_) {
    if (state.key == key) return state;
  }
  return std::nullopt;
}

}  // namespace remora::xds
