// remoractl proxy-status and proxy-config: what every proxy runs, as the control plane sees it.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ctl/config_commands.h"
#include "ctl/control_client.h"

namespace remora::ctl {
namespace {

constexpr char kStatusUsage[] =
    "remoractl proxy-status: every connected proxy, its identity, the configuration version it\n"
    "has acknowledged, per resource type what was sent and acknowledged, and the last refusal\n"
    "(NACK) with the resources it refused and why.\n"
    "\n"
    "usage: remoractl proxy-status [NAMESPACE/WORKLOAD] [-v]";

constexpr char kConfigUsage[] =
    "remoractl proxy-config: the resources the control plane computes for one proxy (JSON).\n"
    "\n"
    "usage: remoractl proxy-config NAMESPACE/WORKLOAD";

std::string Short(const std::string& type_url) {
  size_t dot = type_url.rfind('.');
  return dot == std::string::npos ? type_url : type_url.substr(dot + 1);
}

int Status(int argc, const char* const* argv) {
  bool verbose = false;
  ConnectionFlags connection;
  FlagSet flags("remoractl proxy-status", kStatusUsage);
  flags.Bool("v", &verbose, "per resource type details");
  AddConnectionFlags(flags, &connection);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (args.size() > 1)
    return Fail(kExitUsage, "usage: remoractl proxy-status [NAMESPACE/WORKLOAD]");
  absl::StatusOr<OperatorClient> client = OperatorClient::Connect(connection);
  if (!client.ok()) return Fail(kExitFailure, std::string(client.status().message()));
  remora::v1::ProxyStatusResponse response;
  auto context = client->Context(connection.timeout);
  grpc::Status status =
      client->stub().ProxyStatus(context.get(), remora::v1::ProxyStatusRequest(), &response);
  if (!status.ok())
    return Fail(kExitFailure, DescribeRpcError("proxy-status", status, client->server()));
  std::cout << "configuration version " << response.config_version() << "\n";
  std::cout << absl::StrFormat("%-28s %-48s %-9s %-8s %s\n", "PROXY", "IDENTITY", "VERSION",
                               "STATUS", "LAST NACK");
  int shown = 0;
  for (const auto& p : response.proxies()) {
    if (!args.empty() && p.proxy() != args[0]) continue;
    ++shown;
    std::string nack;
    for (const auto& t : p.types()) {
      if (!t.last_nack().empty()) nack = absl::StrCat(Short(t.type_url()), ": ", t.last_nack());
    }
    std::cout << absl::StrFormat("%-28s %-48s %-9d %-8s %s\n", p.proxy(), p.identity(),
                                 p.config_version(), p.synced() ? "SYNCED" : "STALE",
                                 nack.empty() ? "-" : nack);
    if (!verbose && args.empty()) continue;
    std::cout << "    connected from " << p.peer() << " since " << p.connected_since() << "\n";
    for (const auto& t : p.types()) {
      std::cout << absl::StrFormat("    %-20s sent %-6s acked %-6s%s\n", Short(t.type_url()),
                                   t.sent_version(), t.acked_version(),
                                   t.last_nack().empty() ? "" : "  NACK: " + t.last_nack());
      for (const auto& r : t.rejected()) {
        std::cout << "      refused " << r.name() << ": " << r.reason() << "\n";
      }
    }
  }
  if (shown == 0) {
    std::cout << (args.empty() ? "(no proxy is connected)\n"
                               : absl::StrCat("(", args[0], " is not connected)\n"));
    return args.empty() ? kExitOk : kExitFailure;
  }
  return kExitOk;
}

int Config(int argc, const char* const* argv) {
  ConnectionFlags connection;
  FlagSet flags("remoractl proxy-config", kConfigUsage);
  AddConnectionFlags(flags, &connection);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (args.size() != 1) return Fail(kExitUsage, "usage: remoractl proxy-config NAMESPACE/WORKLOAD");
  absl::StatusOr<OperatorClient> client = OperatorClient::Connect(connection);
  if (!client.ok()) return Fail(kExitFailure, std::string(client.status().message()));
  remora::v1::ProxyConfigRequest request;
  request.set_proxy(args[0]);
  remora::v1::ProxyConfigResponse response;
  auto context = client->Context(connection.timeout);
  grpc::Status status = client->stub().ProxyConfig(context.get(), request, &response);
  if (!status.ok())
    return Fail(kExitFailure, DescribeRpcError("proxy-config", status, client->server()));
  std::cout << response.json() << "\n";
  return kExitOk;
}

}  // namespace

Command ProxyStatusCommand() {
  return {"proxy-status", "connected proxies, versions acknowledged, last NACK", Status};
}

Command ProxyConfigCommand() {
  return {"proxy-config", "the configuration computed for one proxy", Config};
}

}  // namespace remora::ctl
