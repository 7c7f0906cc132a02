// Running the programs that change the rules (nft, iptables-restore, ip): argv in, exit code and
// output out. An interface, so the installer's decisions can be tested with a scripted fake.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace remora::iptables_init {

struct CommandResult {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs `argv` with `input` on its standard input and returns what it wrote and how it exited.
  // A non-zero exit is a result, not an error: the status is NotFound when argv[0] is not an
  // installed program and DeadlineExceeded when it does not finish in time (it is then killed).
  virtual absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv,
                                            absl::string_view input = "") = 0;
  // Whether `program` can be run (an absolute path, or a name found as by Run).
  virtual bool HasProgram(absl::string_view program) = 0;
};

// Runs real programs. A bare name is looked up in PATH, then in /usr/local/sbin, /usr/sbin and
// /sbin, where distributions install nft and iptables even when PATH omits them. The caller must
// ignore SIGPIPE (every Remora main does) so a program that exits early cannot kill it.
class SubprocessRunner : public CommandRunner {
 public:
  explicit SubprocessRunner(absl::Duration timeout = absl::Seconds(60)) : timeout_(timeout) {}
  absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv,
                                    absl::string_view input = "") override;
  bool HasProgram(absl::string_view program) override;

 private:
  absl::Duration timeout_;
};

// The absolute path `program` resolves to by the rules above, or "" if there is none.
std::string FindProgram(absl::string_view program);

// argv as a shell would read it, for messages: nft -f -, ip netns exec 'a b' ...
std::string CommandLine(const std::vector<std::string>& argv);

// "`nft -f -` failed (exit 1): Error: Could not process rule: Operation not permitted", with the
// program's standard error (or output, if it wrote nothing there) trimmed.
std::string DescribeFailure(const std::vector<std::string>& argv, const CommandResult& result);

}  // namespace remora::iptables_init
