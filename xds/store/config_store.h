// The control plane's applied configuration: Kubernetes-style documents keyed by kind, namespace
// and name, versioned, kept in one state directory. An apply of several documents is atomic (all
// validated first; nothing half-applied) and durable before it returns (crash-safe rename).
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace remora::xds {

struct ObjectKey {
  std::string kind;
  std::string ns;  // empty for cluster-scoped kinds (Namespace)
  std::string name;
  friend bool operator<(const ObjectKey& a, const ObjectKey& b) {
    return std::tie(a.kind, a.ns, a.name) < std::tie(b.kind, b.ns, b.name);
  }
  friend bool operator==(const ObjectKey& a, const ObjectKey& b) {
    return std::tie(a.kind, a.ns, a.name) == std::tie(b.kind, b.ns, b.name);
  }
  std::string ToString() const;  // "Kind ns/name"
};

struct StoredObject {
  ObjectKey key;
  std::string api_version;
  std::string yaml;      // the document, re-emitted canonically
  YAML::Node node;       // parsed form of `yaml` (read-only)
  uint64_t version = 0;  // the store version that last changed it
};

// Everything applied, at one version. Immutable; shared with readers.
struct StoreSnapshot {
  uint64_t version = 0;
  std::map<ObjectKey, StoredObject> objects;

  // Objects of one kind, in key order.
  std::vector<const StoredObject*> OfKind(absl::string_view kind) const;
};

// A document about to be applied.
struct Document {
  ObjectKey key;
  std::string api_version;
  YAML::Node node;
  std::string where;  // "file.yaml: document 2 (AuthorizationPolicy shop/allow-web)"
};

struct ApplyResult {
  uint64_t version = 0;  // unchanged when nothing changed
  struct Change {
    ObjectKey key;
    std::string action;  // created, configured, unchanged, deleted, not found
  };
  std::vector<Change> changes;
  bool changed = false;
};

class ConfigStore {
 public:
  // Checks one document's content (kind-specific). Errors are prefixed with the document's place.
  using Validator = std::function<absl::Status(const Document&)>;

  // Loads <dir>/objects.json if present, else starts empty.
  static absl::StatusOr<std::unique_ptr<ConfigStore>> Open(const std::string& dir);
  explicit ConfigStore(std::string dir) : dir_(std::move(dir)) {}

  // Parses `yaml` (one or more documents), validates every document, then applies (or deletes)
  // them all in one step and persists before returning.
  absl::StatusOr<ApplyResult> Apply(absl::string_view yaml, absl::string_view source, bool remove,
                                    const Validator& validate);

  // Makes the store hold exactly `docs` (already validated; keys unique): Kubernetes mode mirrors
  // the cluster this way. Objects whose canonical YAML is unchanged keep their version; the store
  // version moves only when something changed. Persisted before it returns.
  absl::StatusOr<ApplyResult> Replace(const std::vector<Document>& docs);

  std::shared_ptr<const StoreSnapshot> Current() const;

  // A new version with no object changed, for changes that live outside the store but must reach
  // proxies as a version of their own (a CA root rotation). Persisted before it returns.
  absl::StatusOr<uint64_t> Bump();

 private:
  absl::Status Persist(const StoreSnapshot& snapshot) const;

  const std::string dir_;
  absl::Mutex apply_mu_;  // one apply at a time
  mutable absl::Mutex mu_;
  std::shared_ptr<const StoreSnapshot> current_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const StoreSnapshot>();
};

// Parses the documents of `yaml` into keyed documents: apiVersion, kind, metadata.name and
// (for namespaced kinds) metadata.namespace, default "default". Pure; fuzzed.
absl::StatusOr<std::vector<Document>> ParseDocuments(absl::string_view yaml,
                                                     absl::string_view source);

}  // namespace remora::xds
