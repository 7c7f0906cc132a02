// What the demos (mesh-demo, and its --kube variant) share: Ctrl-C handling, a narrator that
// prints each command as a person would type it, and a few calls made inside the pods.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/e2e/mesh.h"

namespace remora::demo {

using e2e::CommandResult;
using e2e::Mesh;
using e2e::Pod;

// --- Ctrl-C ------------------------------------------------------------------------------------
// The first SIGINT/SIGTERM/SIGHUP asks the demo to stop after the current step and clean up; a
// second one quits at once (the next run sweeps what is left).
void InstallSignalHandlers();
bool Interrupted();
absl::Status CheckInterrupted();

// --- Narration ---------------------------------------------------------------------------------

class Narrator {
 public:
  explicit Narrator(bool color) : color_(color) {}

  void Heading(absl::string_view text) {
    std::cout << "\n" << Style("1") << "== " << text << Style("0") << "\n";
  }
  void Say(absl::string_view text) { std::cout << text << "\n"; }
  void Yaml(absl::string_view yaml) {
    for (absl::string_view line : absl::StrSplit(absl::StripTrailingAsciiWhitespace(yaml), '\n')) {
      std::cout << "    " << Style("36") << line << Style("0") << "\n";
    }
  }
  void Output(absl::string_view text, int max_lines = 40) {
    int shown = 0;
    std::vector<absl::string_view> lines =
        absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n');
    for (absl::string_view line : lines) {
      if (++shown > max_lines) {
        std::cout << "      ... (" << lines.size() - max_lines << " more lines)\n";
        break;
      }
      std::cout << "      " << line << "\n";
    }
  }
  // A log line, folded at its fields so it reads on a terminal.
  void LogLine(absl::string_view line) {
    std::string folded = absl::StrReplaceAll(line, {{" reason=", "\n        reason="},
                                                    {" explain=", "\n        explain="},
                                                    {" | ", "\n          | "}});
    std::cout << "      " << Style("33") << folded << Style("0") << "\n";
  }
  void Result(bool as_expected, absl::string_view text) {
    std::cout << "  " << (as_expected ? Style("32") : Style("31")) << "=> " << text << Style("0")
              << "\n";
  }

  // The command as a person would type it: short program names, $RUN for this run's directory.
  void Command(const std::vector<std::string>& argv) {
    if (!show_commands) return;
    // remoractl's connection flags are the same every time: $RUN/remoractl adds them.
    const bool remoractl = !argv.empty() && absl::EndsWith(argv[0], "/remoractl");
    // kubectl's discovery cache is per run (kube_mesh.h); a person's kubectl keeps its own.
    const bool kubectl = !argv.empty() && argv[0] == "kubectl";
    std::vector<std::string> words;
    for (const std::string& arg : argv) {
      if (remoractl &&
          (absl::StartsWith(arg, "--server=") || absl::StartsWith(arg, "--state-dir="))) {
        continue;
      }
      if (kubectl && absl::StartsWith(arg, "--cache-dir=")) continue;
      std::string word = arg;
      for (const auto& [from, to] : shortenings_) word = absl::StrReplaceAll(word, {{from, to}});
      // A multi-line argument (the injected proxy's configuration) reads indented.
      words.push_back(absl::StrReplaceAll(Quote(word), {{"\n", "\n      "}}));
    }
    std::cout << "  " << Style("2") << "$ " << absl::StrJoin(words, " ") << Style("0") << "\n";
  }
  void Shorten(std::string from, std::string to) {
    shortenings_.emplace_back(std::move(from), std::move(to));
  }

  bool show_commands = true;

 private:
  std::string Style(absl::string_view code) const {
    return color_ ? absl::StrCat("\033[", code, "m") : "";
  }
  static std::string Quote(const std::string& word) {
    if (!word.empty() && word.find_first_of(" '\"\\|&;<>(){}*?!#\n") == std::string::npos) {
      return word;
    }
    return absl::StrCat("'", absl::StrReplaceAll(word, {{"'", "'\\''"}}), "'");
  }

  bool color_;
  std::vector<std::pair<std::string, std::string>> shortenings_;
};

// What the mesh runs, narrated: every command, and the output of remoractl, remora-init and
// kubectl's writes.
void Observe(Narrator& n, const std::vector<std::string>& argv, const CommandResult* result,
             const e2e::Binaries& binaries);

// The last line of `log` that contains `needle`, waiting up to 5 s for it to be written.
std::string LastLogLine(const std::string& path, const std::string& needle);

struct HttpCall {
  std::string status_line;
  std::string body;
};

// `curl -sS -i URL` inside `pod`: the status line and the body.
absl::StatusOr<HttpCall> Curl(const Pod& pod, const std::string& url);

// Under the NetworkPolicy that admits only frontend: one line to `web`'s TCP echo server from
// frontend (echoed) and from batch (closed before it reaches the server), each narrated.
absl::Status NarrateEchoFromEachPod(Narrator& n, Mesh& mesh, const Pod& web);

// $RUN/remoractl: remoractl with this control plane's address and operator credentials.
absl::Status WriteRemoractlWrapper(const Mesh& mesh);

// With --keep: waits for Ctrl-C; an error when a proxy of the mesh exits meanwhile.
absl::Status KeepRunning(Narrator& n, const Mesh& mesh);

}  // namespace remora::demo
