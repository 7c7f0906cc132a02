// remora-init: installs (or removes) the Remora traffic-capture rules in the current network
// namespace. Runs as the pod's init container, with the flags the sidecar injector writes.
#include <csignal>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "iptables-init/command_runner.h"
#include "iptables-init/installer.h"
#include "iptables-init/options.h"

namespace {

constexpr int kExitFailure = 1;

constexpr char kUsage[] =
    "remora-init: installs the Remora sidecar's traffic-capture rules in the current network\n"
    "namespace (the pod's init container runs it as root, or with CAP_NET_ADMIN).\n"
    "\n"
    "usage: remora-init [flags]\n"
    "\n"
    "Inbound TCP to the pod is redirected to the proxy's inbound capture port and outbound TCP\n"
    "to its outbound capture port. Connections of the proxy's UID or GID are not captured, apart\n"
    "from its calls to the pod's own IP, which take the inbound path; the proxy's connections to\n"
    "the app from 127.0.0.6 / ::6 (Istio's inbound passthrough source; ::6 is added to lo) and "
    "the\n"
    "app's loopback traffic are not captured; the proxy's own ports (15000, 15021, 15090 and the\n"
    "capture ports) are never captured inbound. An outbound connection is captured when its\n"
    "destination is in --outbound-cidrs and its port in --outbound-ports, and neither is\n"
    "excluded: exclusions always win over inclusions.\n"
    "\n"
    "Port lists are comma-separated (8080,9090); \"*\" means every port; an empty list captures\n"
    "nothing in that direction. CIDR lists likewise (10.0.0.0/8,fd00::/8).\n"
    "\n"
    "Backends: nft (one table, inet remora, replaced atomically) is the default wherever nftables\n"
    "works; iptables (nat chains REMORA_*, one iptables-restore transaction per address family)\n"
    "detects the node's variant, or name it: iptables-nft, iptables-legacy. Running again gives\n"
    "the same rules, and removes ours left by another backend; --cleanup removes only ours\n"
    "(with backend auto: from every backend). --dry-run reads the rules but changes nothing.\n"
    "\n"
    "Exit status: 0 done, 1 the rules could not be read or applied (the failing command and its\n"
    "error are printed), 2 bad flags (nothing was changed).";

// Whether this process may change the namespace's rules (CAP_NET_ADMIN is capability 12), so a
// failure can say the likely reason when it may not.
bool HasNetAdmin() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    uint64_t caps = 0;
    if (absl::ConsumePrefix(&rest, "CapEff:") &&
        absl::SimpleHexAtoi(absl::StripAsciiWhitespace(rest), &caps)) {
      return (caps & (uint64_t{1} << 12)) != 0;
    }
  }
  return true;  // cannot tell: say nothing
}

int Fail(absl::string_view message) {
  std::cerr << "remora-init: " << message << "\n";
  if (!HasNetAdmin()) {
    std::cerr << "remora-init: this process lacks CAP_NET_ADMIN: run it as root, or grant the init "
                 "container NET_ADMIN (and NET_RAW for iptables)\n";
  }
  return kExitFailure;
}

int Usage(const std::string& message) {
  std::cerr << "remora-init: " << message << "\nrun remora-init --help for usage\n";
  return remora::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  using remora::iptables_init::FlagValues;
  FlagValues values;
  bool dry_run = false;
  bool cleanup = false;
  remora::FlagSet flags("remora-init", kUsage);
  flags.String("inbound-capture-port", &values.inbound_capture_port,
               "port the proxy accepts captured inbound connections on");
  flags.String("outbound-capture-port", &values.outbound_capture_port,
               "port the proxy accepts captured outbound connections on");
  flags.String("proxy-uid", &values.proxy_uid,
               "UID the proxy runs as; its connections are not captured");
  flags.String("proxy-gid", &values.proxy_gid,
               "GID the proxy runs as; its connections are not captured");
  flags.String("inbound-ports", &values.inbound_ports,
               "inbound ports to capture: \"*\" (all) or a list; empty: no inbound capture");
  flags.String("exclude-inbound-ports", &values.exclude_inbound_ports,
               "inbound ports never captured, besides the proxy's own");
  flags.String("outbound-ports", &values.outbound_ports,
               "outbound destination ports to capture: \"*\" (all) or a list");
  flags.String("exclude-outbound-ports", &values.exclude_outbound_ports,
               "outbound destination ports never captured");
  flags.String("outbound-cidrs", &values.outbound_cidrs,
               "outbound destinations to capture: \"*\" (all) or a list of CIDRs; empty: none");
  flags.String("exclude-outbound-cidrs", &values.exclude_outbound_cidrs,
               "outbound destinations never captured (CIDRs)");
  flags.String("ipv6", &values.ipv6,
               "capture IPv6 too: auto (when an interface other than lo has any IPv6 address, "
               "link-local included), on, off");
  flags.String("backend", &values.backend, "auto, nft, iptables, iptables-nft, iptables-legacy");
  flags.Bool("dry-run", &dry_run, "print exactly what would be applied and change nothing");
  flags.Bool("cleanup", &cleanup, "remove the capture rules instead of installing them");

  std::vector<std::string> positional;
  absl::Status parsed = flags.Parse(argc, argv, &positional);
  if (absl::IsCancelled(parsed)) return 0;
  if (!parsed.ok()) return Usage(std::string(parsed.message()));
  if (!positional.empty())
    return Usage(absl::StrCat("unexpected argument \"", positional[0], "\""));
  absl::StatusOr<remora::iptables_init::CaptureOptions> options =
      remora::iptables_init::ParseCaptureOptions(values);
  if (!options.ok()) return Usage(std::string(options.status().message()));

  remora::iptables_init::SubprocessRunner runner;
  remora::iptables_init::Environment env{&runner};
  absl::StatusOr<remora::iptables_init::Plan> plan =
      cleanup ? remora::iptables_init::PlanCleanup(*options, env)
              : remora::iptables_init::PlanInstall(*options, env);
  if (!plan.ok()) return Fail(plan.status().message());
  for (const std::string& note : plan->notes) std::cerr << "remora-init: note: " << note << "\n";
  // The script goes to stdout both ways: with --dry-run it is the answer, otherwise the record
  // of what the init container applied.
  std::cout << remora::iptables_init::FormatSteps(*plan) << std::flush;
  const char* verb = cleanup ? "remove" : "install";
  if (plan->steps.empty()) {
    std::cerr << "remora-init: nothing to " << verb << " (" << plan->summary << ")\n";
    return 0;
  }
  if (dry_run) {
    std::cerr << "remora-init: dry run: would " << verb << " the capture rules with "
              << plan->summary << "; nothing was changed\n";
    return 0;
  }
  if (absl::Status s = remora::iptables_init::ExecutePlan(*plan, runner); !s.ok()) {
    return Fail(s.message());
  }
  std::cerr << "remora-init: " << (cleanup ? "removed" : "installed") << " the capture rules ("
            << plan->summary << ")\n";
  return 0;
}
