// A remoractl subcommand: parses its own flags and returns the process exit status.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/flags.h"

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

// Parses a subcommand's flags. Returns the exit status to end with when the command must stop
// here (--help printed, or a bad flag reported), otherwise nullopt with the positional arguments
// in `args`.
inline std::optional<int> ParseFlags(FlagSet& flags, int argc, const char* const* argv,
                                     std::vector<std::string>* args) {
  absl::Status parsed = flags.Parse(argc, argv, args);
  if (absl::IsCancelled(parsed)) return kExitOk;
  if (!parsed.ok()) return Fail(kExitUsage, std::string(parsed.message()));
  return std::nullopt;
}

}  // namespace remora::ctl
