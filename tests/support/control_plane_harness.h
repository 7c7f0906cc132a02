// Runs remora-control and remoractl for integration tests, and writes proxy configurations that
// join the mesh through the control plane.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/process.h"

namespace remora::testing {

// A free TCP port on 127.0.0.1 (for a process that must come back on the same address).
int FreePort();

class ControlPlaneProcess {
 public:
  // Starts remora-control with its state in <dir>/state, listening on 127.0.0.1:`port` (0: any).
  static absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> Start(
      const std::string& dir, int port = 0, std::vector<std::string> extra_args = {});

  const std::string& address() const { return address_; }
  std::string state_dir() const { return dir_ + "/state"; }
  std::string ca_bundle() const { return state_dir() + "/ca-bundle.pem"; }
  const std::string& admin() const { return admin_; }
  const std::string& webhook() const { return webhook_; }
  // The plaintext development xDS port (--dev-listen), "" when off.
  const std::string& dev() const { return dev_; }
  Subprocess& process() { return process_; }
  std::string Log() const { return process_.Log(); }

 private:
  ControlPlaneProcess(Subprocess p, std::string dir, std::string address, std::string admin,
                      std::string webhook, std::string dev)
      : process_(std::move(p)),
        dir_(std::move(dir)),
        address_(std::move(address)),
        admin_(std::move(admin)),
        webhook_(std::move(webhook)),
        dev_(std::move(dev)) {}
  Subprocess process_;
  std::string dir_;
  std::string address_;
  std::string admin_;
  std::string webhook_;
  std::string dev_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs remoractl against `control` with `args`.
CommandResult Remoractl(const ControlPlaneProcess& control, const std::vector<std::string>& args,
                        const std::string& stdin_file = "");

// YAML for a proxy in control-plane mode: certificate from the CA (token in `token_file`),
// configuration over xDS, listeners from `listeners_yaml`.
std::string MeshProxyConfig(const ControlPlaneProcess& control, const std::string& token_file,
                            const std::string& ns, const std::string& name, const std::string& sa,
                            const std::string& listeners_yaml, const std::string& extra = "");

}  // namespace remora::testing
