#include "iptables-init/options.h"

#include <algorithm>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace remora::iptables_init {
namespace {

// A bound on every list, so an annotation cannot make the rule set explode (the iptables backend
// writes one rule per excluded network and per group of 15 ports).
constexpr size_t kMaxListEntries = 256;

absl::Status FlagError(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), absl::ascii_isdigit);
}

absl::StatusOr<uint16_t> ParsePort(absl::string_view flag, absl::string_view text) {
  uint32_t port = 0;
  if (!AllDigits(text) || text.size() > 5 || !absl::SimpleAtoi(text, &port) || port < 1 ||
      port > 65535) {
    std::string hint = text.find('-') != absl::string_view::npos && AllDigits(text.substr(0, 1))
                           ? "; ranges are not supported, list the ports"
                           : "";
    return FlagError(flag, absl::StrCat("\"", text, "\" is not a port (1-65535)", hint));
  }
  return static_cast<uint16_t>(port);
}

// Splits a comma-separated list, trimming blanks around entries. "" is the empty list.
absl::StatusOr<std::vector<absl::string_view>> SplitList(absl::string_view flag,
                                                         absl::string_view text) {
  std::vector<absl::string_view> items;
  if (absl::StripAsciiWhitespace(text).empty()) return items;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return FlagError(flag, absl::StrCat("\"", text, "\" has an empty entry; separate ",
                                          "entries with single commas"));
    }
    if (items.size() == kMaxListEntries) {
      return FlagError(flag, absl::StrCat("more than ", kMaxListEntries, " entries"));
    }
    items.push_back(item);
  }
  return items;
}

absl::StatusOr<std::vector<uint16_t>> ParsePortList(absl::string_view flag,
                                                    absl::string_view text) {
  std::vector<absl::string_view> items;
  ASSIGN_OR_RETURN(items, SplitList(flag, text));
  std::vector<uint16_t> ports;
  for (absl::string_view item : items) {
    if (item == "*") {
      return FlagError(flag, "\"*\" is not allowed here: list the ports to exclude");
    }
    uint16_t port = 0;
    ASSIGN_OR_RETURN(port, ParsePort(flag, item));
    ports.push_back(port);
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

absl::StatusOr<PortSelection> ParsePortSelection(absl::string_view flag, absl::string_view text) {
  if (absl::StripAsciiWhitespace(text) == "*") return PortSelection{true, {}};
  std::vector<absl::string_view> items;
  ASSIGN_OR_RETURN(items, SplitList(flag, text));
  if (std::find(items.begin(), items.end(), "*") != items.end()) {
    return FlagError(flag, absl::StrCat("\"", text, "\": \"*\" (every port) must be alone"));
  }
  PortSelection selection;
  ASSIGN_OR_RETURN(selection.ports, ParsePortList(flag, text));
  return selection;
}

absl::StatusOr<std::vector<Cidr>> ParseCidrList(absl::string_view flag, absl::string_view text) {
  std::vector<absl::string_view> items;
  ASSIGN_OR_RETURN(items, SplitList(flag, text));
  std::vector<Cidr> cidrs;
  for (absl::string_view item : items) {
    if (item == "*") {
      return FlagError(flag, "\"*\" is not allowed here: list the networks to exclude");
    }
    absl::StatusOr<Cidr> cidr = Cidr::Parse(item);
    if (!cidr.ok()) return FlagError(flag, cidr.status().message());
    cidrs.push_back(*cidr);
  }
  return NormalizeCidrs(std::move(cidrs));
}

absl::StatusOr<CidrSelection> ParseCidrSelection(absl::string_view flag, absl::string_view text) {
  if (absl::StripAsciiWhitespace(text) == "*") return CidrSelection{true, {}};
  std::vector<absl::string_view> items;
  ASSIGN_OR_RETURN(items, SplitList(flag, text));
  if (std::find(items.begin(), items.end(), "*") != items.end()) {
    return FlagError(flag, absl::StrCat("\"", text, "\": \"*\" (everywhere) must be alone"));
  }
  CidrSelection selection;
  ASSIGN_OR_RETURN(selection.cidrs, ParseCidrList(flag, text));
  return selection;
}

// UID/GID 0 would exempt every root process (or the root group) from capture: the app's traffic
// would silently bypass the mesh. 2^32-1 is the kernel's "no ID" value.
absl::StatusOr<uint32_t> ParseId(absl::string_view flag, absl::string_view text,
                                 absl::string_view what) {
  uint32_t id = 0;
  if (!AllDigits(text) || text.size() > 10 || !absl::SimpleAtoi(text, &id) || id == 0xffffffffu) {
    return FlagError(flag,
                     absl::StrCat("\"", text, "\" is not a numeric ", what, " (1-4294967294)"));
  }
  if (id == 0) {
    return FlagError(flag, absl::StrCat("0 would exempt every process with ", what,
                                        " 0 (root) from capture; run the proxy as its own ", what,
                                        " (default 1337)"));
  }
  return id;
}

bool Contains(const std::vector<uint16_t>& ports, uint16_t port) {
  return std::binary_search(ports.begin(), ports.end(), port);
}

// A capture port in an exclusion list is a contradiction: it is where the proxy listens.
absl::Status CheckNoCapturePort(absl::string_view flag, const std::vector<uint16_t>& ports,
                                const CaptureOptions& o) {
  for (auto [port, name] : {std::pair{o.inbound_capture_port, "--inbound-capture-port"},
                            std::pair{o.outbound_capture_port, "--outbound-capture-port"}}) {
    if (Contains(ports, port)) {
      return FlagError(flag, absl::StrCat(port, " is a capture port (", name,
                                          "); capture ports cannot be excluded, remove it"));
    }
  }
  return absl::OkStatus();
}

// Removes from the sorted `ports` every port of the sorted `excluded`.
void RemovePorts(std::vector<uint16_t>* ports, const std::vector<uint16_t>& excluded) {
  ports->erase(std::remove_if(ports->begin(), ports->end(),
                              [&](uint16_t p) { return Contains(excluded, p); }),
               ports->end());
}

std::string JoinPorts(const std::vector<uint16_t>& ports) { return absl::StrJoin(ports, ","); }

std::string JoinCidrs(const std::vector<Cidr>& cidrs) {
  return absl::StrJoin(cidrs, ",",
                       [](std::string* out, const Cidr& c) { absl::StrAppend(out, c.ToString()); });
}

}  // namespace

std::vector<uint16_t> InboundExcludedPorts(const CaptureOptions& options) {
  std::vector<uint16_t> ports = options.exclude_inbound_ports;
  for (uint16_t p : {options.inbound_capture_port, options.outbound_capture_port, kAdminPort,
                     kReadinessPort, kPrometheusPort}) {
    ports.push_back(p);
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

absl::StatusOr<CaptureOptions> ParseCaptureOptions(const FlagValues& flags) {
  CaptureOptions o;
  ASSIGN_OR_RETURN(o.inbound_capture_port,
                   ParsePort("inbound-capture-port", flags.inbound_capture_port));
  ASSIGN_OR_RETURN(o.outbound_capture_port,
                   ParsePort("outbound-capture-port", flags.outbound_capture_port));
  if (o.inbound_capture_port == o.outbound_capture_port) {
    return absl::InvalidArgumentError(
        absl::StrCat("--inbound-capture-port and --outbound-capture-port are both ",
                     o.inbound_capture_port, "; the proxy listens on two different ports"));
  }
  ASSIGN_OR_RETURN(o.proxy_uid, ParseId("proxy-uid", flags.proxy_uid, "UID"));
  ASSIGN_OR_RETURN(o.proxy_gid, ParseId("proxy-gid", flags.proxy_gid, "GID"));

  ASSIGN_OR_RETURN(o.inbound_ports, ParsePortSelection("inbound-ports", flags.inbound_ports));
  ASSIGN_OR_RETURN(o.exclude_inbound_ports,
                   ParsePortList("exclude-inbound-ports", flags.exclude_inbound_ports));
  ASSIGN_OR_RETURN(o.outbound_ports, ParsePortSelection("outbound-ports", flags.outbound_ports));
  ASSIGN_OR_RETURN(o.exclude_outbound_ports,
                   ParsePortList("exclude-outbound-ports", flags.exclude_outbound_ports));
  ASSIGN_OR_RETURN(o.outbound_cidrs, ParseCidrSelection("outbound-cidrs", flags.outbound_cidrs));
  ASSIGN_OR_RETURN(o.exclude_outbound_cidrs,
                   ParseCidrList("exclude-outbound-cidrs", flags.exclude_outbound_cidrs));

  RETURN_IF_ERROR(CheckNoCapturePort("exclude-inbound-ports", o.exclude_inbound_ports, o));
  RETURN_IF_ERROR(CheckNoCapturePort("exclude-outbound-ports", o.exclude_outbound_ports, o));
  // Exclusions win. The sidecar injector builds --inbound-ports from the pod's container ports
  // and the exclusions from annotations, so a port in both is a declared port the user excluded
  // (istio-iptables behaves the same); the proxy's own ports are never captured either. A network
  // both included and excluded is left to the rules, which test exclusions first.
  RemovePorts(&o.inbound_ports.ports, InboundExcludedPorts(o));
  RemovePorts(&o.outbound_ports.ports, o.exclude_outbound_ports);

  const std::string ipv6 = absl::AsciiStrToLower(absl::StripAsciiWhitespace(flags.ipv6));
  if (ipv6 == "auto") {
    o.ipv6 = Ipv6Mode::kAuto;
  } else if (ipv6 == "on") {
    o.ipv6 = Ipv6Mode::kOn;
  } else if (ipv6 == "off") {
    o.ipv6 = Ipv6Mode::kOff;
  } else {
    return FlagError("ipv6", absl::StrCat("\"", flags.ipv6, "\" is not auto, on or off"));
  }

  const std::string backend = absl::AsciiStrToLower(absl::StripAsciiWhitespace(flags.backend));
  bool known_backend = false;
  for (Backend b : {Backend::kAuto, Backend::kNft, Backend::kIptables, Backend::kIptablesNft,
                    Backend::kIptablesLegacy}) {
    if (backend == BackendName(b)) {
      o.backend = b;
      known_backend = true;
    }
  }
  if (!known_backend) {
    return FlagError("backend", absl::StrCat("\"", flags.backend, "\" is not a backend (auto, ",
                                             "nft, iptables, iptables-nft, iptables-legacy)"));
  }
  return o;
}

FlagValues ToFlagValues(const CaptureOptions& o) {
  FlagValues f;
  f.inbound_capture_port = absl::StrCat(o.inbound_capture_port);
  f.outbound_capture_port = absl::StrCat(o.outbound_capture_port);
  f.proxy_uid = absl::StrCat(o.proxy_uid);
  f.proxy_gid = absl::StrCat(o.proxy_gid);
  f.inbound_ports = o.inbound_ports.all ? "*" : JoinPorts(o.inbound_ports.ports);
  f.exclude_inbound_ports = JoinPorts(o.exclude_inbound_ports);
  f.outbound_ports = o.outbound_ports.all ? "*" : JoinPorts(o.outbound_ports.ports);
  f.exclude_outbound_ports = JoinPorts(o.exclude_outbound_ports);
  f.outbound_cidrs = o.outbound_cidrs.all ? "*" : JoinCidrs(o.outbound_cidrs.cidrs);
  f.exclude_outbound_cidrs = JoinCidrs(o.exclude_outbound_cidrs);
  f.ipv6 = o.ipv6 == Ipv6Mode::kOn ? "on" : o.ipv6 == Ipv6Mode::kOff ? "off" : "auto";
  f.backend = std::string(BackendName(o.backend));
  return f;
}

absl::string_view BackendName(Backend backend) {
  switch (backend) {
    case Backend::kAuto:
      return "auto";
    case Backend::kNft:
      return "nft";
    case Backend::kIptables:
      return "iptables";
    case Backend::kIptablesNft:
      return "iptables-nft";
    case Backend::kIptablesLegacy:
      return "iptables-legacy";
  }
  return "unknown";
}

}  // namespace remora::iptables_init
