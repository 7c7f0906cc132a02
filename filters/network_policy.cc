#include "filters/network_policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace remora::filters {
namespace {

using Peer = CompiledNetworkPolicy::Peer;
using Port = CompiledNetworkPolicy::Port;

// The source pod's namespace: from the registry, else from its verified certificate.
absl::string_view SourceNamespace(const RequestAttributes& r) {
  if (!r.source.ns.empty()) return r.source.ns;
  return PrincipalNamespace(r.source.principal);
}

// The other end of the traffic, as a NetworkPolicy peer sees it.
struct PeerView {
  absl::string_view ns;
  const Labels& labels;
  const Labels& namespace_labels;
  const std::optional<IpAddress>& ip;
};

PeerView ViewOf(PolicyType type, const RequestAttributes& r) {
  if (type == PolicyType::kIngress) {
    return {SourceNamespace(r), r.source.labels, r.source.namespace_labels, r.source.ip};
  }
  return {r.destination.ns, r.destination.labels, r.destination.namespace_labels, r.destination.ip};
}

bool PeerMatches(const Peer& peer, const PeerView& v, absl::string_view policy_ns) {
  if (peer.cidr.has_value()) {
    if (!v.ip.has_value() || !peer.cidr->Contains(*v.ip)) return false;
    return std::none_of(peer.except.begin(), peer.except.end(),
                        [&](const Cidr& c) { return c.Contains(*v.ip); });
  }
  if (v.ns.empty()) return false;  // not a known pod: pod and namespace selectors cannot match
  if (peer.namespace_selector.has_value()) {
    if (!MatchesNamespace(*peer.namespace_selector, v.ns, v.namespace_labels)) return false;
  } else if (v.ns != policy_ns) {
    return false;
  }
  return !peer.pod_selector.has_value() || peer.pod_selector->Matches(v.labels);
}

bool PortMatches(const Port& port, const RequestAttributes& r) {
  if (!port.tcp) return false;
  if (!port.name.empty()) return r.destination.port_name == port.name;
  if (!port.number.has_value()) return true;
  return r.destination.port != 0 && r.destination.port >= *port.number &&
         r.destination.port <= port.end;
}

bool AnyPeer(const std::vector<Peer>& peers, const PeerView& v, absl::string_view ns) {
  return peers.empty() || std::any_of(peers.begin(), peers.end(),
                                      [&](const Peer& p) { return PeerMatches(p, v, ns); });
}

bool AnyPort(const std::vector<Port>& ports, const RequestAttributes& r) {
  return ports.empty() ||
         std::any_of(ports.begin(), ports.end(), [&](const Port& p) { return PortMatches(p, r); });
}

std::string DescribePeer(const Peer& p, const std::string& policy_ns) {
  if (p.cidr.has_value()) {
    std::string out = absl::StrCat("ipBlock ", p.cidr->ToString());
    if (!p.except.empty()) {
      std::vector<std::string> except;
      for (const Cidr& c : p.except) except.push_back(c.ToString());
      absl::StrAppend(&out, " except [", absl::StrJoin(except, ", "), "]");
    }
    return out;
  }
  std::string pods = p.pod_selector.has_value() ? absl::StrCat("pods ", p.pod_selector->ToString())
                                                : std::string("any pod");
  std::string nss = p.namespace_selector.has_value()
                        ? absl::StrCat("namespaces ", p.namespace_selector->ToString())
                        : absl::StrCat("namespace ", policy_ns);
  return absl::StrCat(pods, " in ", nss);
}

std::string DescribeSeen(const PeerView& v) {
  const std::string ip = v.ip.has_value() ? v.ip->ToString() : "(unknown ip)";
  if (v.ns.empty()) return absl::StrCat(ip, " (not a known pod)");
  std::string out = absl::StrCat("pod ", FormatLabels(v.labels), " in namespace ", v.ns);
  if (!v.namespace_labels.empty()) {
    absl::StrAppend(&out, " (namespace labels ", FormatLabels(v.namespace_labels), ")");
  }
  return absl::StrCat(out, " at ", ip);
}

std::string DescribePort(const Port& p) {
  if (!p.name.empty()) return absl::StrCat(p.protocol, " named ", p.name);
  if (!p.number.has_value()) return absl::StrCat(p.protocol, " any port");
  if (p.end != *p.number) return absl::StrCat(p.protocol, " ", *p.number, "-", p.end);
  return absl::StrCat(p.protocol, " ", *p.number);
}

std::string DescribeSeenPort(const RequestAttributes& r) {
  std::string out =
      absl::StrCat("TCP ", r.destination.port == 0 ? std::string("(unknown port)")
                                                   : absl::StrCat(r.destination.port));
  if (!r.destination.port_name.empty())
    absl::StrAppend(&out, " (named ", r.destination.port_name, ")");
  return out;
}

// Kubernetes' IsValidPortName (IANA_SVC_NAME).
absl::Status ValidatePortName(absl::string_view name) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" is not a valid port name: ", why));
  };
  if (name.empty() || name.size() > 15) return invalid("must be 1 to 15 characters");
  bool letter = false;
  for (char c : name) {
    if (absl::ascii_islower(static_cast<unsigned char>(c))) {
      letter = true;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return invalid("must contain only lowercase letters, digits and '-'");
    }
  }
  if (!letter) return invalid("must contain at least one letter");
  if (name.front() == '-' || name.back() == '-') return invalid("must not begin or end with '-'");
  if (name.find("--") != absl::string_view::npos) return invalid("must not contain \"--\"");
  return absl::OkStatus();
}

absl::Status Error(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

absl::StatusOr<CompiledNetworkPolicy::Rule> CompileRule(const NetworkPolicyRule& rule,
                                                        const std::string& path,
                                                        absl::string_view peers_field) {
  CompiledNetworkPolicy::Rule out;
  for (size_t j = 0; j < rule.ports.size(); ++j) {
    const NetworkPolicyPort& in = rule.ports[j];
    const std::string ppath = absl::StrCat(path, ".ports[", j, "]");
    Port port;
    port.protocol = in.protocol;
    if (in.protocol != "TCP" && in.protocol != "UDP" && in.protocol != "SCTP") {
      return Error(ppath + ".protocol",
                   absl::StrCat("unsupported value \"", in.protocol,
                                "\": supported values: \"TCP\", \"UDP\", \"SCTP\""));
    }
    port.tcp = in.protocol == "TCP";
    if (in.port.has_value() && in.port_name.has_value()) {
      return Error(ppath + ".port", "is either a number or a name, not both");
    }
    if (in.port.has_value()) {
      if (*in.port < 1 || *in.port > 65535) {
        return Error(ppath + ".port",
                     absl::StrCat(*in.port, " must be between 1 and 65535, inclusive"));
      }
      port.number = static_cast<uint16_t>(*in.port);
      port.end = static_cast<uint16_t>(*in.port);
    }
    if (in.port_name.has_value()) {
      if (absl::Status s = ValidatePortName(*in.port_name); !s.ok()) {
        return Error(ppath + ".port", s.message());
      }
      port.name = *in.port_name;
    }
    if (in.end_port.has_value()) {
      if (!in.port.has_value()) {
        return Error(ppath + ".endPort", in.port_name.has_value()
                                             ? "may not be specified when `port` is non-numeric"
                                             : "may not be specified when `port` is not specified");
      }
      if (*in.end_port < *in.port || *in.end_port > 65535) {
        return Error(ppath + ".endPort",
                     absl::StrCat(*in.end_port,
                                  " must be greater than or equal to `port` and at most 65535"));
      }
      port.end = static_cast<uint16_t>(*in.end_port);
    }
    out.ports.push_back(std::move(port));
  }
  for (size_t j = 0; j < rule.peers.size(); ++j) {
    const NetworkPolicyPeer& in = rule.peers[j];
    const std::string ppath = absl::StrCat(path, ".", peers_field, "[", j, "]");
    Peer peer;
    if (in.ip_block.has_value()) {
      if (in.pod_selector.has_value() || in.namespace_selector.has_value()) {
        return Error(ppath, "may not specify both ipBlock and another peer");
      }
      if (in.ip_block->cidr.empty()) return Error(ppath + ".ipBlock.cidr", "is required");
      absl::StatusOr<Cidr> cidr = Cidr::Parse(in.ip_block->cidr);
      if (!cidr.ok()) return Error(ppath + ".ipBlock.cidr", cidr.status().message());
      peer.cidr = *cidr;
      for (size_t k = 0; k < in.ip_block->except.size(); ++k) {
        const std::string epath = absl::StrCat(ppath, ".ipBlock.except[", k, "]");
        absl::StatusOr<Cidr> except = Cidr::Parse(in.ip_block->except[k]);
        if (!except.ok()) return Error(epath, except.status().message());
        if (!cidr->Contains(*except) || except->prefix_length() == cidr->prefix_length()) {
          return Error(epath,
                       absl::StrCat("\"", in.ip_block->except[k],
                                    "\" must be a strict subset of `cidr` ", in.ip_block->cidr));
        }
        peer.except.push_back(*except);
      }
    } else if (!in.pod_selector.has_value() && !in.namespace_selector.has_value()) {
      return Error(ppath, "must specify a peer (podSelector, namespaceSelector or ipBlock)");
    }
    if (in.pod_selector.has_value()) {
      if (absl::Status s = ValidateLabelSelector(*in.pod_selector, ppath + ".podSelector");
          !s.ok()) {
        return s;
      }
      peer.pod_selector = in.pod_selector;
    }
    if (in.namespace_selector.has_value()) {
      if (absl::Status s =
              ValidateLabelSelector(*in.namespace_selector, ppath + ".namespaceSelector");
          !s.ok()) {
        return s;
      }
      peer.namespace_selector = in.namespace_selector;
    }
    out.peers.push_back(std::move(peer));
  }
  return out;
}

}  // namespace

std::string NetworkPolicyRuleName(PolicyType type, size_t rule) {
  return absl::StrCat(type == PolicyType::kIngress ? "ingress[" : "egress[", rule, "]");
}

absl::StatusOr<CompiledNetworkPolicy> CompiledNetworkPolicy::Compile(const NetworkPolicy& policy) {
  CompiledNetworkPolicy c;
  c.meta_ = policy.meta;
  c.id_ = policy.meta.Id();
  c.pod_selector_ = policy.pod_selector;
  if (absl::Status s = ValidateLabelSelector(policy.pod_selector, "spec.podSelector"); !s.ok()) {
    return s;
  }
  if (policy.policy_types.empty()) {
    // Kubernetes' defaulting (SetDefaults_NetworkPolicy): Ingress always, Egress when the policy
    // has egress rules.
    c.ingress_ = true;
    c.egress_ = !policy.egress.empty();
  } else {
    for (PolicyType t : policy.policy_types) {
      (t == PolicyType::kIngress ? c.ingress_ : c.egress_) = true;
    }
  }
  for (size_t i = 0; i < policy.ingress.size(); ++i) {
    absl::StatusOr<Rule> rule =
        CompileRule(policy.ingress[i], absl::StrCat("spec.ingress[", i, "]"), "from");
    if (!rule.ok()) return rule.status();
    c.ingress_rules_.push_back(*std::move(rule));
  }
  for (size_t i = 0; i < policy.egress.size(); ++i) {
    absl::StatusOr<Rule> rule =
        CompileRule(policy.egress[i], absl::StrCat("spec.egress[", i, "]"), "to");
    if (!rule.ok()) return rule.status();
    c.egress_rules_.push_back(*std::move(rule));
  }
  return c;
}

bool CompiledNetworkPolicy::RuleMatches(PolicyType type, size_t index,
                                        const RequestAttributes& r) const {
  const Rule& rule = rules(type)[index];
  if (!AnyPort(rule.ports, r)) return false;
  if (rule.peers.empty()) return true;
  return AnyPeer(rule.peers, ViewOf(type, r), meta_.ns);
}

std::string CompiledNetworkPolicy::ExplainMiss(PolicyType type, size_t index,
                                               const RequestAttributes& r) const {
  const Rule& rule = rules(type)[index];
  const char* peers_field = type == PolicyType::kIngress ? "from" : "to";
  const PeerView v = ViewOf(type, r);
  std::vector<std::string> parts;
  if (!AnyPeer(rule.peers, v, meta_.ns)) {
    std::vector<std::string> expected;
    for (const Peer& p : rule.peers) expected.push_back(DescribePeer(p, meta_.ns));
    parts.push_back(absl::StrCat(peers_field, " expected [", absl::StrJoin(expected, " | "),
                                 "] got ", DescribeSeen(v)));
  }
  if (!AnyPort(rule.ports, r)) {
    std::vector<std::string> expected;
    for (const Port& p : rule.ports) expected.push_back(DescribePort(p));
    parts.push_back(absl::StrCat("ports expected [", absl::StrJoin(expected, ", "), "] got ",
                                 DescribeSeenPort(r)));
  }
  return absl::StrJoin(parts, "; ");
}

std::string CompiledNetworkPolicy::ExplainMatch(PolicyType type, size_t index,
                                                const RequestAttributes& r) const {
  const Rule& rule = rules(type)[index];
  const char* peers_field = type == PolicyType::kIngress ? "from" : "to";
  const PeerView v = ViewOf(type, r);
  std::vector<std::string> parts;
  if (rule.peers.empty()) {
    parts.push_back(absl::StrCat(peers_field, " any peer"));
  } else {
    for (const Peer& p : rule.peers) {
      if (PeerMatches(p, v, meta_.ns)) {
        parts.push_back(absl::StrCat(peers_field, " ", DescribePeer(p, meta_.ns), " matched ",
                                     DescribeSeen(v)));
        break;
      }
    }
  }
  if (rule.ports.empty()) {
    parts.push_back("any port");
  } else {
    for (const Port& p : rule.ports) {
      if (PortMatches(p, r)) {
        parts.push_back(absl::StrCat("port ", DescribePort(p), " matched ", DescribeSeenPort(r)));
        break;
      }
    }
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace remora::filters
