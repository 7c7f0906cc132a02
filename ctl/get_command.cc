// remoractl get: what remora-control stores, as a table, YAML or JSON.
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_text.h"
#include "common/yaml.h"
#include "ctl/config_commands.h"
#include "ctl/control_client.h"

namespace remora::ctl {
namespace {

constexpr char kUsage[] =
    "remoractl get: show stored configuration.\n"
    "\n"
    "usage: remoractl get KIND [NAME] [-n NAMESPACE] [-o table|yaml|json]\n"
    "\n"
    "KIND: authorizationpolicy (ap), networkpolicy (netpol), peerauthentication (pa), workload\n"
    "(wl), service (svc), namespace (ns), or all.";

absl::StatusOr<std::string> Kind(std::string text) {
  text = absl::AsciiStrToLower(text);
  static const std::map<std::string, std::string> kKinds = {
      {"authorizationpolicy", "AuthorizationPolicy"},
      {"authorizationpolicies", "AuthorizationPolicy"},
      {"ap", "AuthorizationPolicy"},
      {"networkpolicy", "NetworkPolicy"},
      {"networkpolicies", "NetworkPolicy"},
      {"netpol", "NetworkPolicy"},
      {"peerauthentication", "PeerAuthentication"},
      {"peerauthentications", "PeerAuthentication"},
      {"pa", "PeerAuthentication"},
      {"workload", "Workload"},
      {"workloads", "Workload"},
      {"wl", "Workload"},
      {"service", "Service"},
      {"services", "Service"},
      {"svc", "Service"},
      {"namespace", "Namespace"},
      {"namespaces", "Namespace"},
      {"ns", "Namespace"},
      {"all", "all"}};
  auto it = kKinds.find(text);
  if (it == kKinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown kind \"", text, "\"; see remoractl get --help"));
  }
  return it->second;
}

// YAML to JSON for output: scalars stay strings unless they read as numbers or booleans.
nlohmann::json ToJson(const YAML::Node& node, int depth = 0) {
  if (depth > 100) return nullptr;
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& kv : node) out[YamlScalar(kv.first)] = ToJson(kv.second, depth + 1);
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) out.push_back(ToJson(item, depth + 1));
    return out;
  }
  if (node.IsScalar()) {
    const std::string s = YamlScalar(node);
    if (node.Tag() != "!") {
      if (s == "true" || s == "false") return s == "true";
      int64_t i = 0;
      if (absl::SimpleAtoi(s, &i) && absl::StrCat(i) == s) return i;
    }
    return s;
  }
  return nullptr;
}

int Run(int argc, const char* const* argv) {
  std::string ns, output = "table";
  ConnectionFlags connection;
  FlagSet flags("remoractl get", kUsage);
  flags.String("n", &ns, "namespace (default: all)");
  flags.String("o", &output, "table, yaml or json");
  AddConnectionFlags(flags, &connection);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (args.empty() || args.size() > 2)
    return Fail(kExitUsage, "usage: remoractl get KIND [NAME] [-n NS]");
  if (output != "table" && output != "yaml" && output != "json") {
    return Fail(kExitUsage, "-o must be table, yaml or json");
  }
  absl::StatusOr<std::string> kind = Kind(args[0]);
  if (!kind.ok()) return Fail(kExitUsage, std::string(kind.status().message()));
  absl::StatusOr<OperatorClient> client = OperatorClient::Connect(connection);
  if (!client.ok()) return Fail(kExitFailure, std::string(client.status().message()));
  remora::v1::GetRequest request;
  request.set_kind(*kind);
  request.set_namespace_(ns);
  if (args.size() == 2) request.set_name(args[1]);
  remora::v1::GetResponse response;
  auto context = client->Context(connection.timeout);
  grpc::Status status = client->stub().Get(context.get(), request, &response);
  if (!status.ok()) return Fail(kExitFailure, DescribeRpcError("get", status, client->server()));
  if (args.size() == 2 && response.objects().empty()) {
    return Fail(kExitFailure, absl::StrCat(*kind, " \"", args[1], "\" not found",
                                           ns.empty() ? "" : absl::StrCat(" in namespace ", ns)));
  }
  if (output == "yaml") {
    bool first = true;
    for (const auto& o : response.objects()) {
      std::cout << (first ? "" : "---\n") << o.yaml()
                << (o.yaml().empty() || o.yaml().back() == '\n' ? "" : "\n");
      first = false;
    }
    return kExitOk;
  }
  if (output == "json") {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& o : response.objects()) {
      absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(o.yaml(), "stored object");
      items.push_back(docs.ok() && !docs->empty() ? ToJson((*docs)[0].root)
                                                  : nlohmann::json(o.yaml()));
    }
    std::cout << DumpJson(args.size() == 2 && items.size() == 1 ? items[0]
                                                                : nlohmann::json{{"items", items}},
                          2)
              << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat("%-20s %-16s %-32s %s\n", "KIND", "NAMESPACE", "NAME", "VERSION");
  for (const auto& o : response.objects()) {
    std::cout << absl::StrFormat("%-20s %-16s %-32s %d\n", o.kind(),
                                 o.namespace_().empty() ? "-" : o.namespace_(), o.name(),
                                 o.version());
  }
  if (response.objects().empty()) std::cout << "(none)\n";
  return kExitOk;
}

}  // namespace

Command GetCommand() { return {"get", "show stored configuration (table, yaml, json)", Run}; }

}  // namespace remora::ctl
