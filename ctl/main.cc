// remoractl: the Remora operator CLI.
#include <grpc/grpc.h>

#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ctl/authz_command.h"
#include "ctl/cert_command.h"
#include "ctl/command.h"
#include "ctl/config_commands.h"
#include "ctl/install_command.h"
#include "ctl/kube_inject_command.h"

namespace remora::ctl {

int Fail(int code, const std::string& message) {
  std::cerr << "remoractl: " << message << "\n";
  return code;
}

namespace {

std::vector<Command> Commands() {
  return {ApplyCommand(),       DeleteCommand(),     GetCommand(),     ProxyStatusCommand(),
          ProxyConfigCommand(), AuthzCommand(),      TokenCommand(),   CaCommand(),
          CertCommand(),        KubeInjectCommand(), InstallCommand(), UninstallCommand(),
          WaitCommand()};
}

std::string Usage() {
  std::string out =
      "remoractl: operate a Remora mesh.\n\nusage: remoractl COMMAND [flags]   (remoractl COMMAND "
      "--help for each)\n\ncommands:\n";
  for (const Command& c : Commands())
    absl::StrAppend(&out, "  ", c.name, std::string(16 - std::min<size_t>(c.name.size(), 15), ' '),
                    c.summary, "\n");
  return out;
}

// Holds gRPC initialized for the whole process and makes the final shutdown happen here, on the
// main thread, before main returns. gRPC 1.51 tears a destroyed channel down asynchronously, and
// that teardown holds its own reference to the library; whoever drops the last reference runs
// the shutdown, on a detached thread when it is not grpc_shutdown_blocking. An executor thread
// still alive when the process exits leaves its OpenSSL 3 error state (904 bytes, freed only at
// thread exit) behind, which LeakSanitizer reports as a leak (grpc/grpc#38539): remoractl failed
// about 1 run in 60 under ASan. Here remoractl waits, bounded, until its own reference is the
// last, so grpc_shutdown_blocking joins every gRPC thread. 1.51 has no completion signal for the
// teardown (grpc_wait_for_shutdown_with_timeout came later), so it polls.
class GrpcLifetime {
 public:
  GrpcLifetime() { grpc_init(); }
  ~GrpcLifetime() {
    const absl::Time deadline = absl::Now() + absl::Seconds(2);
    grpc_shutdown_blocking();
    while (grpc_is_initialized() && absl::Now() < deadline) {
      grpc_init();  // someone else still holds a reference: take ours back and let them finish
      absl::SleepFor(absl::Milliseconds(5));
      grpc_shutdown_blocking();
    }
  }
  GrpcLifetime(const GrpcLifetime&) = delete;
  GrpcLifetime& operator=(const GrpcLifetime&) = delete;
};

}  // namespace
}  // namespace remora::ctl

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const remora::ctl::GrpcLifetime grpc;
  using remora::ctl::Commands;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    std::cout << remora::ctl::Usage();
    return argc < 2 ? remora::ctl::kExitUsage : 0;
  }
  for (const remora::ctl::Command& c : Commands()) {
    if (c.name != argv[1]) continue;
    std::string name = absl::StrCat("remoractl ", c.name);
    std::vector<const char*> args{name.c_str()};
    for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
    try {
      return c.run(static_cast<int>(args.size()), args.data());
    } catch (const std::exception& e) {
      return remora::ctl::Fail(remora::ctl::kExitFailure,
                               absl::StrCat("internal error: ", e.what()));
    }
  }
  return remora::ctl::Fail(remora::ctl::kExitUsage, absl::StrCat("unknown command \"", argv[1],
                                                                 "\"\n\n", remora::ctl::Usage()));
}
