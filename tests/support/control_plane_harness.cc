#include "tests/support/control_plane_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace remora::testing {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> ControlPlaneProcess::Start(
    const std::string& dir, int port, std::vector<std::string> extra_args) {
  const std::string ports = dir + "/control.ports";
  ::unlink(ports.c_str());
  std::vector<std::string> argv = {Runfile("xds/remora-control"),
                                   absl::StrCat("--state-dir=", dir, "/state"),
                                   absl::StrCat("--listen=127.0.0.1:", port),
                                   "--admin=127.0.0.1:0",
                                   absl::StrCat("--bound-ports-file=", ports),
                                   "--debounce=5ms",
                                   "--log-level=debug"};
  for (std::string& a : extra_args) argv.push_back(std::move(a));
  absl::StatusOr<Subprocess> process = Subprocess::Start(argv, dir + "/control.log");
  if (!process.ok()) return process.status();
  if (!WaitFor(absl::Seconds(30),
               [&] { return !ReadFileOrEmpty(ports).empty() || !process->Running(); }) ||
      ReadFileOrEmpty(ports).empty()) {
    return absl::UnavailableError(absl::StrCat("remora-control did not start:\n", process->Log()));
  }
  nlohmann::json j = nlohmann::json::parse(ReadFileOrEmpty(ports));
  return std::unique_ptr<ControlPlaneProcess>(
      new ControlPlaneProcess(std::move(*process), dir, j["grpc"].get<std::string>(),
                              j.value("admin", ""), j.value("webhook", ""), j.value("dev", "")));
}

CommandResult Remoractl(const ControlPlaneProcess& control, const std::vector<std::string>& args,
                        const std::string& stdin_file) {
  static int counter = 0;
  const std::string log = absl::StrCat(control.state_dir(), "/../remoractl-", ++counter, ".out");
  std::vector<std::string> argv = {Runfile("ctl/remoractl")};
  for (const std::string& a : args) argv.push_back(a);
  argv.push_back(absl::StrCat("--server=", control.address()));
  argv.push_back(absl::StrCat("--state-dir=", control.state_dir()));
  (void)stdin_file;
  absl::StatusOr<Subprocess> process = Subprocess::Start(argv, log);
  CommandResult result;
  if (!process.ok()) {
    result.output = std::string(process.status().message());
    return result;
  }
  absl::StatusOr<int> code = process->Wait(absl::Seconds(90));
  result.exit_code = code.ok() ? *code : -1;
  result.output = ReadFileOrEmpty(log);
  return result;
}

std::string MeshProxyConfig(const ControlPlaneProcess& control, const std::string& token_file,
                            const std::string& ns, const std::string& name, const std::string& sa,
                            const std::string& listeners_yaml, const std::string& extra) {
  return absl::StrCat("control_plane: {address: \"", control.address(), "\", token_file: \"",
                      token_file, "\", ca_file: \"", control.ca_bundle(),
                      "\", retry_initial: 100ms, retry_max: 1s}\n", "workload: {name: ", name,
                      ", namespace: ", ns, ", service_account: ", sa, "}\n", "listeners:\n",
                      listeners_yaml,
                      "admin: \"127.0.0.1:0\"\nprometheus: \"off\"\nhealth: \"off\"\n", extra);
}

}  // namespace remora::testing
