// Network namespaces for tests: a namespace and a veth pair that delete themselves, and commands
// run inside a namespace. Everything created here is removed on scope exit, also when a test
// fails; namespaces left by a test process that was killed are swept by the next Create.
//
// Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); a Bazel test using it must be tagged "local"
// (the sandbox cannot create namespaces) and skip when !IsRoot().
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iptables-init/command_runner.h"

namespace remora::iptables_init::testing {

bool IsRoot();

// Runs a command (argv[0] found as SubprocessRunner does) and returns how it went.
absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv,
                                  absl::string_view input = "");
// Runs a command that must succeed; the error carries the command line and its stderr.
absl::Status RunOk(const std::vector<std::string>& argv, absl::string_view input = "");

class NetNs {
 public:
  // Creates "<prefix>-<pid>-<n>" (`ip netns add`) with lo up. First deletes namespaces named
  // "<prefix>-<pid>-*" whose process is gone (a test killed before its destructors ran).
  static absl::StatusOr<NetNs> Create(absl::string_view prefix = "remora-t");

  NetNs(NetNs&& other) noexcept;
  NetNs& operator=(NetNs&& other) noexcept;
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;
  // Kills the processes still inside (they were started by this test) and deletes it.
  ~NetNs();

  const std::string& name() const { return name_; }
  // The namespace file, for setns(2): /run/netns/<name>.
  std::string path() const;

  // `ip netns exec <name> argv...`
  absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv,
                                    absl::string_view input = "") const;
  absl::Status RunOk(const std::vector<std::string>& argv, absl::string_view input = "") const;

 private:
  explicit NetNs(std::string name) : name_(std::move(name)) {}
  void Destroy();
  std::string name_;
};

// A veth pair joining two namespaces, each end with its addresses ("192.0.2.1/24",
// "fd00:72::1/64"; IPv6 addresses skip duplicate address detection so they work at once).
class VethPair {
 public:
  struct End {
    const NetNs* ns = nullptr;
    std::string device;  // e.g. "eth0"; unique within its namespace
    std::vector<std::string> addresses;
    // No link-local address of the kernel's own (addrgenmode none): the end has exactly the IPv6
    // addresses listed, e.g. only "fe80::2/64".
    bool only_listed_ipv6 = false;
  };
  static absl::StatusOr<VethPair> Create(End a, End b);

  VethPair(VethPair&& other) noexcept;
  VethPair& operator=(VethPair&& other) noexcept;
  VethPair(const VethPair&) = delete;
  VethPair& operator=(const VethPair&) = delete;
  // Deletes the pair (deleting one end removes both). Destroy it before its namespaces, or let
  // the namespaces go first: deleting a namespace deletes its veth end too.
  ~VethPair();

 private:
  VethPair(std::string ns, std::string device) : ns_(std::move(ns)), device_(std::move(device)) {}
  void Destroy();
  std::string ns_;  // namespace holding end a
  std::string device_;
};

}  // namespace remora::iptables_init::testing
