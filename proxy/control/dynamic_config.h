// What the control plane has told this proxy, one accepted version per resource. A resource that
// fails validation is refused on its own: its previous accepted version (if any) stays in force
// and every other resource of the update still applies. A refused policy never widens what the
// workload admits: without an accepted version it is enforced as a policy that allows nothing.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "certs/trust_bundle.h"
#include "filters/policy.h"
#include "proxy/config/proxy_config.h"
#include "proxy/control/xds_client.h"
#include "remora/v1/resources.pb.h"

namespace remora::proxy::control {

class DynamicConfig {
 public:
  // `workload_key` is "<namespace>/<name>", `identity` the SPIFFE ID this proxy serves.
  DynamicConfig(std::string workload_key, std::string identity, std::string trust_domain,
                size_t max_policies);

  // Applies an update; returns the refused resources with the reason (the rest applied). The
  // control plane sends a proxy only the policies that select its workload, so a refused policy
  // is one that should apply here: it keeps its last accepted version, and one that has none is
  // enforced as if it allowed nothing (fail closed) until a valid version arrives or the control
  // plane withdraws it. Istio fails closed the same way on a rule it cannot enforce (its
  // "Authorization for TCP traffic" task: an ALLOW rule with HTTP-only fields on a TCP port is
  // ignored, so less is allowed; a DENY rule's HTTP-only fields are ignored, so more is denied).
  std::vector<remora::v1::ResourceError> Apply(const ReceivedUpdate& update);
  // Refuses every resource of `update` with `reason` (its documents are valid one by one but not
  // together), once the caller has put back the configuration from before it.
  std::vector<remora::v1::ResourceError> RefuseAll(const ReceivedUpdate& update,
                                                   absl::string_view reason);

  // The static configuration with what the control plane sent laid over it: services, inbound
  // modes and protocols, the outbound policy.
  ProxyConfig Effective(const ProxyConfig& base) const;
  // Every accepted policy document, parsed, and an allow-nothing stand-in (named "<name>
  // (refused)") for each refused policy that has no accepted version.
  filters::PolicySet Policies() const;
  // Allows nothing in either direction: what the proxy enforces if even the policies it accepted
  // before no longer compile (it never falls back to enforcing none).
  filters::PolicySet DenyAll() const;
  // The workload's labels, as the control plane's registry has them.
  filters::Labels Labels() const;
  // The namespace whose policies apply mesh-wide, as the control plane says; empty until the
  // workload settings are accepted.
  std::string RootNamespace() const;
  std::optional<certs::TrustBundle> Bundle() const;
  bool has_workload() const { return workload_.has_value(); }
  // The first complete configuration has been applied: a response of every resource type, and
  // workload settings accepted. Until then the proxy serves nothing (Istio's sidecar has no
  // listener before its first configuration either).
  bool complete() const;
  // What complete() still waits for, e.g. "PeerAuthentication, Service" (empty when complete).
  std::string Missing() const;

 private:
  struct Policy {
    remora::v1::AuthorizationPolicy proto;
    filters::PolicySet parsed;
  };

  // A refused policy with no accepted version, enforced as allowing nothing.
  struct Refused {
    std::string kind;  // "AuthorizationPolicy" or "NetworkPolicy"
    std::string ns;
    std::string name;
    std::optional<filters::PolicySet> parsed;  // when the document itself was valid
  };

  // Validates one resource; returns its name, or why it is refused.
  absl::StatusOr<std::string> Accept(const std::string& type, const google::protobuf::Any& any);
  // Records the refusal of policy `key`; returns what it means for enforcement, to append to the
  // reason the control plane and the log see.
  std::string RefusePolicy(const std::string& key, const google::protobuf::Any& any);
  std::string WorkloadNamespace() const;

  std::string workload_key_;
  std::string identity_;
  std::string trust_domain_;
  size_t max_policies_;
  std::optional<remora::v1::WorkloadSettings> workload_;
  std::optional<remora::v1::PeerAuthentication> peer_auth_;
  std::optional<remora::v1::TrustBundle> bundle_;
  std::map<std::string, remora::v1::Service> services_;
  std::map<std::string, Policy> policies_;
  std::map<std::string, Refused> refused_;
  std::set<std::string> received_;  // type URLs that had at least one response
};

}  // namespace remora::proxy::control
