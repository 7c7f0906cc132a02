#include "common/flags.h"

#include <iostream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace remora {

FlagSet::FlagSet(std::string program, std::string usage)
    : program_(std::move(program)), usage_(std::move(usage)) {}

void FlagSet::String(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), absl::StrCat("\"", *target, "\""), false,
                    [target](absl::string_view v) {
                      *target = std::string(v);
                      return absl::OkStatus();
                    }});
}

void FlagSet::Int(std::string name, int64_t* target, std::string help) {
  flags_.push_back(
      {name, std::move(help), absl::StrCat(*target), false, [target, name](absl::string_view v) {
         if (!absl::SimpleAtoi(v, target)) {
           return absl::InvalidArgumentError(
               absl::StrCat("--", name, ": \"", v, "\" is not an integer"));
         }
         return absl::OkStatus();
       }});
}

void FlagSet::Bool(std::string name, bool* target, std::string help) {
  flags_.push_back({name, std::move(help), *target ? "true" : "false", true,
                    [target, name](absl::string_view v) {
                      if (v == "true" || v == "1" || v.empty()) {
                        *target = true;
                      } else if (v == "false" || v == "0") {
                        *target = false;
                      } else {
                        return absl::InvalidArgumentError(
                            absl::StrCat("--", name, ": \"", v, "\" is not true or false"));
                      }
                      return absl::OkStatus();
                    }});
}

void FlagSet::Duration(std::string name, absl::Duration* target, std::string help) {
  flags_.push_back({name, std::move(help), absl::FormatDuration(*target), false,
                    [target, name](absl::string_view v) {
                      if (!absl::ParseDuration(v, target) || *target < absl::ZeroDuration()) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("--", name, ": \"", v,
                                         "\" is not a duration (examples: 500ms, 10s, 5m)"));
                      }
                      return absl::OkStatus();
                    }});
}

void FlagSet::StringList(std::string name, std::vector<std::string>* target, std::string help) {
  flags_.push_back(
      {std::move(name), std::move(help), "(none)", false, [target](absl::string_view v) {
         target->emplace_back(v);
         return absl::OkStatus();
       }});
}

absl::Status FlagSet::Set(Flag& flag, absl::string_view value) { return flag.set(value); }

absl::Status FlagSet::Parse(int argc, const char* const* argv,
                            std::vector<std::string>* positional) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional->emplace_back(argv[i]);
      break;
    }
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::cout << Help();
      return absl::CancelledError("help printed");
    }
    if (arg.size() < 2 || arg.substr(0, 1) != "-") {
      positional->emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg.substr(0, 2) == "--" ? 2 : 1);
    absl::string_view name = arg;
    std::optional<absl::string_view> value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    Flag* flag = nullptr;
    for (Flag& f : flags_) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, "; run ", program_, " --help for the list"));
    }
    if (!value.has_value()) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    if (absl::Status s = Set(*flag, *value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string FlagSet::Help() const {
  std::string out = absl::StrCat(usage_, "\n\nFlags:\n");
  for (const Flag& f : flags_) {
    absl::StrAppend(&out, "  --", f.name, f.is_bool ? "" : "=VALUE", "\n      ", f.help,
                    " (default: ", f.default_text, ")\n");
  }
  absl::StrAppend(&out, "  --help\n      print this help and exit\n");
  return out;
}

}  // namespace remora
