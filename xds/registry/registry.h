// The control plane's trusted picture of the mesh at one store version: namespaces, workloads,
// services, and the policy documents, parsed once and shared read-only by every view computation.
// Workload attributes policies select on come from here (what operators or Kubernetes registered),
// never from what a proxy claims about itself.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "filters/label_selector.h"
#include "filters/policy.h"
#include "xds/store/config_store.h"

namespace remora::xds {

struct WorkloadPort {
  std::string name;
  uint32_t port = 0;
  std::string protocol = "tcp";  // tcp | http
};

// remora.io/v1 Workload: one pod (or VM) of the mesh.
struct Workload {
  std::string ns;
  std::string name;
  std::string service_account;
  filters::Labels labels;
  std::vector<std::string> ips;
  std::vector<WorkloadPort> ports;
  bool outbound_deny = false;  // spec.outboundPolicy: deny
  std::string Key() const { return ns + "/" + name; }
};

struct ServicePortSpec {
  std::string name;
  uint32_t port = 0;
  uint32_t target_port = 0;
  std::string protocol = "tcp";
};

// One backend of a Service listed explicitly: its address and the service account it runs as
// (the identity the client's proxy expects there, secure naming). Kubernetes mode lists each
// ready address of the Service's EndpointSlices that belongs to a mesh pod.
struct ServiceEndpoint {
  std::string ip;
  std::string service_account;  // in the Service's namespace
  std::string workload;         // the pod, when known (for messages)
};

// remora.io/v1 Service: virtual addresses and ports in front of its backends: the workloads its
// selector picks, or the endpoints it lists (exactly one of the two).
struct ServiceSpec {
  std::string ns;
  std::string name;
  filters::Labels selector;
  bool explicit_endpoints = false;  // spec.endpoints given: `endpoints` are the backends
  std::vector<ServiceEndpoint> endpoints;
  std::vector<std::string> virtual_ips;
  std::vector<std::string> hostnames;
  std::vector<ServicePortSpec> ports;
};

struct NamespaceSpec {
  std::string name;
  filters::Labels labels;
};

// A stored policy document with its parsed form; `source` is the stored object.
struct StoredPolicy {
  const StoredObject* source = nullptr;
};

class Registry {
 public:
  // Parses every object of `snapshot`. Objects were validated on apply, so a failure here means a
  // state file written by another version; it names the object.
  static absl::StatusOr<std::shared_ptr<const Registry>> Build(
      std::shared_ptr<const StoreSnapshot> snapshot, std::string root_namespace);

  uint64_t version() const { return snapshot_->version; }
  const StoreSnapshot& snapshot() const { return *snapshot_; }
  const std::string& root_namespace() const { return root_namespace_; }

  const Workload* FindWorkload(absl::string_view ns, absl::string_view name) const;
  const std::vector<Workload>& workloads() const { return workloads_; }
  const std::vector<ServiceSpec>& services() const { return services_; }
  // The namespace's labels (empty for a namespace that was never registered).
  const filters::Labels& NamespaceLabels(absl::string_view ns) const;
  const filters::PolicySet& policies() const { return policies_; }
  // The stored object behind policies_.*[i], parallel vectors.
  const std::vector<const StoredObject*>& authorization_sources() const { return authz_sources_; }
  const std::vector<const StoredObject*>& network_sources() const { return netpol_sources_; }

  // Workloads in `ns` whose labels `selector` matches.
  std::vector<const Workload*> SelectWorkloads(absl::string_view ns,
                                               const filters::LabelSelector& selector) const;

 private:
  std::shared_ptr<const StoreSnapshot> snapshot_;
  std::string root_namespace_;
  std::vector<Workload> workloads_;
  std::map<std::string, size_t, std::less<>> workload_index_;
  std::vector<ServiceSpec> services_;
  std::map<std::string, NamespaceSpec, std::less<>> namespaces_;
  filters::PolicySet policies_;
  std::vector<const StoredObject*> authz_sources_;
  std::vector<const StoredObject*> netpol_sources_;
  filters::Labels empty_labels_;
};

// Kinds the control plane accepts, and the apiVersions of each.
bool IsRemoraKind(absl::string_view api_version, absl::string_view kind);
bool IsPolicyKind(absl::string_view api_version, absl::string_view kind);

// Validates a remora.io/v1 Workload or Service, or a v1 Namespace; the message names the field.
absl::Status ValidateRegistryDocument(const Document& doc);

// Parses those kinds (the documents must have passed validation).
absl::StatusOr<Workload> ParseWorkload(const Document& doc);
absl::StatusOr<ServiceSpec> ParseService(const Document& doc);
absl::StatusOr<NamespaceSpec> ParseNamespace(const Document& doc);

}  // namespace remora::xds
