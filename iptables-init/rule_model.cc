#include "iptables-init/rule_model.h"

namespace remora::iptables_init {
namespace {

// Conditions, one at a time: Match has no constructor, and designated initializers that skip
// members draw -Wmissing-field-initializers.
Match Tcp() {
  Match m;
  m.tcp = true;
  return m;
}
Match Ports(std::vector<uint16_t> ports) {
  Match m;
  m.ports = std::move(ports);
  return m;
}
Match OwnerUid(uint32_t uid) {
  Match m;
  m.owner_uid = uid;
  return m;
}
Match OwnerGid(uint32_t gid) {
  Match m;
  m.owner_gid = gid;
  return m;
}
Match OutInterface(std::string name) {
  Match m;
  m.out_interface = std::move(name);
  return m;
}
Match Destinations(RuleFamily family, std::vector<Cidr> cidrs) {
  Match m;
  m.family = family;
  m.destinations = std::move(cidrs);
  return m;
}

Verdict Return() { return {Verdict::Kind::kReturn, ChainId::kInbound, 0}; }
Verdict Jump(ChainId target) { return {Verdict::Kind::kJump, target, 0}; }
Verdict Redirect(uint16_t port) { return {Verdict::Kind::kRedirect, ChainId::kInbound, port}; }

std::vector<Cidr> OfFamily(const std::vector<Cidr>& cidrs, IpFamily family) {
  std::vector<Cidr> out;
  for (const Cidr& c : cidrs) {
    if (c.family() == family) out.push_back(c);
  }
  return out;
}

RuleFamily ToRuleFamily(IpFamily family) {
  return family == IpFamily::kIpv4 ? RuleFamily::kIpv4 : RuleFamily::kIpv6;
}

Cidr Loopback(IpFamily family) {
  return *Cidr::Parse(family == IpFamily::kIpv4 ? "127.0.0.1/32" : "::1/128");
}

bool CapturesInbound(const CaptureOptions& o) {
  return o.inbound_ports.all || !o.inbound_ports.ports.empty();
}

Chain InboundChain(const CaptureOptions& o) {
  Chain chain{ChainId::kInbound, {}};
  chain.rules.push_back({Ports(InboundExcludedPorts(o)), Return()});
  if (o.inbound_ports.all) {
    chain.rules.push_back({Tcp(), Jump(ChainId::kInboundRedirect)});
  } else if (!o.inbound_ports.ports.empty()) {
    chain.rules.push_back({Ports(o.inbound_ports.ports), Jump(ChainId::kInboundRedirect)});
  }
  return chain;
}

Cidr PassthroughSource(IpFamily family) {
  return *Cidr::Parse(family == IpFamily::kIpv4 ? kInboundPassthroughSourceIpv4
                                                : kInboundPassthroughSourceIpv6);
}

Chain OutboundChain(const CaptureOptions& o, const std::vector<IpFamily>& families) {
  Chain chain{ChainId::kOutbound, {}};
  // The proxy forwarding an inbound connection to the app at the pod's own address (see the
  // header): it reaches the app as it is, before the self-call rule below could capture it.
  for (IpFamily family : families) {
    Match passthrough = OutInterface("lo");
    passthrough.family = ToRuleFamily(family);
    passthrough.source = PassthroughSource(family);
    chain.rules.push_back({passthrough, Return()});
  }
  // The proxy's own connections are never captured, except a call to the pod's own address (it
  // leaves through lo): that one goes through the inbound rules, so a pod calling itself meets
  // its own inbound policy. Loopback destinations (the proxy reaching the app on 127.0.0.1) are
  // left alone.
  const auto proxy_rules = [&](Match owner) {
    if (CapturesInbound(o)) {
      for (IpFamily family : families) {
        Match self_call = owner;
        self_call.family = ToRuleFamily(family);
        self_call.out_interface = "lo";
        self_call.destination_not = Loopback(family);
        chain.rules.push_back({self_call, Jump(ChainId::kInbound)});
      }
    }
    chain.rules.push_back({owner, Return()});
  };
  proxy_rules(OwnerUid(o.proxy_uid));
  proxy_rules(OwnerGid(o.proxy_gid));
  // The app talking to itself (localhost, or its own pod IP, which the kernel routes over lo).
  chain.rules.push_back({OutInterface("lo"), Return()});

  if (!o.exclude_outbound_ports.empty()) {
    chain.rules.push_back({Ports(o.exclude_outbound_ports), Return()});
  }
  for (IpFamily family : families) {
    std::vector<Cidr> excluded = OfFamily(o.exclude_outbound_cidrs, family);
    if (!excluded.empty()) {
      chain.rules.push_back({Destinations(ToRuleFamily(family), excluded), Return()});
    }
  }

  // What is left is the app's traffic leaving the pod: capture the selected destinations.
  // Destinations and ports must both be selected (each "*" selects everything).
  Match selected = Ports(o.outbound_ports.ports);
  selected.tcp = true;
  const bool any_port = o.outbound_ports.all || !o.outbound_ports.ports.empty();
  if (any_port && o.outbound_cidrs.all) {
    chain.rules.push_back({selected, Jump(ChainId::kOutboundRedirect)});
  } else if (any_port) {
    for (IpFamily family : families) {
      Match m = selected;
      m.family = ToRuleFamily(family);
      m.destinations = OfFamily(o.outbound_cidrs.cidrs, family);
      if (!m.destinations.empty()) chain.rules.push_back({m, Jump(ChainId::kOutboundRedirect)});
    }
  }
  return chain;
}

}  // namespace

bool AppliesTo(const Match& match, RuleFamily family) {
  return match.family == RuleFamily::kAny || match.family == family;
}

RuleModel BuildRuleModel(const CaptureOptions& o, bool ipv6) {
  RuleModel model;
  model.ipv6 = ipv6;
  std::vector<IpFamily> families{IpFamily::kIpv4};
  if (ipv6) families.push_back(IpFamily::kIpv6);
  // With IPv6 off, IPv6 traffic must not even enter our chains (the nft table is `inet`).
  const RuleFamily hook_family = ipv6 ? RuleFamily::kAny : RuleFamily::kIpv4;
  if (CapturesInbound(o)) {
    model.hooks.push_back({HookJump::Hook::kPrerouting, hook_family, ChainId::kInbound});
  }
  model.hooks.push_back({HookJump::Hook::kOutput, hook_family, ChainId::kOutbound});

  model.chains.push_back(InboundChain(o));
  model.chains.push_back({ChainId::kInboundRedirect, {{Tcp(), Redirect(o.inbound_capture_port)}}});
  model.chains.push_back(OutboundChain(o, families));
  model.chains.push_back(
      {ChainId::kOutboundRedirect, {{Tcp(), Redirect(o.outbound_capture_port)}}});
  return model;
}

}  // namespace remora::iptables_init
