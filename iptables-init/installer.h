// What remora-init does to the namespace it runs in: look at it (which backend works, whether it
// has IPv6, what rules are there), plan the commands that install or remove the capture rules,
// then run them, undoing the first family's change if the second one fails.
//
// Planning only reads (nft list tables, iptables-save); every change is in the plan's steps, so
// --dry-run prints the steps and stops, and what it prints is exactly what a run would apply.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iptables-init/command_runner.h"
#include "iptables-init/options.h"

namespace remora::iptables_init {

// The namespace as the installer sees it.
struct Environment {
  CommandRunner* runner = nullptr;
  // Lists the IPv6 addresses of the namespace the process runs in (per network namespace).
  std::string if_inet6_path = "/proc/net/if_inet6";
};

struct Command {
  std::vector<std::string> argv;
  std::string input;  // standard input: the rules script
};

// One change: a transaction of nft or iptables-restore.
struct Step {
  std::string purpose;  // "install the IPv4 capture rules (iptables-nft)"
  Command command;
  // Puts back what `command` changed; run when a later step fails.
  std::optional<Command> undo;
};

struct Plan {
  std::string summary;             // "nft (table inet remora), IPv4 and IPv6"
  std::vector<std::string> notes;  // things worth telling the operator
  std::vector<Step> steps;         // empty when there is nothing to change
};

absl::StatusOr<Plan> PlanInstall(const CaptureOptions& options, Environment& env);
absl::StatusOr<Plan> PlanCleanup(const CaptureOptions& options, Environment& env);

// The steps as `# command` followed by its input, ready to be read (or piped to the command):
// what --dry-run prints and what a run logs.
std::string FormatSteps(const Plan& plan);

// Runs the steps in order. When one fails, the undo commands of the steps before it run (latest
// first) and the error names the command that failed, its standard error, and whether the undo
// worked.
absl::Status ExecutePlan(const Plan& plan, CommandRunner& runner);

// Whether /proc/net/if_inet6 content lists any address (link-local included) on an interface
// other than lo: the pod's IPv6 stack is up, so IPv6 can reach it and must be captured (--ipv6=auto
// never leaves IPv6 open; issue 16).
bool HasIpv6OutsideLoopback(absl::string_view if_inet6);

}  // namespace remora::iptables_init
