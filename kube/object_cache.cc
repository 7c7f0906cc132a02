#include "kube/object_cache.h"

#include "absl/strings/str_cat.h"

namespace remora::kube {
namespace {

std::string MetaString(const nlohmann::json& meta, const char* key) {
  auto it = meta.find(key);
  return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Two states are different incarnations when both uids are known and differ.
bool Reincarnated(const CachedObject& a, const CachedObject& b) {
  return !a.uid.empty() && !b.uid.empty() && a.uid != b.uid;
}

}  // namespace

std::string ObjectKey(absl::string_view ns, absl::string_view name) {
  return ns.empty() ? std::string(name) : absl::StrCat(ns, "/", name);
}

std::string CachedObject::Key() const { return ObjectKey(namespace_name, name); }

absl::StatusOr<ObjectPtr> MakeCachedObject(nlohmann::json object) {
  auto meta = object.find("metadata");
  if (!object.is_object() || meta == object.end() || !meta->is_object()) {
    return absl::InvalidArgumentError("object has no metadata");
  }
  auto cached = std::make_shared<CachedObject>();
  cached->name = MetaString(*meta, "name");
  if (cached->name.empty()) return absl::InvalidArgumentError("object has no metadata.name");
  cached->namespace_name = MetaString(*meta, "namespace");
  cached->uid = MetaString(*meta, "uid");
  cached->resource_version = MetaString(*meta, "resourceVersion");
  cached->object = std::move(object);
  return ObjectPtr(std::move(cached));
}

ObjectPtr CacheSnapshot::Get(absl::string_view ns, absl::string_view name) const {
  auto it = items_.find(ObjectKey(ns, name));
  return it == items_.end() ? nullptr : it->second;
}

void ObjectCache::Upsert(const ObjectPtr& object, std::vector<Change>* changes) {
  auto [it, inserted] = items_.try_emplace(object->Key(), object);
  if (inserted) {
    changes->push_back({Change::Type::kAdded, object, nullptr});
    return;
  }
  ObjectPtr previous = it->second;
  if (Reincarnated(*previous, *object)) {
    changes->push_back({Change::Type::kDeleted, previous, previous});
    changes->push_back({Change::Type::kAdded, object, nullptr});
  } else if (previous->resource_version == object->resource_version) {
    return;  // the same state again (a replayed event)
  } else {
    changes->push_back({Change::Type::kUpdated, object, previous});
  }
  it->second = object;
}

void ObjectCache::Remove(const ObjectPtr& object, std::vector<Change>* changes) {
  auto it = items_.find(object->Key());
  if (it == items_.end() || Reincarnated(*it->second, *object)) return;
  changes->push_back({Change::Type::kDeleted, object, it->second});
  items_.erase(it);
}

std::vector<Change> ObjectCache::Apply(const std::vector<Mutation>& mutations,
                                       std::string resource_version) {
  std::vector<Change> changes;
  absl::MutexLock lock(&mu_);
  for (const Mutation& m : mutations) {
    if (m.type == Mutation::Type::kUpsert) {
      Upsert(m.object, &changes);
    } else {
      Remove(m.object, &changes);
    }
  }
  if (!resource_version.empty()) resource_version_ = std::move(resource_version);
  if (!changes.empty()) ++generation_;
  snapshot_ = nullptr;
  return changes;
}

std::vector<Change> ObjectCache::Replace(std::vector<ObjectPtr> items,
                                         std::string resource_version) {
  CacheSnapshot::Map fresh;
  for (ObjectPtr& item : items) {
    std::string key = item->Key();
    fresh.insert_or_assign(std::move(key), std::move(item));
  }
  std::vector<Change> changes;
  absl::MutexLock lock(&mu_);
  // Objects gone from the server while the cache was not watching: their deletes were missed.
  for (const auto& [key, previous] : items_) {
    if (!fresh.contains(key)) changes.push_back({Change::Type::kDeleted, previous, previous});
  }
  for (const auto& [key, object] : fresh) {
    auto it = items_.find(key);
    if (it == items_.end()) {
      changes.push_back({Change::Type::kAdded, object, nullptr});
    } else if (Reincarnated(*it->second, *object)) {
      changes.push_back({Change::Type::kDeleted, it->second, it->second});
      changes.push_back({Change::Type::kAdded, object, nullptr});
    } else if (it->second->resource_version != object->resource_version) {
      changes.push_back({Change::Type::kUpdated, object, it->second});
    }
  }
  items_ = std::move(fresh);
  resource_version_ = std::move(resource_version);
  if (!changes.empty() || !synced_) ++generation_;
  synced_ = true;
  snapshot_ = nullptr;
  return changes;
}

void ObjectCache::SetResourceVersion(std::string resource_version) {
  absl::MutexLock lock(&mu_);
  resource_version_ = std::move(resource_version);
  snapshot_ = nullptr;
}

std::shared_ptr<const CacheSnapshot> ObjectCache::Snapshot() const {
  absl::MutexLock lock(&mu_);
  if (!snapshot_) {
    snapshot_ =
        std::make_shared<const CacheSnapshot>(items_, resource_version_, synced_, generation_);
  }
  return snapshot_;
}

std::string ObjectCache::resource_version() const {
  absl::MutexLock lock(&mu_);
  return resource_version_;
}

bool ObjectCache::synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

}  // namespace remora::kube
