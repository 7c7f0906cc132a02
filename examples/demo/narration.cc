#include "examples/demo/narration.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>

#include "absl/time/clock.h"
#include "tests/support/process.h"

namespace remora::demo {

namespace {

std::atomic<int> signals_received{0};

void OnSignal(int) {
  if (signals_received.fetch_add(1) == 0) {
    constexpr char kMessage[] =
        "\nmesh-demo: stopping after this step, then removing everything "
        "(Ctrl-C again to quit at once)\n";
    (void)!::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    return;
  }
  constexpr char kMessage[] = "\nmesh-demo: quitting now; the next run removes what is left\n";
  (void)!::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  ::_exit(130);
}

}  // namespace

void InstallSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESTART;
  ::sigemptyset(&action.sa_mask);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signo, &action, nullptr);
}

bool Interrupted() { return signals_received.load() > 0; }

absl::Status CheckInterrupted() {
  return Interrupted() ? absl::CancelledError("interrupted") : absl::OkStatus();
}

void Observe(Narrator& n, const std::vector<std::string>& argv, const CommandResult* result,
             const e2e::Binaries& binaries) {
  if (result == nullptr) {
    n.Command(argv);
    return;
  }
  if (!n.show_commands) return;
  const bool ctl = argv[0] == binaries.ctl;
  const bool init = std::find(argv.begin(), argv.end(), binaries.init) != argv.end();
  // kubectl: what its writes say ("pod/web created"), not the JSON the harness reads.
  const bool kubectl_write =
      argv[0] == "kubectl" && (std::find(argv.begin(), argv.end(), "apply") != argv.end() ||
                               std::find(argv.begin(), argv.end(), "delete") != argv.end() ||
                               std::find(argv.begin(), argv.end(), "patch") != argv.end());
  if (!ctl && !init && !kubectl_write) return;
  // remora-init prints the rules it applies on stdout and what it did on stderr.
  n.Output(absl::StrCat(result->out, result->err));
}

absl::Status NarrateEchoFromEachPod(Narrator& n, Mesh& mesh, const Pod& web) {
  for (const char* caller : {"frontend", "batch"}) {
    const std::string line = absl::StrCat("hello-from-", caller);
    CommandResult r = mesh.pod(caller)->TcpExchange(web.ip(), e2e::kEchoPort, line);
    const bool echoed = r.out == line + "\n";
    if (echoed) n.Output(r.out);
    const bool want_echo = std::string(caller) == "frontend";
    if (echoed != want_echo) {
      return absl::InternalError(
          absl::StrCat("unexpected result for ", caller, ": \"", r.out, "\" ", r.err));
    }
    n.Result(true, want_echo ? "frontend's line comes back"
                             : "batch's connection is closed before a byte reaches the echo "
                               "server. web's proxy says why:");
  }
  return absl::OkStatus();
}

std::string LastLogLine(const std::string& path, const std::string& needle) {
  std::string found;
  testing::WaitFor(absl::Seconds(5), [&] {
    for (absl::string_view line : absl::StrSplit(testing::ReadFileOrEmpty(path), '\n')) {
      if (absl::StrContains(line, needle)) found = std::string(line);
    }
    return !found.empty();
  });
  return found.empty() ? absl::StrCat("(no line with \"", needle, "\" in ", path, ")") : found;
}

absl::StatusOr<HttpCall> Curl(const Pod& pod, const std::string& url) {
  CommandResult r = pod.Exec({"curl", "-sS", "-i", "--max-time", "10", url});
  if (r.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("curl failed: ", absl::StripAsciiWhitespace(r.err)));
  }
  HttpCall call;
  call.status_line =
      std::string(absl::StripTrailingAsciiWhitespace(r.out.substr(0, r.out.find('\n'))));
  const size_t body = r.out.find("\r\n\r\n");
  call.body = body == std::string::npos ? "" : r.out.substr(body + 4);
  return call;
}

absl::Status WriteRemoractlWrapper(const Mesh& mesh) {
  const std::string path = mesh.run_dir() + "/remoractl";
  std::vector<std::string> server = mesh.RemoractlArgv({});
  const std::string script =
      absl::StrCat("#!/bin/sh\n# remoractl, pointed at the demo's control plane.\n",
                   "[ $# -eq 0 ] && exec '", server[0], "'\n", "cmd=$1; shift\nexec '", server[0],
                   "' \"$cmd\" '", server[1], "' '", server[2], "' \"$@\"\n");
  testing::WriteFileOrDie(path, script);
  if (::chmod(path.c_str(), 0755) != 0) return absl::UnavailableError("chmod " + path);
  return absl::OkStatus();
}

absl::Status KeepRunning(Narrator& n, const Mesh& mesh) {
  n.Heading("Running");
  n.Say(absl::StrCat("The mesh stays up. Press Ctrl-C (or kill -INT ", ::getpid(),
                     ") to stop it and remove everything."));
  while (!Interrupted()) {
    absl::SleepFor(absl::Milliseconds(200));
    for (const std::unique_ptr<Pod>& pod : mesh.pods()) {
      if (pod->proxy() != nullptr && !pod->proxy()->Running()) {
        return absl::InternalError(
            absl::StrCat("the proxy of pod ", pod->name(), " exited:\n", pod->proxy_log()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace remora::demo
