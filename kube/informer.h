// An informer keeps a local cache of one resource equal to the API server's, the way client-go's
// reflector does (k8s.io/client-go/tools/cache/reflector.go), and says what changed:
//
//  1. list, in pages (limit/continue) from one consistent snapshot; a continue token that
//     expired mid-list (410) restarts the list; the pages then replace the cache, reporting adds,
//     updates and the deletes of objects that vanished while nobody watched;
//  2. watch from the list's resourceVersion with allowWatchBookmarks and a timeoutSeconds random in
//     [5, 10) minutes; events and bookmarks advance the resourceVersion;
//  3. when the stream ends or breaks, watch again from the last resourceVersion (no re-list);
//     when the server says that version is gone (410 Expired), list again (1);
//  4. on errors wait with exponential backoff and jitter (backoff.h), at least the server's
//     Retry-After.
// Unlike the reflector, a broken watch is resumed from its resourceVersion instead of re-listing:
// the server either replays everything after it or answers 410, so nothing is lost either way.
//
// Threading: the informer runs as a coroutine on its client's executor; on_change is called
// there, after the batch is in the cache. Snapshot(), HasSynced() and stats() work from any
// thread. Start once; Stop() from any thread ends it (in-flight requests are cancelled).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kube/api_client.h"
#include "kube/backoff.h"
#include "kube/clock.h"
#include "kube/object_cache.h"
#include "kube/resource_type.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

// What one batch changed: a list (the first sync, or a re-list after 410) or one watch read.
struct ChangeBatch {
  std::vector<Change> changes;
  bool from_list = false;
  bool initial_sync = false;  // the first list: HasSynced() just became true
  std::string resource_version;
};

// Trims an object before it is cached; false drops it (the cache treats it as absent).
using Transform = std::function<bool(nlohmann::json& object)>;
// The default: drops metadata.managedFields and the kubectl last-applied-configuration
// annotation, which are often most of an object's bytes and of no use to the control plane.
bool TrimObject(nlohmann::json& object);

struct ListPageInfo {
  int index = 0;  // 0 for the first page of a list
  size_t items = 0;
  bool more = false;  // a continue token follows
};

struct InformerOptions {
  ResourceType type;
  std::string namespace_name;  // "" for all namespaces
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;  // client-go's pager default
  Transform transform = TrimObject;
  // Called after each batch that changed the cache, and once at the first sync even if empty.
  // Runs on the informer's executor: keep it short (mark dirty, post work elsewhere).
  std::function<void(const ChangeBatch&)> on_change;
  // Called after each list page arrives, before the next is asked for (logs, tests).
  std::function<void(const ListPageInfo&)> on_list_page;
  // Watches ask for timeoutSeconds in [min_watch_timeout, 2 * min_watch_timeout).
  absl::Duration min_watch_timeout = absl::Minutes(5);
  BackoffPolicy backoff;
  std::shared_ptr<Clock> clock;  // default RealClock()
  RandomSource random;           // default DefaultRandom()
};

struct InformerStats {
  uint64_t lists = 0;          // complete lists applied (the first sync and every re-list)
  uint64_t list_pages = 0;     // pages received
  uint64_t list_restarts = 0;  // lists restarted because a continue token expired
  uint64_t relists = 0;        // re-lists because the watch's resourceVersion expired (410)
  uint64_t watches = 0;        // watch requests started
  uint64_t events = 0;         // ADDED/MODIFIED/DELETED events received
  uint64_t bookmarks = 0;
  uint64_t errors = 0;  // failed lists and watches (each followed by a backoff)
};

class Informer : public std::enable_shared_from_this<Informer> {
 public:
  static std::shared_ptr<Informer> Create(std::shared_ptr<ApiClient> client,
                                          InformerOptions options);
  ~Informer();

  // Starts listing and watching on the client's executor. Call once.
  void Start();
  // Ends the informer: cancels what is in flight; the cache keeps its last contents.
  void Stop();
  // The coroutine has returned after Stop().
  bool Stopped() const { return stopped_.load(); }

  // Any thread.
  bool HasSynced() const { return cache_.synced(); }
  std::shared_ptr<const CacheSnapshot> Snapshot() const { return cache_.Snapshot(); }
  std::string ResourceVersion() const { return cache_.resource_version(); }
  InformerStats stats() const;
  const InformerOptions& options() const { return options_; }

 private:
  Informer(std::shared_ptr<ApiClient> client, InformerOptions options);
  awaitable<void> Run();
  // Lists every page and replaces the cache.
  awaitable<absl::Status> ListAndReplace();
  // One watch from the cache's resourceVersion; counts the events and bookmarks it delivered.
  awaitable<absl::Status> WatchOnce(uint64_t* received);
  // Sleeps the backoff for `error`.
  awaitable<void> Pause(Backoff& backoff, const absl::Status& error, absl::string_view what);
  // Transforms an object from a list or an event; null when the transform drops it (then
  // `dropped_key` is its key) or when it cannot be cached.
  ObjectPtr Prepare(nlohmann::json object, std::string* dropped_key);
  void Notify(ChangeBatch batch);
  bool Stopping() const { return stopping_.load(); }

  const std::shared_ptr<ApiClient> client_;
  const InformerOptions options_;
  const std::string name_;  // "pods" or "networkpolicies.networking.k8s.io in ns x"
  ObjectCache cache_;
  asio::cancellation_signal cancel_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};

  struct Counters {
    std::atomic<uint64_t> lists{0}, list_pages{0}, list_restarts{0}, relists{0}, watches{0},
        events{0}, bookmarks{0}, errors{0};
  };
  Counters counters_;
};

}  // namespace remora::kube
