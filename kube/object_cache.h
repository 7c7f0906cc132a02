// The local copy of one resource that an informer keeps and the control plane reads: objects keyed
// by "namespace/name" ("name" when cluster-scoped, client-go's MetaNamespaceKeyFunc), each with its
// uid so a delete-and-recreate under the same name is seen as one.
//
// Writes come from the informer's thread in batches (a watch read, or a whole list); each batch
// is applied under one lock and reported as the list of changes it made. Readers on any thread
// take an immutable snapshot (shared_ptr<const CacheSnapshot>): built on the first read after a
// change and then shared by every reader until the next change, so a burst of events costs one
// copy of the index per read, not per event, and a reader never sees half a batch.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

struct CachedObject {
  std::string namespace_name;  // "" when cluster-scoped
  std::string name;
  std::string uid;
  std::string resource_version;
  nlohmann::json object;  // the object after the informer's transform

  std::string Key() const;
};
using ObjectPtr = std::shared_ptr<const CachedObject>;

// "ns/name", or "name" for a cluster-scoped object.
std::string ObjectKey(absl::string_view ns, absl::string_view name);

// Reads the metadata of `object` (an API object): InvalidArgument if metadata.name is missing.
absl::StatusOr<ObjectPtr> MakeCachedObject(nlohmann::json object);

struct Change {
  enum class Type { kAdded, kUpdated, kDeleted };
  Type type = Type::kAdded;
  ObjectPtr object;    // the new state; for kDeleted the object's last state
  ObjectPtr previous;  // the cached state before (kUpdated, kDeleted)
};

class CacheSnapshot {
 public:
  using Map = std::map<std::string, ObjectPtr>;
  CacheSnapshot(Map items, std::string resource_version, bool synced, uint64_t generation)
      : items_(std::move(items)),
        resource_version_(std::move(resource_version)),
        synced_(synced),
        generation_(generation) {}

  const Map& items() const { return items_; }
  size_t size() const { return items_.size(); }
  // The object, or null.
  ObjectPtr Get(absl::string_view ns, absl::string_view name) const;
  // The resourceVersion the cache reflects (the last list, event or bookmark).
  const std::string& resource_version() const { return resource_version_; }
  // Whether the first full list has been applied.
  bool synced() const { return synced_; }
  // Counts applied batches that changed something: equal generations hold equal contents.
  uint64_t generation() const { return generation_; }

 private:
  Map items_;
  std::string resource_version_;
  bool synced_;
  uint64_t generation_;
};

class ObjectCache {
 public:
  struct Mutation {
    enum class Type { kUpsert, kRemove };
    Type type = Type::kUpsert;
    ObjectPtr object;  // kRemove: the final state the event carried (its key and uid matter)
  };

  // Applies watch events in order; returns what changed. An upsert that repeats the cached
  // uid and resourceVersion changes nothing; one with another uid is a delete then an add; a
  // removal of an absent key, or of another uid than the cached one, changes nothing.
  std::vector<Change> Apply(const std::vector<Mutation>& mutations, std::string resource_version);
  // Replaces the contents with a full list, reporting the adds, updates and deletes that turn the
  // old contents into it; marks the cache synced.
  std::vector<Change> Replace(std::vector<ObjectPtr> items, std::string resource_version);
  // Advances the resourceVersion alone (a bookmark).
  void SetResourceVersion(std::string resource_version);

  // Any thread.
  std::shared_ptr<const CacheSnapshot> Snapshot() const;
  bool synced() const;
  std::string resource_version() const;

 private:
  void Upsert(const ObjectPtr& object, std::vector<Change>* changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(const ObjectPtr& object, std::vector<Change>* changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  CacheSnapshot::Map items_ ABSL_GUARDED_BY(mu_);
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Null when a change happened since the last snapshot was built.
  mutable std::shared_ptr<const CacheSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace remora::kube
