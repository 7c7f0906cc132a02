#include "iptables-init/testing/netns.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace remora::iptables_init::testing {
namespace {

std::atomic<int> next_id{0};

std::vector<std::string> NetnsNames() {
  std::vector<std::string> names;
  absl::StatusOr<CommandResult> list = Run({"ip", "netns", "list"});
  if (!list.ok() || !list->ok()) return names;
  // "name" or "name (id: 3)"
  for (absl::string_view line : absl::StrSplit(list->out, '\n', absl::SkipEmpty())) {
    names.emplace_back(line.substr(0, line.find(' ')));
  }
  return names;
}

void KillProcessesIn(const std::string& name) {
  absl::StatusOr<CommandResult> pids = Run({"ip", "netns", "pids", name});
  if (!pids.ok() || !pids->ok()) return;
  for (absl::string_view line : absl::StrSplit(pids->out, '\n', absl::SkipEmpty())) {
    int pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 1 && pid != ::getpid()) ::kill(pid, SIGKILL);
  }
}

void DeleteNetns(const std::string& name) {
  KillProcessesIn(name);
  (void)Run({"ip", "netns", "del", name});
}

// Namespaces "<prefix>-<pid>-<n>" whose test process no longer exists.
void SweepStale(absl::string_view prefix) {
  for (const std::string& name : NetnsNames()) {
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, prefix) || !absl::ConsumePrefix(&rest, "-")) continue;
    int pid = 0;
    if (!absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) || pid <= 1) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) DeleteNetns(name);
  }
}

}  // namespace

bool IsRoot() { return ::geteuid() == 0; }

absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv, absl::string_view input) {
  SubprocessRunner runner(absl::Seconds(60));
  return runner.Run(argv, input);
}

absl::Status RunOk(const std::vector<std::string>& argv, absl::string_view input) {
  absl::StatusOr<CommandResult> result = Run(argv, input);
  if (!result.ok()) return result.status();
  if (!result->ok()) return absl::InternalError(DescribeFailure(argv, *result));
  return absl::OkStatus();
}

absl::StatusOr<NetNs> NetNs::Create(absl::string_view prefix) {
  SweepStale(prefix);
  NetNs ns(absl::StrCat(prefix, "-", ::getpid(), "-", next_id++));
  if (absl::Status s = testing::RunOk({"ip", "netns", "add", ns.name_}); !s.ok()) {
    ns.name_.clear();  // nothing to delete
    return s;
  }
  if (absl::Status s = ns.RunOk({"ip", "link", "set", "lo", "up"}); !s.ok()) return s;
  return ns;
}

NetNs::NetNs(NetNs&& other) noexcept : name_(std::exchange(other.name_, "")) {}

NetNs& NetNs::operator=(NetNs&& other) noexcept {
  if (this != &other) {
    Destroy();
    name_ = std::exchange(other.name_, "");
  }
  return *this;
}

NetNs::~NetNs() { Destroy(); }

void NetNs::Destroy() {
  if (name_.empty()) return;
  DeleteNetns(name_);
  name_.clear();
}

std::string NetNs::path() const { return absl::StrCat("/run/netns/", name_); }

absl::StatusOr<CommandResult> NetNs::Run(const std::vector<std::string>& argv,
                                         absl::string_view input) const {
  std::vector<std::string> full{"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return testing::Run(full, input);
}

absl::Status NetNs::RunOk(const std::vector<std::string>& argv, absl::string_view input) const {
  std::vector<std::string> full{"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return testing::RunOk(full, input);
}

absl::StatusOr<VethPair> VethPair::Create(End a, End b) {
  if (a.ns == nullptr || b.ns == nullptr) return absl::InvalidArgumentError("veth end without ns");
  // Created inside a's namespace with the peer placed straight into b's, so the names never
  // meet in the host namespace.
  if (absl::Status s = a.ns->RunOk({"ip", "link", "add", a.device, "type", "veth", "peer", "name",
                                    b.device, "netns", b.ns->name()});
      !s.ok()) {
    return s;
  }
  VethPair pair(a.ns->name(), a.device);
  for (const End* end : {&a, &b}) {
    if (end->only_listed_ipv6) {
      if (absl::Status s =
              end->ns->RunOk({"ip", "link", "set", end->device, "addrgenmode", "none"});
          !s.ok()) {
        return s;
      }
    }
    for (const std::string& address : end->addresses) {
      std::vector<std::string> argv{"ip", "addr", "add", address, "dev", end->device};
      if (absl::StrContains(address, ':')) argv.push_back("nodad");
      if (absl::Status s = end->ns->RunOk(argv); !s.ok()) return s;
    }
    if (absl::Status s = end->ns->RunOk({"ip", "link", "set", end->device, "up"}); !s.ok()) {
      return s;
    }
  }
  return pair;
}

VethPair::VethPair(VethPair&& other) noexcept
    : ns_(std::exchange(other.ns_, "")), device_(std::exchange(other.device_, "")) {}

VethPair& VethPair::operator=(VethPair&& other) noexcept {
  if (this != &other) {
    Destroy();
    ns_ = std::exchange(other.ns_, "");
    device_ = std::exchange(other.device_, "");
  }
  return *this;
}

VethPair::~VethPair() { Destroy(); }

void VethPair::Destroy() {
  if (ns_.empty()) return;
  // Fails harmlessly when the namespace (and with it the pair) is already gone.
  (void)Run({"ip", "-n", ns_, "link", "del", device_});
  ns_.clear();
}

}  // namespace remora::iptables_init::testing
