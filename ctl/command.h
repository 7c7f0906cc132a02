// A remoractl subcommand: parses its own flags and returns the process exit status.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace remora::ctl {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  std::string name;     // "cert", "authz", ...
  std::string summary;  // one line for `remoractl --help`
  // argv[0] is "remoractl <name>".
  std::function<int(int argc, const char* const* argv)> run;
};

// Prints "remoractl: <message>" to stderr and returns `code`.
int Fail(int code, const std::string& message);

}  // namespace remora::ctl
