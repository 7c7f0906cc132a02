// remoractl: the Remora operator CLI.
#include <grpc/grpc.h>

#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "ctl/authz_command.h"
#include "ctl/cert_command.h"
#include "ctl/command.h"
#include "ctl/config_commands.h"
#include "ctl/kube_inject_command.h"

namespace remora::ctl {

int Fail(int code, const std::string& message) {
  std::cerr << "remoractl: " << message << "\n";
  return code;
}

namespace {

std::vector<Command> Commands() {
  return {ApplyCommand(), DeleteCommand(), GetCommand(), ProxyStatusCommand(), ProxyConfigCommand(),
          AuthzCommand(), TokenCommand(),  CaCommand(),  CertCommand(),        KubeInjectCommand()};
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

// Holds gRPC initialized for the whole process and shuts it down on the main thread at the end.
// Without it, the last channel's destructor starts gRPC's shutdown on a detached thread that can
// still be running when main returns; that thread's OpenSSL 3 error state (904 bytes, freed only
// when the thread exits) then shows up as a leak under LeakSanitizer (grpc/grpc#38539), and the
// test that ran remoractl fails at random on a loaded machine.
class GrpcLifetime {
 public:
  GrpcLifetime() { grpc_init(); }
  ~GrpcLifetime() { grpc_shutdown_blocking(); }
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
