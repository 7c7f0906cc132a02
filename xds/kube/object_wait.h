// `remoractl wait -f POLICY.yaml` in Kubernetes mode (issue 18): "is the object I just kubectl
// apply'd active?". The client reads each object's current uid, resourceVersion and generation
// from the API server; the control plane answers once its own watch has seen that state and
// mapped it into a published configuration version, and then waits for the proxies that version
// affects, as `apply --wait` does in embedded mode.
//
// resourceVersions are opaque (Kubernetes API conventions: clients compare them for equality
// only), so "seen" is: the same resourceVersion, or a later change of the same object, known by
// a higher metadata.generation (which the API server increments on every spec change).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "kube/object_cache.h"
#include "remora/v1/operator.pb.h"

namespace remora::xds {

// What Kubernetes mode last published: the configuration version and the cached objects it was
// mapped from.
struct PublishedCluster {
  uint64_t version = 0;
  // By kind ("NetworkPolicy"): the informer snapshots of that publication.
  std::map<std::string, std::shared_ptr<const kube::CacheSnapshot>> by_kind;
  // "uid/resourceVersion" of each object the engine refused -> its message.
  std::map<std::string, std::string> refused;
};

// Where `ref` stands in `published` (pure): its state is "applied", "refused", "deleted",
// "superseded", "pending", or "unwatched" (the control plane does not read that kind; detail
// says why).
remora::v1::ObjectProgress Settle(const PublishedCluster& published,
                                  const remora::v1::KubeObjectRef& ref);

// Whether a state is final (the wait for that object is over).
bool IsSettled(const remora::v1::ObjectProgress& progress);

}  // namespace remora::xds
