// The mutual-TLS mode a workload's ports accept, from Istio PeerAuthentication policies
// (istio.io/latest/docs/reference/config/security/peer_authentication), composed as Istio does
// (pilot/pkg/model/authentication.go, ComposePeerAuthentication):
//  * candidates: policies of the workload's namespace and of the root namespace;
//  * workload-level = a selector matching the workload, outside the root namespace (the newest
//    wins); namespace-level = no selector in the workload's namespace, mesh-level = no selector in
//    the root namespace (the oldest wins); a root-namespace policy with a selector is ignored;
//  * the mode starts PERMISSIVE, then mesh, namespace and workload each override it unless UNSET;
//  * port-level modes come from the workload-level policy only; UNSET there inherits the
//    workload's mode.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "filters/policy.h"

namespace remora::filters {

struct MtlsSettings {
  MtlsMode mode = MtlsMode::kPermissive;    // never kUnset
  std::string mode_policy;                  // "ns/name" that set `mode`; empty: the default
  std::map<uint32_t, MtlsMode> port_modes;  // never kUnset
  std::string port_policy;                  // "ns/name" of the workload-level policy
  // The same two policies as pointers into ComputeMtlsSettings' input (nullptr: none).
  const PeerAuthentication* mode_source = nullptr;
  const PeerAuthentication* port_source = nullptr;

  MtlsMode ForPort(uint32_t port) const {
    auto it = port_modes.find(port);
    return it == port_modes.end() ? mode : it->second;
  }
  // The policy that decided ForPort(port); empty for the PERMISSIVE default.
  const std::string& PolicyForPort(uint32_t port) const {
    return port_modes.count(port) != 0 ? port_policy : mode_policy;
  }
};

// Istio's admission checks: selector labels, port range 1..65535, no portLevelMtls without a
// selector; and no dry-run annotation, which Remora cannot honour for this kind. Messages name the
// field ("spec.portLevelMtls.0: ...").
absl::Status ValidatePeerAuthentication(const PeerAuthentication& policy);

// `policies` in input order (the tie-break when creation times are equal or unknown).
MtlsSettings ComputeMtlsSettings(const std::vector<const PeerAuthentication*>& policies,
                                 const std::string& ns, const Labels& labels,
                                 const std::string& root_namespace);

}  // namespace remora::filters
