// remora-proxy: the Remora sidecar.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "common/flags.h"
#include "common/log.h"
#include "proxy/config/config_yaml.h"
#include "proxy/proxy_server.h"

namespace {

constexpr char kUsage[] =
    "remora-proxy: the Remora sidecar. Captured outbound connections leave as mTLS with the\n"
    "workload's SPIFFE identity; inbound mTLS is terminated, the client identity verified, and\n"
    "the bytes forwarded to the app on 127.0.0.1.\n"
    "\n"
    "usage: remora-proxy --config=FILE [flags]\n"
    "       remora-proxy --config-env=VAR [flags]\n"
    "       remora-proxy --wait-ready=60s\n"
    "\n"
    "The YAML configuration names the certificate, key and trust bundle files, the listeners\n"
    "(inbound 0.0.0.0:15006 and outbound 127.0.0.1:15001 by default), per-port peer\n"
    "authentication (STRICT, PERMISSIVE, DISABLE), the mesh services the app may call with the\n"
    "identities allowed to serve them, and limits. See examples/proxy-static.yaml.\n"
    "Admin API on 127.0.0.1:15000 (GET /help lists the endpoints).";

// Polls http://<address>/healthz/ready until it answers 200 (a Kubernetes postStart hook holds the
// app containers until the sidecar is ready this way).
int WaitReady(const std::string& address, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t colon = address.rfind(':');
  while (absl::Now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(address.substr(colon + 1).c_str())));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    bool ready = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      const std::string request =
          "GET /healthz/ready HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\n\r\n";
      (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      char buf[64] = {0};
      ssize_t n = ::recv(fd, buf, sizeof(buf) - 1, 0);
      ready = n >= 12 && std::string(buf, 12) == "HTTP/1.1 200";
    }
    ::close(fd);
    if (ready) {
      std::cout << "remora-proxy: ready\n";
      return 0;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::cerr << "remora-proxy: not ready within " << absl::FormatDuration(timeout) << " at "
            << address << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string config_file;
  std::string bound_ports_file;
  std::string log_level;
  bool check_only = false;
  std::string config_env;
  absl::Duration wait_ready = absl::ZeroDuration();
  std::string health = "127.0.0.1:15021";
  remora::FlagSet flags("remora-proxy", kUsage);
  flags.String("config", &config_file, "path of the proxy's YAML configuration");
  flags.String("bound-ports-file", &bound_ports_file,
               "write the bound address of every listener here as JSON once listening");
  flags.String("log-level", &log_level, "debug, info, warn or error (overrides the config file)");
  flags.Bool("check", &check_only, "validate the configuration, print the result and exit");
  flags.String("config-env", &config_env,
               "read the YAML configuration from this environment variable instead of --config "
               "(what the sidecar injector sets)");
  flags.Duration("wait-ready", &wait_ready,
                 "do not run a proxy: wait up to this long for the local proxy's readiness "
                 "endpoint (--health-address) to answer 200, exit 0 if it did, 1 if not");
  flags.String("health-address", &health, "readiness endpoint for --wait-ready (host:port)");
  std::vector<std::string> positional;
  absl::Status parsed = flags.Parse(argc, argv, &positional);
  if (absl::IsCancelled(parsed)) return 0;
  if (parsed.ok() && wait_ready > absl::ZeroDuration()) return WaitReady(health, wait_ready);
  if (!parsed.ok() || !positional.empty() || (config_file.empty() == config_env.empty())) {
    std::cerr << "remora-proxy: "
              << (!parsed.ok() ? std::string(parsed.message())
                  : !positional.empty()
                      ? absl::StrCat("unexpected argument \"", positional[0], "\"")
                      : std::string("give exactly one of --config=FILE and --config-env=VAR"))
              << "\nrun remora-proxy --help for usage\n";
    return remora::kExitUsage;
  }
  absl::StatusOr<std::string> text;
  if (!config_env.empty()) {
    const char* value = std::getenv(config_env.c_str());
    text =
        value != nullptr
            ? absl::StatusOr<std::string>(value)
            : absl::NotFoundError(absl::StrCat("environment variable ", config_env, " is not set"));
    config_file = absl::StrCat("$", config_env);
  } else {
    text = remora::ReadFile(config_file);
  }
  if (!text.ok()) {
    std::cerr << "remora-proxy: " << text.status().message() << "\n";
    return remora::kExitUsage;
  }
  absl::StatusOr<remora::proxy::ProxyConfig> config = remora::proxy::ParseProxyConfigYaml(*text);
  if (!config.ok()) {
    std::cerr << "remora-proxy: " << config_file << ": " << config.status().message() << "\n";
    return remora::kExitUsage;
  }
  if (check_only) {
    std::cout << config_file << ": configuration is valid\n";
    return 0;
  }
  remora::LogLevel level = remora::LogLevel::kInfo;
  remora::ParseLogLevel(log_level.empty() ? config->log_level : log_level, &level);
  remora::SetLogLevel(level);

  try {
    remora::proxy::ProxyServer server(std::move(*config), {bound_ports_file});
    if (absl::Status s = server.Run(); !s.ok()) {
      LOG_ERROR("proxy", "cannot start: ", s.message());
      return 1;
    }
  } catch (const std::exception& e) {
    LOG_ERROR("proxy", "fatal: ", e.what());
    return 1;
  }
  return 0;
}
