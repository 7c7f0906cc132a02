// The whole cluster, as the informers cache it, mapped onto the documents the control plane's
// store holds (kube_mapping.h, per object): what Kubernetes mode hands ConfigStore::Replace. Pure;
// the objects a validator refuses are left out and reported, so one bad policy never stops the
// rest of the cluster from reaching the proxies (the same choice istiod makes: it skips an
// invalid resource and keeps serving the others).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "xds/kube/kube_mapping.h"
#include "xds/store/config_store.h"

namespace remora::xds {

struct ClusterObjects {
  std::vector<const nlohmann::json*> namespaces, pods, services, endpoint_slices, policies;
};

struct RefusedObject {
  const nlohmann::json* object = nullptr;  // points into the ClusterObjects
  bool is_policy = false;                  // reported as a Kubernetes Event on the object
  std::string message;                     // what `remoractl apply` would print
};

struct ClusterDocuments {
  std::vector<Document> documents;        // keys unique, in no particular order
  MeshPods pods;                          // the mesh pods, by "ns/name"
  std::set<std::string> mesh_namespaces;  // namespaces that have mesh pods
  std::vector<RefusedObject> refused;
};

// `validate` is what `remoractl apply` runs on each document (ValidateDocument).
ClusterDocuments MapCluster(const ClusterObjects& objects, const ConfigStore::Validator& validate);

}  // namespace remora::xds
