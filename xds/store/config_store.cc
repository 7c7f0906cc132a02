#include "xds/store/config_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/yaml.h"

namespace remora::xds {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kStateFile = "objects.json";

bool ClusterScoped(absl::string_view kind) { return kind == "Namespace"; }

// Kubernetes object names: RFC 1123 labels/subdomains (lowercase alphanumerics, '-', '.').
bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return name.front() != '-' && name.back() != '-';
}

}  // namespace

std::string ObjectKey::ToString() const {
  return ns.empty() ? absl::StrCat(kind, " ", name) : absl::StrCat(kind, " ", ns, "/", name);
}

std::vector<const StoredObject*> StoreSnapshot::OfKind(absl::string_view kind) const {
  std::vector<const StoredObject*> out;
  for (auto it = objects.lower_bound(ObjectKey{std::string(kind), "", ""});
       it != objects.end() && it->first.kind == kind; ++it) {
    out.push_back(&it->second);
  }
  return out;
}

absl::StatusOr<std::vector<Document>> ParseDocuments(absl::string_view yaml,
                                                     absl::string_view source) {
  return GuardYaml<std::vector<Document>>(source, [&]() -> absl::StatusOr<std::vector<Document>> {
    ASSIGN_OR_RETURN(std::vector<YamlDocument> docs, LoadYamlDocuments(yaml, source));
    std::vector<Document> out;
    std::set<ObjectKey> seen;
    for (const YamlDocument& doc : docs) {
      const std::string where = absl::StrCat(source, ": document ", doc.index + 1);
      auto fail = [&](const absl::Status& s) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
      };
      YamlField root(doc.root, "");
      if (!root.IsMap())
        return fail(root.Error("a document must be a map with apiVersion and kind"));
      absl::StatusOr<std::string> api_version = root["apiVersion"].String();
      if (!api_version.ok()) return fail(api_version.status());
      absl::StatusOr<std::string> kind = root["kind"].String();
      if (!kind.ok()) return fail(kind.status());
      absl::StatusOr<std::string> name = root["metadata"]["name"].String();
      if (!name.ok()) return fail(name.status());
      if (!ValidName(*name)) {
        return fail(root["metadata"]["name"].Error(absl::StrCat(
            "\"", *name, "\" is not a valid name (lowercase letters, digits, '-' and '.')")));
      }
      std::string ns;
      if (!ClusterScoped(*kind)) {
        ns = "default";
        if (!root["metadata"]["namespace"].IsMissing()) {
          absl::StatusOr<std::string> n = root["metadata"]["namespace"].String();
          if (!n.ok()) return fail(n.status());
          if (!ValidName(*n)) {
            return fail(root["metadata"]["namespace"].Error(
                absl::StrCat("\"", *n, "\" is not a valid namespace name")));
          }
          ns = *n;
        }
      }
      Document d{ObjectKey{*kind, ns, *name}, *api_version, doc.root,
                 absl::StrCat(where, " (", ObjectKey{*kind, ns, *name}.ToString(), ")")};
      if (!seen.insert(d.key).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(d.where, ": the same object appears twice in one apply"));
      }
      out.push_back(std::move(d));
    }
    return out;
  });
}

absl::StatusOr<std::unique_ptr<ConfigStore>> ConfigStore::Open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  auto store = std::make_unique<ConfigStore>(dir);
  const std::string path = absl::StrCat(dir, "/", kStateFile);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return store;
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j["objects"].is_array() || !j["version"].is_number_unsigned()) {
    return absl::DataLossError(absl::StrCat(path, " is not a valid store file"));
  }
  auto snapshot = std::make_shared<StoreSnapshot>();
  snapshot->version = j["version"].get<uint64_t>();
  for (const json& o : j["objects"]) {
    StoredObject obj;
    obj.key = {o.value("kind", ""), o.value("namespace", ""), o.value("name", "")};
    obj.api_version = o.value("apiVersion", "");
    obj.yaml = o.value("yaml", "");
    obj.version = o.value("version", uint64_t{0});
    absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(obj.yaml, path);
    if (!docs.ok() || docs->size() != 1) {
      return absl::DataLossError(
          absl::StrCat(path, ": stored ", obj.key.ToString(), " does not parse"));
    }
    obj.node = (*docs)[0].root;
    snapshot->objects.emplace(obj.key, std::move(obj));
  }
  LOG_INFO("store", "loaded ", snapshot->objects.size(), " object(s) at version ",
           snapshot->version, " from ", path);
  {
    absl::MutexLock lock(&store->mu_);
    store->current_ = std::move(snapshot);
  }
  return store;
}

std::shared_ptr<const StoreSnapshot> ConfigStore::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<uint64_t> ConfigStore::Bump() {
  absl::MutexLock apply_lock(&apply_mu_);
  auto next = std::make_shared<StoreSnapshot>(*Current());
  next->version += 1;
  RETURN_IF_ERROR(Persist(*next));
  const uint64_t version = next->version;
  absl::MutexLock lock(&mu_);
  current_ = std::move(next);
  return version;
}

absl::Status ConfigStore::Persist(const StoreSnapshot& snapshot) const {
  json objects = json::array();
  for (const auto& [key, obj] : snapshot.objects) {
    objects.push_back({{"kind", key.kind},
                       {"namespace", key.ns},
                       {"name", key.name},
                       {"apiVersion", obj.api_version},
                       {"version", obj.version},
                       {"yaml", obj.yaml}});
  }
  json out = {{"version", snapshot.version}, {"objects", objects}};
  return WriteFileAtomic(absl::StrCat(dir_, "/", kStateFile), out.dump(1) + "\n", 0600);
}

absl::StatusOr<ApplyResult> ConfigStore::Apply(absl::string_view yaml, absl::string_view source,
                                               bool remove, const Validator& validate) {
  ASSIGN_OR_RETURN(std::vector<Document> docs, ParseDocuments(yaml, source));
  if (docs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no documents to apply"));
  }
  if (!remove) {
    for (const Document& d : docs) RETURN_IF_ERROR(validate(d));
  }
  absl::MutexLock apply_lock(&apply_mu_);
  std::shared_ptr<const StoreSnapshot> base = Current();
  auto next = std::make_shared<StoreSnapshot>(*base);
  next->version = base->version + 1;
  ApplyResult result;
  for (const Document& d : docs) {
    auto it = next->objects.find(d.key);
    if (remove) {
      if (it == next->objects.end()) {
        result.changes.push_back({d.key, "not found"});
      } else {
        next->objects.erase(it);
        result.changes.push_back({d.key, "deleted"});
        result.changed = true;
      }
      continue;
    }
    std::string canonical = DumpYaml(d.node);
    if (it != next->objects.end() && it->second.yaml == canonical) {
      result.changes.push_back({d.key, "unchanged"});
      continue;
    }
    StoredObject obj{d.key, d.api_version, canonical, YAML::Clone(d.node), next->version};
    result.changes.push_back({d.key, it == next->objects.end() ? "created" : "configured"});
    next->objects[d.key] = std::move(obj);
    result.changed = true;
  }
  if (!result.changed) {
    result.version = base->version;
    return result;
  }
  RETURN_IF_ERROR(Persist(*next));
  result.version = next->version;
  {
    absl::MutexLock lock(&mu_);
    current_ = std::move(next);
  }
  return result;
}

absl::StatusOr<ApplyResult> ConfigStore::Replace(const std::vector<Document>& docs) {
  absl::MutexLock apply_lock(&apply_mu_);
  std::shared_ptr<const StoreSnapshot> base = Current();
  auto next = std::make_shared<StoreSnapshot>();
  next->version = base->version + 1;
  ApplyResult result;
  for (const Document& d : docs) {
    std::string canonical = DumpYaml(d.node);
    auto it = base->objects.find(d.key);
    if (it != base->objects.end() && it->second.yaml == canonical) {
      next->objects.emplace(d.key, it->second);
      continue;
    }
    result.changes.push_back({d.key, it == base->objects.end() ? "created" : "configured"});
    StoredObject obj{d.key, d.api_version, canonical, YAML::Clone(d.node), next->version};
    if (!next->objects.emplace(d.key, std::move(obj)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(d.where, ": the same object appears twice in one replace"));
    }
  }
  for (const auto& [key, obj] : base->objects) {
    if (next->objects.count(key) == 0) result.changes.push_back({key, "deleted"});
  }
  result.changed = !result.changes.empty();
  if (!result.changed) {
    result.version = base->version;
    return result;
  }
  RETURN_IF_ERROR(Persist(*next));
  result.version = next->version;
  {
    absl::MutexLock lock(&mu_);
    current_ = std::move(next);
  }
  return result;
}

}  // namespace remora::xds
