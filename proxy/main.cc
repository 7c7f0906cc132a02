// remora-proxy: the Remora sidecar.
#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"
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
    "\n"
    "The YAML configuration names the certificate, key and trust bundle files, the listeners\n"
    "(inbound 0.0.0.0:15006 and outbound 127.0.0.1:15001 by default), per-port peer\n"
    "authentication (STRICT, PERMISSIVE, DISABLE), the mesh services the app may call with the\n"
    "identities allowed to serve them, and limits. See examples/proxy-static.yaml.\n"
    "Admin API on 127.0.0.1:15000 (GET /help lists the endpoints).";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string config_file;
  std::string bound_ports_file;
  std::string log_level;
  bool check_only = false;
  remora::FlagSet flags("remora-proxy", kUsage);
  flags.String("config", &config_file, "path of the proxy's YAML configuration");
  flags.String("bound-ports-file", &bound_ports_file,
               "write the bound address of every listener here as JSON once listening");
  flags.String("log-level", &log_level, "debug, info, warn or error (overrides the config file)");
  flags.Bool("check", &check_only, "validate the configuration, print the result and exit");
  std::vector<std::string> positional;
  absl::Status parsed = flags.Parse(argc, argv, &positional);
  if (absl::IsCancelled(parsed)) return 0;
  if (!parsed.ok() || !positional.empty() || config_file.empty()) {
    std::cerr << "remora-proxy: "
              << (!parsed.ok()           ? std::string(parsed.message())
                  : !positional.empty() ? absl::StrCat("unexpected argument \"", positional[0], "\"")
                                        : std::string("--config=FILE is required"))
              << "\nrun remora-proxy --help for usage\n";
    return remora::kExitUsage;
  }
  absl::StatusOr<std::string> text = remora::ReadFile(config_file);
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
