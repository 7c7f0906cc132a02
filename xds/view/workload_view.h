// What one workload's proxy receives: every resource the control plane computes for it from the
// registry, with a content hash per resource so unchanged resources are never re-sent.
#pragma once

#include <google/protobuf/any.pb.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "xds/registry/registry.h"

namespace remora::xds {

struct ViewResource {
  google::protobuf::Any resource;
  std::string hash;  // of the deterministic serialization
};

// type URL -> resource name -> resource.
using ResourceMap = std::map<std::string, ViewResource>;

struct WorkloadView {
  std::map<std::string, ResourceMap, std::less<>> types;
  // A hash over one type's (name, hash) pairs: equal hashes mean nothing to send.
  std::string TypeHash(absl::string_view type_url) const;
};

struct ViewOptions {
  std::string trust_domain = "cluster.local";
  std::vector<std::string> bundle_pem;
};

// Computes the view of `workload` from `registry`. Pure; the same inputs give the same hashes.
absl::StatusOr<WorkloadView> ComputeView(const Registry& registry, const Workload& workload,
                                         const ViewOptions& options);

// The NetworkPolicy document as the proxy of `workload` receives it: every podSelector /
// namespaceSelector peer replaced by the addresses of the workloads it selects (the proxy sees
// addresses, not labels). A peer that selects nothing becomes one that matches no address.
absl::StatusOr<std::string> ResolveNetworkPolicy(const Registry& registry, size_t index);

}  // namespace remora::xds
