// The capture rules as data: one model, rendered by each backend (nftables, iptables-restore).
//
// The rules follow istio-iptables' proven shape. Inbound (PREROUTING): the proxy's own ports and
// excluded ports return, selected ports are redirected to the inbound capture port. Outbound
// (OUTPUT): the proxy's traffic (UID or GID) returns, except when it calls the pod's own IP over
// lo, which goes through the inbound checks (a pod calling itself through its service gets the
// same policy as any caller); the app's other loopback traffic returns; excluded ports and networks
// return; selected destinations are redirected to the outbound capture port. Every rule only sees
// the first packet of a connection (nat hooks), so established traffic costs nothing.
//
// The proxy reaches the app at the connection's original destination (the pod's own address), not
// at 127.0.0.1, so a listener the app bound to localhost only is never exposed (Istio since 1.10).
// That connection leaves through lo like a self-call, so it binds a source address of its own,
// 127.0.0.6 (::6 for IPv6), and the first outbound rule lets connections from that source over lo
// through untouched; without it they would be captured again and loop through the proxy. This is
// istio-iptables' `-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN` (and ::6/128 for ip6tables).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iptables-init/cidr.h"
#include "iptables-init/options.h"

namespace remora::iptables_init {

// The source addresses of the proxy's connections to the app (Istio's inbound passthrough
// addresses; a contract with remora-proxy, proxy/inbound). IPv4's whole 127.0.0.0/8 is local; ::6
// is not, so remora-init adds it to lo when it captures IPv6 (as istio-iptables does).
inline constexpr char kInboundPassthroughSourceIpv4[] = "127.0.0.6";
inline constexpr char kInboundPassthroughSourceIpv6[] = "::6";

// Which address family a rule applies to. kAny rules are rendered for both.
enum class RuleFamily { kAny, kIpv4, kIpv6 };

enum class ChainId { kInbound, kInboundRedirect, kOutbound, kOutboundRedirect };

// Every condition present must hold; absent ones match anything.
struct Match {
  RuleFamily family = RuleFamily::kAny;  // must agree with the addresses below
  std::string out_interface;             // "" = any
  std::optional<uint32_t> owner_uid;     // socket owner (OUTPUT only)
  std::optional<uint32_t> owner_gid;
  std::optional<Cidr> source;           // source in this network
  std::optional<Cidr> destination_not;  // destination outside this network
  std::vector<Cidr> destinations;       // destination in any of these (one family); empty = any
  std::vector<uint16_t> ports;          // TCP destination port in any of these; empty = any
  bool tcp = false;                     // TCP, even without a port condition
  friend bool operator==(const Match&, const Match&) = default;
};

struct Verdict {
  enum class Kind { kReturn, kJump, kRedirect };
  Kind kind = Kind::kReturn;
  ChainId target = ChainId::kInbound;  // kJump
  uint16_t redirect_port = 0;          // kRedirect: to this port on the local host
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

struct Rule {
  Match match;
  Verdict verdict;
  friend bool operator==(const Rule&, const Rule&) = default;
};

struct Chain {
  ChainId id;
  std::vector<Rule> rules;
};

// The jump from a built-in hook into our chains, for TCP only.
struct HookJump {
  enum class Hook { kPrerouting, kOutput };
  Hook hook;
  RuleFamily family;
  ChainId target;
};

struct RuleModel {
  bool ipv6 = false;  // whether IPv6 traffic is captured at all
  std::vector<HookJump> hooks;
  std::vector<Chain> chains;  // every ChainId, in declaration order
};

// Pure: the same options always give the same model. `ipv6` is the resolved --ipv6 setting.
RuleModel BuildRuleModel(const CaptureOptions& options, bool ipv6);

// Whether a rule applies to `family` (kIpv4 or kIpv6).
bool AppliesTo(const Match& match, RuleFamily family);

}  // namespace remora::iptables_init
