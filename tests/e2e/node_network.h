// The node's side of an end-to-end mesh: a Linux bridge in the root network namespace holding
// the first address of a /24 that nothing on this machine routes yet, and one veth per pod
// plugged into it. Everything is named after the creating process ("rmr-<pid>" for the bridge,
// "rmr-<pid>-<host>" for the node end of a pod's veth) and deleted on scope exit; what a killed
// process left behind is found by that name and removed by SweepLeftovers.
//
// Needs root; tests using it are tagged "local" and skip when not root.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iptables-init/testing/netns.h"

namespace remora::e2e {

class NodeNetwork {
 public:
  // Creates the bridge with address <subnet>.1/24. The subnet is the first of 10.213.0.0/16,
  // 172.30.0.0/16 and 192.168.0.0/16 (in /24 steps) that overlaps no route of this machine;
  // concurrent callers choose under a file lock, so two meshes never share one.
  static absl::StatusOr<NodeNetwork> Create();

  NodeNetwork(NodeNetwork&& other) noexcept;
  NodeNetwork& operator=(NodeNetwork&& other) noexcept;
  NodeNetwork(const NodeNetwork&) = delete;
  NodeNetwork& operator=(const NodeNetwork&) = delete;
  ~NodeNetwork();

  const std::string& bridge() const { return bridge_; }
  // "<subnet>.<host>", e.g. Address(1) is the node's own address on the bridge.
  std::string Address(int host) const;
  std::string node_ip() const { return Address(1); }
  std::string subnet() const;  // "10.213.7.0/24"

  // Plugs `ns` in: "eth0" inside it with Address(host)/24, its peer "rmr-<pid>-<host>" on the
  // bridge. Returns the commands it ran, for a narrator.
  absl::Status Attach(const iptables_init::testing::NetNs& ns, int host,
                      std::vector<std::vector<std::string>>* commands = nullptr);

 private:
  NodeNetwork(std::string bridge, std::string prefix)
      : bridge_(std::move(bridge)), prefix_(std::move(prefix)) {}
  void Destroy();

  std::string bridge_;
  std::string prefix_;  // "10.213.7."
  std::vector<std::string> links_;
};

// Removes what runs killed before their cleanup left behind: network namespaces named
// "<tag>-<anything>-<pid>-<n>" (and the processes inside them), links named "rmr-<pid>" or
// "rmr-<pid>-<n>", and run directories "/tmp/<tag>-<pid>", for every <pid> that is no longer a
// running process. Returns what it removed, one line each.
std::vector<std::string> SweepLeftovers(absl::string_view tag);

// Whether `pid` names a running process.
bool ProcessAlive(int pid);

}  // namespace remora::e2e
