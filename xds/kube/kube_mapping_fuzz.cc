// Fuzz target: Kubernetes API objects mapped onto the store's documents (xds/kube/kube_mapping.h).
// The input is a JSON array of objects, as the informers would cache them; each is offered as
// every kind, then all of them as one cluster. Each is also trimmed as the pod informer trims
// (pod_trim.h): what the mapping derives from a pod must not change.
#include <cstdint>
#include <cstdlib>

#include "xds/kube/cluster_mapping.h"
#include "xds/kube/pod_trim.h"
#include "xds/server/operator_service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using json = nlohmann::json;
  using namespace remora::xds;
  json input = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!input.is_array()) return 0;
  std::vector<json> slices;
  for (const json& o : input) {
    if (o.is_object() && o.value("kind", json()) == "EndpointSlice") slices.push_back(o);
  }
  MeshPods pods;
  ClusterObjects cluster;
  for (const json& o : input) {
    (void)NamespaceDocument(o);
    absl::StatusOr<std::optional<Document>> workload = WorkloadDocument(o);
    json trimmed = o;
    TrimPod(trimmed);
    absl::StatusOr<std::optional<Document>> trimmed_workload = WorkloadDocument(trimmed);
    if (IsMeshPod(o) != IsMeshPod(trimmed) || workload.ok() != trimmed_workload.ok() ||
        (workload.ok() && workload->has_value() != trimmed_workload->has_value()) ||
        (workload.ok() && workload->has_value() &&
         YAML::Dump((*workload)->node) != YAML::Dump((*trimmed_workload)->node))) {
      std::abort();  // TrimPod dropped something the mapping reads
    }
    (void)ServiceDocument(o, slices, pods);
    (void)PolicyDocument(o);
    if (auto pod = ReadMeshPod(o); pod.ok() && pod->has_value()) {
      pods[(*pod)->ns + "/" + (*pod)->name] = **pod;
    }
    for (auto* list : {&cluster.namespaces, &cluster.pods, &cluster.services,
                       &cluster.endpoint_slices, &cluster.policies}) {
      list->push_back(&o);
    }
  }
  (void)MapCluster(cluster, ValidateDocument);
  return 0;
}
