// What the control plane knows of every connected proxy: identity, per-type versions sent and
// acknowledged, the last NACK and the resources it refused, and which configuration version it
// has fully acknowledged. Feeds `remoractl proxy-status` and `apply --wait`.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "remora/v1/operator.pb.h"

namespace remora::xds {

// One push of a configuration version: the proxies whose view changed, and when.
struct PushRecord {
  uint64_t version = 0;
  absl::Time pushed_at;
  std::vector<std::string> affected;
};

struct ProxyState {
  std::string key;  // "<namespace>/<workload>"
  std::string identity;
  std::string peer;
  absl::Time connected_since;
  struct Type {
    std::string sent_version;
    std::string acked_version;
    std::string last_nack;
    std::vector<remora::v1::ResourceError> rejected;
  };
  std::map<std::string, Type> types;
  uint64_t synced_version = 0;  // every response up to this version answered (ACK or NACK)
  absl::Time synced_at;
  std::string last_nack;  // most recent NACK of any type, for wait reports
  uint64_t nacked_version = 0;
};

class ProxyTracker {
 public:
  void Connected(const std::string& stream_id, ProxyState state);
  void Disconnected(const std::string& stream_id);
  // Applies `update` to the state of a connected stream.
  void Update(const std::string& stream_id, const std::function<void(ProxyState&)>& update);

  void RecordPush(PushRecord record);
  // The push record of `version`, if the pusher has processed it (or a later one).
  std::optional<PushRecord> PushFor(uint64_t version) const;

  std::vector<ProxyState> Snapshot() const;
  // A connected proxy by key ("<namespace>/<workload>").
  std::optional<ProxyState> Find(const std::string& key) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, ProxyState> streams_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, PushRecord> pushes_ ABSL_GUARDED_BY(mu_);
  uint64_t latest_push_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace remora::xds
