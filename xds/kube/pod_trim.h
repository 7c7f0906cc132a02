// What Kubernetes mode keeps of each Pod: the fields the mapping reads (kube_mapping.h), nothing
// else. A pod as the API server serves it is mostly container specs, env, volumes, probes and
// conditions (3-8 KB of JSON, more with managedFields); a control plane caching 10,000 of them
// whole would spend most of its memory on fields it never reads. client-go offers the same
// seam (SharedInformer's TransformFunc); istiod keeps whole pods.
#pragma once

#include "nlohmann/json.hpp"

namespace remora::xds {

// Trims `pod` in place to:
//   metadata: name, namespace, uid, resourceVersion, generation, labels, and the
//             sidecar.remora.io/* annotations (the injector's status marks a mesh pod);
//   spec:     serviceAccountName; containers[].name and .ports; initContainers[].name;
//   status:   phase, podIP, podIPs.
// Keeps the object when a field has an unexpected type (the mapping then reports it). Always
// returns true: every pod stays in the cache (an informer transform, kube/informer.h).
bool TrimPod(nlohmann::json& pod);

}  // namespace remora::xds
