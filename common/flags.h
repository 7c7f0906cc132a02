// A small command-line flag set with a readable --help, shared by every Remora binary.
//
// Flags are declared once with their default, type and help; `Parse` fills the bound variables and
// returns positional arguments. abseil's flags would also work, but their --help lists abseil's own
// flags grouped by source file, which is not what an operator wants to read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace remora {

class FlagSet {
 public:
  // `usage` is the first line(s) of --help: what the program does and how to call it.
  FlagSet(std::string program, std::string usage);

  void String(std::string name, std::string* target, std::string help);
  void Int(std::string name, int64_t* target, std::string help);
  void Bool(std::string name, bool* target, std::string help);
  // Accepts Go-style durations: "300ms", "10s", "5m", "1h30m".
  void Duration(std::string name, absl::Duration* target, std::string help);
  // A flag that may be given several times; each occurrence is appended.
  void StringList(std::string name, std::vector<std::string>* target, std::string help);

  // Parses argv[1..]. Returns kCancelled after printing --help to stdout (the caller exits 0);
  // kInvalidArgument naming the flag and the problem on bad input. Arguments that are not flags,
  // and everything after "--", are appended to `positional`.
  absl::Status Parse(int argc, const char* const* argv, std::vector<std::string>* positional);

  std::string Help() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<absl::Status(absl::string_view)> set;
  };
  absl::Status Set(Flag& flag, absl::string_view value);

  std::string program_;
  std::string usage_;
  std::vector<Flag> flags_;
};

// Exit code convention for every binary: 0 ok, 2 bad usage.
inline constexpr int kExitUsage = 2;

}  // namespace remora
