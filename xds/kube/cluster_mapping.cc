#include "xds/kube/cluster_mapping.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace remora::xds {
namespace {

using json = nlohmann::json;

// "ns/name" of the Service an EndpointSlice belongs to (label kubernetes.io/service-name, set by
// the EndpointSlice controller and by anyone who writes slices for a selector-less Service).
std::string SliceService(const json& slice) {
  if (!slice.is_object()) return "";
  auto meta = slice.find("metadata");
  if (meta == slice.end() || !meta->is_object()) return "";
  auto ns = meta->find("namespace");
  auto labels = meta->find("labels");
  if (ns == meta->end() || !ns->is_string() || labels == meta->end() || !labels->is_object()) {
    return "";
  }
  auto service = labels->find("kubernetes.io/service-name");
  if (service == labels->end() || !service->is_string()) return "";
  return absl::StrCat(ns->get<std::string>(), "/", service->get<std::string>());
}

}  // namespace

ClusterDocuments MapCluster(const ClusterObjects& objects, const ConfigStore::Validator& validate) {
  ClusterDocuments out;
  std::set<ObjectKey> keys;
  auto add = [&](Document doc, const json* object, bool is_policy) {
    if (absl::Status s = validate(doc); !s.ok()) {
      out.refused.push_back({object, is_policy, std::string(s.message())});
      return;
    }
    if (!keys.insert(doc.key).second) return;
    out.documents.push_back(std::move(doc));
  };
  auto refuse = [&](const json* object, bool is_policy, const absl::Status& s) {
    out.refused.push_back({object, is_policy, std::string(s.message())});
  };

  for (const json* ns : objects.namespaces) {
    absl::StatusOr<Document> doc = NamespaceDocument(*ns);
    if (doc.ok()) {
      add(std::move(*doc), ns, false);
    } else {
      refuse(ns, false, doc.status());
    }
  }
  for (const json* pod : objects.pods) {
    absl::StatusOr<std::optional<MeshPod>> mesh = ReadMeshPod(*pod);
    absl::StatusOr<std::optional<Document>> doc = WorkloadDocument(*pod);
    if (!mesh.ok() || !doc.ok()) {
      refuse(pod, false, !mesh.ok() ? mesh.status() : doc.status());
      continue;
    }
    if (!mesh->has_value() || !doc->has_value()) continue;
    const size_t before = out.refused.size();
    add(std::move(**doc), pod, false);
    if (out.refused.size() != before) continue;
    out.mesh_namespaces.insert((*mesh)->ns);
    out.pods.emplace(absl::StrCat((*mesh)->ns, "/", (*mesh)->name), std::move(**mesh));
  }
  std::map<std::string, std::vector<json>> slices;
  for (const json* slice : objects.endpoint_slices) {
    std::string service = SliceService(*slice);
    if (!service.empty()) slices[service].push_back(*slice);
  }
  static const std::vector<json> kNoSlices;
  for (const json* service : objects.services) {
    std::string key;
    if (service->is_object() && service->contains("metadata") &&
        (*service)["metadata"].is_object()) {
      const json& meta = (*service)["metadata"];
      if (meta.contains("namespace") && meta["namespace"].is_string() && meta.contains("name") &&
          meta["name"].is_string()) {
        key = absl::StrCat(meta["namespace"].get<std::string>(), "/",
                           meta["name"].get<std::string>());
      }
    }
    auto it = slices.find(key);
    absl::StatusOr<std::optional<Document>> doc =
        ServiceDocument(*service, it == slices.end() ? kNoSlices : it->second, out.pods);
    if (!doc.ok()) {
      refuse(service, false, doc.status());
    } else if (doc->has_value()) {
      add(std::move(**doc), service, false);
    }
  }
  for (const json* policy : objects.policies) {
    absl::StatusOr<Document> doc = PolicyDocument(*policy);
    if (doc.ok()) {
      add(std::move(*doc), policy, true);
    } else {
      refuse(policy, true, doc.status());
    }
  }
  return out;
}

}  // namespace remora::xds
