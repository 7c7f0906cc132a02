#include "ctl/install_manifests.h"

#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/yaml.h"
#include "inject/yaml_json.h"

namespace remora::ctl {
namespace {

// A DNS-1123 label, what Kubernetes requires of a namespace name.
bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

// Characters of an image reference's registry/repository path, and of a tag.
bool IsHub(const std::string& s) {
  if (s.empty() || s.front() == '/' || s.back() == '/') return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_' || c == '/' || c == ':')) {
      return false;
    }
  }
  return true;
}
bool IsTag(const std::string& s) {
  if (s.empty() || s.size() > 128 || s.front() == '.' || s.front() == '-') return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_')) return false;
  }
  return true;
}

// `remora/remora-<x>:latest` -> `<hub>/remora-<x>:<tag>`.
std::string RenderImages(const std::string& text, const InstallOptions& options) {
  const std::string kPrefix = "remora/remora-";
  const std::string kSuffix = ":latest";
  std::string out;
  size_t at = 0;
  while (true) {
    size_t found = text.find(kPrefix, at);
    if (found == std::string::npos) break;
    size_t end = found + kPrefix.size();
    while (end < text.size() && (absl::ascii_islower(text[end]) || text[end] == '-')) ++end;
    if (text.compare(end, kSuffix.size(), kSuffix) != 0) {
      out.append(text, at, end - at);
      at = end;
      continue;
    }
    out.append(text, at, found - at);
    absl::StrAppend(&out, options.hub, "/", text.substr(found + 7, end - found - 7), ":",
                    options.tag);
    at = end + kSuffix.size();
  }
  out.append(text, at, std::string::npos);
  return out;
}

struct Known {
  const char* api_version;
  const char* kind;
  kube::ResourceType type;
};

const std::vector<Known>& KnownTypes() {
  static const std::vector<Known> known{
      {"v1", "Namespace", kube::types::kNamespaces},
      {"v1", "ServiceAccount", {"", "v1", "serviceaccounts", "ServiceAccount", true}},
      {"v1", "ConfigMap", kube::types::kConfigMaps},
      {"v1", "Secret", kube::types::kSecrets},
      {"v1", "Service", kube::types::kServices},
      {"v1",
       "PersistentVolumeClaim",
       {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true}},
      {"apps/v1", "Deployment", {"apps", "v1", "deployments", "Deployment", true}},
      {"rbac.authorization.k8s.io/v1",
       "ClusterRole",
       {"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false}},
      {"rbac.authorization.k8s.io/v1",
       "ClusterRoleBinding",
       {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false}},
      {"rbac.authorization.k8s.io/v1",
       "Role",
       {"rbac.authorization.k8s.io", "v1", "roles", "Role", true}},
      {"rbac.authorization.k8s.io/v1",
       "RoleBinding",
       {"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true}},
      {"policy/v1",
       "PodDisruptionBudget",
       {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true}},
      {"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
       kube::types::kMutatingWebhookConfigurations},
  };
  return known;
}

std::string StringAt(const nlohmann::json& object, const char* a, const char* b = nullptr) {
  auto first = object.find(a);
  if (first == object.end()) return "";
  if (b == nullptr) return first->is_string() ? first->get<std::string>() : "";
  if (!first->is_object()) return "";
  auto second = first->find(b);
  return second != first->end() && second->is_string() ? second->get<std::string>() : "";
}

}  // namespace

absl::StatusOr<std::vector<ManifestFile>> RenderManifests(const std::vector<ManifestFile>& files,
                                                          const InstallOptions& options) {
  if (!IsDnsLabel(options.namespace_name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--namespace=\"", options.namespace_name,
        "\" is not a namespace name: use at most 63 lower-case letters, digits and '-', "
        "starting and ending with a letter or digit"));
  }
  if (!IsHub(options.hub)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--hub=\"", options.hub,
                     "\" is not an image registry/repository path (e.g. ghcr.io/acme)"));
  }
  if (!IsTag(options.tag)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tag=\"", options.tag, "\" is not an image tag (letters, digits, '.', '-', '_')"));
  }
  std::vector<ManifestFile> out;
  for (const ManifestFile& file : files) {
    std::string text = RenderImages(file.yaml, options);
    if (options.namespace_name != kDefaultNamespace) {
      text = absl::StrReplaceAll(text, {{kDefaultNamespace, options.namespace_name}});
    }
    out.push_back({file.name, std::move(text)});
  }
  return out;
}

absl::StatusOr<kube::ResourceType> InstallResourceType(const std::string& api_version,
                                                       const std::string& kind) {
  for (const Known& k : KnownTypes()) {
    if (api_version == k.api_version && kind == k.kind) return k.type;
  }
  return absl::NotFoundError(absl::StrCat("remoractl install cannot write ", api_version, " ", kind,
                                          " objects (add the type to ctl/install_manifests.cc)"));
}

std::string InstallObject::Display() const {
  return absl::StrCat(absl::AsciiStrToLower(type.kind), type.group.empty() ? "" : ".", type.group,
                      "/", name);
}

absl::StatusOr<std::vector<InstallObject>> ManifestObjects(const std::vector<ManifestFile>& files) {
  std::vector<InstallObject> out;
  for (const ManifestFile& file : files) {
    absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(file.yaml, file.name);
    if (!docs.ok()) return docs.status();
    for (const YamlDocument& doc : *docs) {
      const std::string where = absl::StrCat(file.name, " document ", doc.index + 1);
      absl::StatusOr<inject::OrderedJson> ordered = inject::YamlToJson(doc.root);
      if (!ordered.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", ordered.status().message()));
      }
      nlohmann::json object = nlohmann::json::parse(ordered->dump());
      if (!object.is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": not a Kubernetes object"));
      }
      InstallObject o;
      absl::StatusOr<kube::ResourceType> type =
          InstallResourceType(StringAt(object, "apiVersion"), StringAt(object, "kind"));
      if (!type.ok())
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", type.status().message()));
      o.type = *type;
      o.name = StringAt(object, "metadata", "name");
      o.namespace_name = StringAt(object, "metadata", "namespace");
      if (o.name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": metadata.name is missing"));
      }
      if (o.type.namespaced == o.namespace_name.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " (", o.type.kind, " ", o.name, "): ",
                         o.type.namespaced ? "metadata.namespace is missing"
                                           : "a cluster-scoped object has no metadata.namespace"));
      }
      o.object = std::move(object);
      out.push_back(std::move(o));
    }
  }
  return out;
}

bool Contains(const nlohmann::json& live, const nlohmann::json& desired) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (auto it = desired.begin(); it != desired.end(); ++it) {
      auto found = live.find(it.key());
      if (found == live.end()) {
        if (it.value().is_null()) continue;
        return false;
      }
      if (!Contains(*found, it.value())) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (size_t i = 0; i < desired.size(); ++i) {
      if (!Contains(live[i], desired[i])) return false;
    }
    return true;
  }
  // Numbers compare by value whatever their JSON representation (1 and 1.0).
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return live == desired;
}

nlohmann::json UpdateFor(const nlohmann::json& live, const nlohmann::json& desired) {
  nlohmann::json update = desired;
  if (live.contains("metadata") && live["metadata"].contains("resourceVersion")) {
    update["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"];
  }
  const std::string kind = StringAt(desired, "kind");
  if (kind == "MutatingWebhookConfiguration" && update.contains("webhooks") &&
      update["webhooks"].is_array() && live.contains("webhooks") && live["webhooks"].is_array()) {
    std::map<std::string, nlohmann::json> bundles;
    for (const nlohmann::json& w : live["webhooks"]) {
      if (!w.is_object() || !w.contains("clientConfig") || !w["clientConfig"].is_object()) continue;
      auto ca = w["clientConfig"].find("caBundle");
      if (ca != w["clientConfig"].end()) bundles[StringAt(w, "name")] = *ca;
    }
    for (nlohmann::json& w : update["webhooks"]) {
      if (!w.is_object()) continue;
      auto found = bundles.find(StringAt(w, "name"));
      nlohmann::json& client_config = w["clientConfig"];
      if (found == bundles.end() || !client_config.is_object()) continue;
      auto ca = client_config.find("caBundle");
      if (ca == client_config.end() || (ca->is_string() && ca->get<std::string>().empty())) {
        client_config["caBundle"] = found->second;
      }
    }
  }
  if (kind == "Service" && live.contains("spec") && live["spec"].is_object() &&
      update.contains("spec") && update["spec"].is_object()) {
    for (const char* field : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) {
      if (!update["spec"].contains(field) && live["spec"].contains(field)) {
        update["spec"][field] = live["spec"][field];
      }
    }
  }
  return update;
}

}  // namespace remora::ctl
