// Fuzz target: Kubernetes API objects mapped onto the store's documents (xds/kube/kube_mapping.h).
// The input is a JSON array of objects, as the informers would cache them; each is offered as
// every kind, then all of them as one cluster.
#include <cstdint>

#include "xds/kube/cluster_mapping.h"
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
    (void)WorkloadDocument(o);
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
