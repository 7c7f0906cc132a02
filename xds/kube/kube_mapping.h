// Kubernetes API objects -> the documents `remoractl apply` stores (issue 18): in Kubernetes mode
// remora-control maps what its informers cache onto the same registry and policy objects, so the
// registry, the views, xDS pushes, NACKs and proxy-status work unchanged. Pure functions over
// untrusted JSON (the API server's objects are whatever users created), fuzzed.
//
//   v1 Namespace                          -> v1 Namespace (its labels feed namespaceSelectors)
//   v1 Pod, Running, sidecar injected     -> remora.io/v1 Workload (IPs, labels, service account,
//                                            container ports)
//   v1 Service + discovery.k8s.io/v1      -> remora.io/v1 Service listing its ready endpoints that
//   EndpointSlices                           are mesh pods, with their service accounts (secure
//                                            naming); with no slice yet, its selector
//   networking.k8s.io/v1 NetworkPolicy,   -> the same kinds, metadata trimmed to name, namespace
//   security.istio.io AuthorizationPolicy,    and labels; validated as `remoractl apply` would,
//   PeerAuthentication (v1, v1beta1)          by the caller
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "xds/store/config_store.h"

namespace remora::xds {

// A JSON value as the YAML node the registry and policy parsers read: maps, sequences, and
// scalars holding the JSON text of numbers and booleans (null is a null node).
YAML::Node JsonToYamlNode(const nlohmann::json& value);

// Whether the pod is a workload of the mesh: phase Running and the sidecar injected (the
// injector's sidecar.remora.io/status annotation, or a remora-proxy container or native sidecar).
bool IsMeshPod(const nlohmann::json& pod);

// What the control plane knows of a mesh pod, for endpoints and for TokenReview's pod binding.
struct MeshPod {
  std::string ns, name, uid, service_account;
  std::vector<std::string> ips;
};
// Mesh pods by "ns/name".
using MeshPods = std::map<std::string, MeshPod>;

// The MeshPod of a pod object; nullopt when it is not a mesh pod. InvalidArgument when a field
// has the wrong type.
absl::StatusOr<std::optional<MeshPod>> ReadMeshPod(const nlohmann::json& pod);

absl::StatusOr<Document> NamespaceDocument(const nlohmann::json& ns);
// nullopt when the pod is not a mesh pod.
absl::StatusOr<std::optional<Document>> WorkloadDocument(const nlohmann::json& pod);
// `slices` are the Service's EndpointSlices (label kubernetes.io/service-name). nullopt for a
// Service that cannot front mesh workloads: ExternalName, no TCP port, or neither a selector nor
// an EndpointSlice.
absl::StatusOr<std::optional<Document>> ServiceDocument(const nlohmann::json& service,
                                                        const std::vector<nlohmann::json>& slices,
                                                        const MeshPods& pods);
// NetworkPolicy, AuthorizationPolicy or PeerAuthentication (any other kind: InvalidArgument).
absl::StatusOr<Document> PolicyDocument(const nlohmann::json& object);

}  // namespace remora::xds
