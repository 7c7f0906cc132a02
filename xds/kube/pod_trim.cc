#include "xds/kube/pod_trim.h"

#include <initializer_list>
#include <string>

#include "absl/strings/match.h"

namespace remora::xds {
namespace {

using json = nlohmann::json;

// Keeps only `keys` of `object` (if it is an object).
void KeepOnly(json& object, std::initializer_list<const char*> keys) {
  if (!object.is_object()) return;
  json kept = json::object();
  for (const char* key : keys) {
    auto it = object.find(key);
    if (it != object.end()) kept[key] = std::move(*it);
  }
  object = std::move(kept);
}

void TrimContainers(json& spec, const char* list, std::initializer_list<const char*> keys) {
  auto it = spec.find(list);
  if (it == spec.end() || !it->is_array()) return;
  for (json& container : *it) KeepOnly(container, keys);
}

}  // namespace

bool TrimPod(json& pod) {
  if (!pod.is_object()) return true;
  KeepOnly(pod, {"apiVersion", "kind", "metadata", "spec", "status"});
  if (auto meta = pod.find("metadata"); meta != pod.end() && meta->is_object()) {
    KeepOnly(*meta, {"name", "namespace", "uid", "resourceVersion", "generation", "labels",
                     "annotations"});
    if (auto annotations = meta->find("annotations");
        annotations != meta->end() && annotations->is_object()) {
      for (auto it = annotations->begin(); it != annotations->end();) {
        it = absl::StartsWith(it.key(), "sidecar.remora.io/") ? std::next(it)
                                                              : annotations->erase(it);
      }
      if (annotations->empty()) meta->erase(annotations);
    }
  }
  if (auto spec = pod.find("spec"); spec != pod.end() && spec->is_object()) {
    KeepOnly(*spec, {"serviceAccountName", "containers", "initContainers"});
    TrimContainers(*spec, "containers", {"name", "ports"});
    TrimContainers(*spec, "initContainers", {"name"});
  }
  if (auto status = pod.find("status"); status != pod.end() && status->is_object()) {
    KeepOnly(*status, {"phase", "podIP", "podIPs"});
  }
  return true;
}

}  // namespace remora::xds
