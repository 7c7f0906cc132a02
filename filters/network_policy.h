// One Kubernetes NetworkPolicy compiled for evaluation (kubernetes.io/docs/concepts/services-
// networking/network-policies, API networking.k8s.io/v1):
//  * the policy selects pods of its namespace by podSelector; a pod selected by any policy of a
//    direction is isolated in that direction and allowed only what the union of those policies'
//    rules allows (the engine composes that; this type matches one policy's rules);
//  * a rule matches when one peer (absent list: any) and one port (absent list: any) match;
//  * a peer is an ipBlock (cidr minus except), or pods: podSelector alone means pods of the
//    policy's namespace, namespaceSelector alone every pod of the matching namespaces, both
//    together pods matching podSelector inside the matching namespaces;
//  * ports: only TCP entries match proxied traffic; a named port matches the destination
//    container port of that name; endPort makes a range.
// Ingress rules are matched against the source of inbound traffic (the selected pod is the
// destination); egress rules against the destination of outbound traffic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "filters/ip_address.h"
#include "filters/policy.h"
#include "filters/request.h"

namespace remora::filters {

class CompiledNetworkPolicy {
 public:
  struct Peer {
    std::optional<LabelSelector> pod_selector;
    std::optional<LabelSelector> namespace_selector;
    std::optional<Cidr> cidr;
    std::vector<Cidr> except;
  };
  struct Port {
    bool tcp = true;
    std::string protocol;
    std::optional<uint16_t> number;
    uint16_t end = 0;  // inclusive; == number without endPort
    std::string name;
  };
  struct Rule {
    std::vector<Peer> peers;
    std::vector<Port> ports;
  };

  // Validates as the Kubernetes API server does (ValidateNetworkPolicySpec) and compiles.
  // InvalidArgument naming the field: "spec.ingress[0].from[1].ipBlock.except[0]: ...".
  static absl::StatusOr<CompiledNetworkPolicy> Compile(const NetworkPolicy& policy);

  const PolicyMeta& meta() const { return meta_; }
  const std::string& id() const { return id_; }
  const LabelSelector& pod_selector() const { return pod_selector_; }
  // Policy types after Kubernetes' defaulting.
  bool affects(PolicyType type) const { return type == PolicyType::kIngress ? ingress_ : egress_; }
  const std::vector<Rule>& rules(PolicyType type) const {
    return type == PolicyType::kIngress ? ingress_rules_ : egress_rules_;
  }

  bool RuleMatches(PolicyType type, size_t rule, const RequestAttributes& request) const;
  std::string ExplainMiss(PolicyType type, size_t rule, const RequestAttributes& request) const;
  std::string ExplainMatch(PolicyType type, size_t rule, const RequestAttributes& request) const;

 private:
  CompiledNetworkPolicy() = default;

  PolicyMeta meta_;
  std::string id_;
  LabelSelector pod_selector_;
  bool ingress_ = false;
  bool egress_ = false;
  std::vector<Rule> ingress_rules_;
  std::vector<Rule> egress_rules_;
};

// "ingress[0]" / "egress[2]": how explanations and decisions name a NetworkPolicy rule.
std::string NetworkPolicyRuleName(PolicyType type, size_t rule);

}  // namespace remora::filters
