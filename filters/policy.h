// The policy documents Remora enforces, as domain types: Istio AuthorizationPolicy and
// PeerAuthentication (security.istio.io/v1), Kubernetes NetworkPolicy (networking.k8s.io/v1).
// Field names and meanings mirror those APIs; values stay as written (CIDRs, ports and patterns are
// strings) and are validated once, when an engine is compiled from them. Nothing here knows YAML
// or protobuf: policy_yaml.h fills these from documents, the control plane from its own protos.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "filters/label_selector.h"

namespace remora::filters {

// Identity and bookkeeping shared by every policy kind.
struct PolicyMeta {
  std::string ns;    // metadata.namespace
  std::string name;  // metadata.name
  // Annotation remora.io/dry-run (or Istio's istio.io/dry-run) "true": evaluated and reported,
  // never enforced.
  bool dry_run = false;
  // metadata.creationTimestamp when known; Istio breaks ties between PeerAuthentications with it.
  std::optional<absl::Time> created{};

  std::string Id() const { return ns + "/" + name; }
};

// ---- security.istio.io AuthorizationPolicy ----------------------------------------------------

enum class AuthzAction { kAllow, kDeny, kAudit };
const char* ToString(AuthzAction action);

// Rule.From.source. Every non-empty list must match (AND); within one list any value may (OR).
struct AuthzSource {
  std::vector<std::string> principals;  // "cluster.local/ns/a/sa/b" (no spiffe:// scheme)
  std::vector<std::string> not_principals;
  std::vector<std::string> namespaces;
  std::vector<std::string> not_namespaces;
  std::vector<std::string> ip_blocks;  // "10.0.0.0/8" or "10.0.0.5"
  std::vector<std::string> not_ip_blocks;
  std::vector<std::string> remote_ip_blocks;
  std::vector<std::string> not_remote_ip_blocks;
  // Kubernetes service accounts of the peer certificate: "<namespace>/<account>", or "<account>"
  // in the policy's own namespace. Exact names only; not with principals or namespaces.
  std::vector<std::string> service_accounts;
  std::vector<std::string> not_service_accounts;
  // Trust domains of the peer certificate ("cluster.local"; exact, prefix, suffix or presence).
  std::vector<std::string> trust_domains;
  std::vector<std::string> not_trust_domains;
};

// Rule.To.operation.
struct AuthzOperation {
  std::vector<std::string> hosts;
  std::vector<std::string> not_hosts;
  std::vector<std::string> ports;  // decimal strings, as in the Istio API
  std::vector<std::string> not_ports;
  std::vector<std::string> methods;
  std::vector<std::string> not_methods;
  std::vector<std::string> paths;
  std::vector<std::string> not_paths;
};

// Rule.when: one attribute ("source.ip", "request.headers[x-token]", ...).
struct AuthzCondition {
  std::string key;
  std::vector<std::string> values;
  std::vector<std::string> not_values;
};

// A rule matches when at least one `from`, one `to` and every `when` match; an absent list does
// not constrain, so the empty rule `{}` matches every request.
struct AuthzRule {
  std::vector<AuthzSource> from;
  std::vector<AuthzOperation> to;
  std::vector<AuthzCondition> when;
};

struct AuthorizationPolicy {
  PolicyMeta meta;
  // spec.selector.matchLabels; empty: every workload of the namespace (of the mesh in the root
  // namespace).
  Labels selector;
  AuthzAction action = AuthzAction::kAllow;
  // No rules: an ALLOW policy allows nothing (yet still makes ALLOW apply), DENY/AUDIT never match.
  std::vector<AuthzRule> rules;
};

// ---- networking.k8s.io/v1 NetworkPolicy ---------------------------------------------------------

struct IpBlock {
  std::string cidr;
  std::vector<std::string> except;
};

// NetworkPolicyPeer: either ipBlock, or podSelector and/or namespaceSelector (both: AND).
struct NetworkPolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<IpBlock> ip_block;
};

struct NetworkPolicyPort {
  std::string protocol = "TCP";  // TCP, UDP or SCTP; only TCP rules match proxied traffic
  // Neither set: every port of the protocol.
  std::optional<int32_t> port;           // a number, with optional end_port
  std::optional<std::string> port_name;  // a named container port (IANA_SVC_NAME)
  std::optional<int32_t> end_port;
};

// NetworkPolicyIngressRule / NetworkPolicyEgressRule: peers (from / to) and ports; an empty list
// does not constrain.
struct NetworkPolicyRule {
  std::vector<NetworkPolicyPeer> peers;
  std::vector<NetworkPolicyPort> ports;
};

enum class PolicyType { kIngress, kEgress };

struct NetworkPolicy {
  PolicyMeta meta;
  LabelSelector pod_selector;
  // As written. Empty means Kubernetes' default: Ingress, plus Egress when `egress` has a rule.
  std::vector<PolicyType> policy_types;
  std::vector<NetworkPolicyRule> ingress;
  std::vector<NetworkPolicyRule> egress;
};

// ---- security.istio.io PeerAuthentication ------------------------------------------------------

enum class MtlsMode { kUnset, kDisable, kPermissive, kStrict };
const char* ToString(MtlsMode mode);

struct PeerAuthentication {
  PolicyMeta meta;
  Labels selector;  // matchLabels; empty: namespace-wide (mesh-wide in the root namespace)
  MtlsMode mode = MtlsMode::kUnset;
  std::map<uint32_t, MtlsMode> port_level;  // portLevelMtls, keyed by workload port
};

// Everything an engine is compiled from.
struct PolicySet {
  std::vector<AuthorizationPolicy> authorization_policies;
  std::vector<NetworkPolicy> network_policies;
  std::vector<PeerAuthentication> peer_authentications;

  // Appends `other` (several files make one set).
  void Append(PolicySet other);
  size_t size() const {
    return authorization_policies.size() + network_policies.size() + peer_authentications.size();
  }
};

}  // namespace remora::filters
