#include "tests/e2e/node_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace remora::e2e {
namespace {

using iptables_init::CommandResult;
using iptables_init::testing::NetNs;
using iptables_init::testing::Run;
using iptables_init::testing::RunOk;

constexpr char kLinkPrefix[] = "rmr-";

// Holds an exclusive flock(2) on a file for its lifetime.
class FileLock {
 public:
  static absl::StatusOr<FileLock> Acquire() {
    for (const char* path : {"/run/lock/remora-e2e-network.lock", "/tmp/remora-e2e-network.lock"}) {
      int fd = ::open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) continue;
      if (::flock(fd, LOCK_EX) != 0) {
        const int error = errno;
        ::close(fd);
        return absl::UnavailableError(absl::StrCat("flock ", path, ": ", std::strerror(error)));
      }
      return FileLock(fd);
    }
    return absl::UnavailableError("cannot open a lock file in /run/lock or /tmp");
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

struct Prefix {
  uint32_t address = 0;  // host byte order
  int length = 0;
};

std::optional<Prefix> ParsePrefix(absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, '/');
  Prefix p;
  p.length = 32;
  if (!parts.second.empty() &&
      (!absl::SimpleAtoi(parts.second, &p.length) || p.length < 0 || p.length > 32)) {
    return std::nullopt;
  }
  in_addr a{};
  if (::inet_pton(AF_INET, std::string(parts.first).c_str(), &a) != 1) return std::nullopt;
  p.address = ntohl(a.s_addr);
  return p;
}

bool Overlaps(const Prefix& a, const Prefix& b) {
  const int length = std::min(a.length, b.length);
  const uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
  return (a.address & mask) == (b.address & mask);
}

// Every IPv4 prefix this machine routes or owns, in any routing table, except the default route.
absl::StatusOr<std::vector<Prefix>> UsedPrefixes() {
  absl::StatusOr<CommandResult> routes = Run({"ip", "-4", "route", "show", "table", "all"});
  if (!routes.ok()) return routes.status();
  if (!routes->ok()) return absl::UnavailableError(absl::StrCat("ip route: ", routes->err));
  static const std::set<std::string> kTypes = {"unicast", "local",       "broadcast", "multicast",
                                               "throw",   "unreachable", "prohibit",  "blackhole",
                                               "nat",     "anycast"};
  std::vector<Prefix> used;
  for (absl::string_view line : absl::StrSplit(routes->out, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    absl::string_view destination = words[0];
    if (kTypes.count(std::string(destination)) != 0 && words.size() > 1) destination = words[1];
    if (destination == "default") continue;
    if (std::optional<Prefix> p = ParsePrefix(destination); p.has_value()) used.push_back(*p);
  }
  return used;
}

absl::StatusOr<std::string> ChooseSubnet() {
  absl::StatusOr<std::vector<Prefix>> used = UsedPrefixes();
  if (!used.ok()) return used.status();
  for (const char* base : {"10.213.", "172.30.", "192.168."}) {
    for (int third = 0; third < 256; ++third) {
      const std::string prefix = absl::StrCat(base, third, ".");
      const Prefix candidate = *ParsePrefix(absl::StrCat(prefix, "0/24"));
      bool free = true;
      for (const Prefix& p : *used) free = free && !Overlaps(p, candidate);
      if (free) return prefix;
    }
  }
  return absl::ResourceExhaustedError(
      "no free /24 in 10.213.0.0/16, 172.30.0.0/16 or 192.168.0.0/16: this machine routes all "
      "of them");
}

// The process id in a name made by this harness, or nullopt. `from_end` counts dash-separated
// components from the end: 0 for "rmr-<pid>", 1 for "rmr-<pid>-<n>" and "<tag>-<pod>-<pid>-<n>".
std::optional<int> PidInName(absl::string_view name, size_t from_end) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '-');
  if (parts.size() < from_end + 2) return std::nullopt;
  int pid = 0;
  if (!absl::SimpleAtoi(parts[parts.size() - 1 - from_end], &pid) || pid <= 1) return std::nullopt;
  return pid;
}

bool DeadPid(std::optional<int> pid) { return pid.has_value() && !ProcessAlive(*pid); }

}  // namespace

bool ProcessAlive(int pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie (killed, not yet reaped by a parent that may never do it) is gone too.
  std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  std::getline(file, stat);
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.size() < paren + 3 ||
         (stat[paren + 2] != 'Z' && stat[paren + 2] != 'X');
}

absl::StatusOr<NodeNetwork> NodeNetwork::Create() {
  absl::StatusOr<FileLock> lock = FileLock::Acquire();
  if (!lock.ok()) return lock.status();
  absl::StatusOr<std::string> prefix = ChooseSubnet();
  if (!prefix.ok()) return prefix.status();
  NodeNetwork node(absl::StrCat(kLinkPrefix, ::getpid()), *prefix);
  if (absl::Status s = RunOk({"ip", "link", "add", node.bridge_, "type", "bridge"}); !s.ok()) {
    node.bridge_.clear();  // nothing to delete
    return s;
  }
  // Holding the lock until the address (and with it the route) exists keeps the choice unique.
  for (std::vector<std::string> argv :
       {std::vector<std::string>{"ip", "addr", "add", node.Address(1) + "/24", "dev", node.bridge_},
        {"ip", "link", "set", node.bridge_, "up"}}) {
    if (absl::Status s = RunOk(argv); !s.ok()) return s;
  }
  return node;
}

NodeNetwork::NodeNetwork(NodeNetwork&& other) noexcept
    : bridge_(std::exchange(other.bridge_, "")),
      prefix_(std::move(other.prefix_)),
      links_(std::exchange(other.links_, {})) {}

NodeNetwork& NodeNetwork::operator=(NodeNetwork&& other) noexcept {
  if (this != &other) {
    Destroy();
    bridge_ = std::exchange(other.bridge_, "");
    prefix_ = std::move(other.prefix_);
    links_ = std::exchange(other.links_, {});
  }
  return *this;
}

NodeNetwork::~NodeNetwork() { Destroy(); }

void NodeNetwork::Destroy() {
  // Deleting either end of a veth deletes both; a pod namespace deleted first took its pair along
  // and these fail harmlessly.
  for (const std::string& link : links_) (void)Run({"ip", "link", "del", link});
  links_.clear();
  if (!bridge_.empty()) (void)Run({"ip", "link", "del", bridge_});
  bridge_.clear();
}

std::string NodeNetwork::Address(int host) const { return absl::StrCat(prefix_, host); }

std::string NodeNetwork::subnet() const { return absl::StrCat(prefix_, "0/24"); }

absl::Status NodeNetwork::Attach(const NetNs& ns, int host,
                                 std::vector<std::vector<std::string>>* commands) {
  const std::string link = absl::StrCat(bridge_, "-", host);
  const std::vector<std::vector<std::string>> steps = {
      // The peer is created inside the pod's namespace, so its name never meets the node's eth0.
      {"ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns.name()},
      {"ip", "link", "set", link, "master", bridge_, "up"},
      {"ip", "-n", ns.name(), "addr", "add", absl::StrCat(Address(host), "/24"), "dev", "eth0"},
      {"ip", "-n", ns.name(), "link", "set", "eth0", "up"}};
  for (size_t i = 0; i < steps.size(); ++i) {
    if (commands != nullptr) commands->push_back(steps[i]);
    if (absl::Status s = RunOk(steps[i]); !s.ok()) return s;
    if (i == 0) links_.push_back(link);
  }
  return absl::OkStatus();
}

std::vector<std::string> SweepLeftovers(absl::string_view tag) {
  std::vector<std::string> removed;
  const std::string ns_prefix = absl::StrCat(tag, "-");
  if (absl::StatusOr<CommandResult> list = Run({"ip", "netns", "list"}); list.ok() && list->ok()) {
    for (absl::string_view line : absl::StrSplit(list->out, '\n', absl::SkipEmpty())) {
      const std::string name(line.substr(0, line.find(' ')));  // "name (id: 3)"
      if (!absl::StartsWith(name, ns_prefix) || !DeadPid(PidInName(name, 1))) continue;
      if (absl::StatusOr<CommandResult> pids = Run({"ip", "netns", "pids", name});
          pids.ok() && pids->ok()) {
        for (absl::string_view p : absl::StrSplit(pids->out, '\n', absl::SkipEmpty())) {
          int pid = 0;
          if (absl::SimpleAtoi(p, &pid) && pid > 1 && pid != ::getpid()) ::kill(pid, SIGKILL);
        }
      }
      (void)Run({"ip", "netns", "del", name});
      removed.push_back(absl::StrCat("network namespace ", name));
    }
  }
  if (absl::StatusOr<CommandResult> links = Run({"ip", "-o", "link", "show"});
      links.ok() && links->ok()) {
    for (absl::string_view line : absl::StrSplit(links->out, '\n', absl::SkipEmpty())) {
      // "12: rmr-4242-3@if2: <BROADCAST,..."
      std::vector<absl::string_view> fields = absl::StrSplit(line, ": ");
      if (fields.size() < 2) continue;
      const std::string name(fields[1].substr(0, fields[1].find('@')));
      if (!absl::StartsWith(name, kLinkPrefix)) continue;
      const size_t dashes = std::count(name.begin(), name.end(), '-');
      if (dashes > 2 || !DeadPid(PidInName(name, dashes - 1))) continue;
      (void)Run({"ip", "link", "del", name});
      removed.push_back(absl::StrCat("link ", name));
    }
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename().string();
    absl::string_view rest = name;
    int pid = 0;
    if (!absl::ConsumePrefix(&rest, ns_prefix) || !absl::SimpleAtoi(rest, &pid) || pid <= 1 ||
        ProcessAlive(pid) || !entry.is_directory(ec)) {
      continue;
    }
    std::filesystem::remove_all(entry.path(), ec);
    removed.push_back(absl::StrCat("directory ", entry.path().string()));
  }
  return removed;
}

}  // namespace remora::e2e
