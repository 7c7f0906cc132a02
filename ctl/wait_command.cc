// remoractl wait -f: in Kubernetes mode, is what I kubectl apply'd (or deleted) active? Reads each
// object's current state from the API server (the kubeconfig kubectl uses), then asks
// remora-control to wait until its own watch has mapped that state and every proxy it affects
// acknowledged it (xds/kube/object_wait.h).
#include <iostream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/yaml.h"
#include "ctl/config_commands.h"
#include "ctl/control_client.h"
#include "kube/api_client.h"
#include "kube/api_status.h"
#include "kube/cluster_config.h"
#include "kube/resource_type.h"

namespace remora::ctl {
namespace {

constexpr char kUsage[] =
    "remoractl wait: in Kubernetes mode, wait until objects changed with kubectl are enforced.\n"
    "\n"
    "usage: remoractl wait -f FILE|DIR|- [-f ...] [--timeout=30s] [--kubeconfig=FILE]\n"
    "                      [--context=NAME] [-n NAMESPACE]\n"
    "\n"
    "For each object the documents name (kind, namespace, name), reads its current state from the\n"
    "API server, then waits until remora-control has seen that state and every proxy it affects\n"
    "acknowledged it: \"networkpolicy shop/deny-db: applied (resourceVersion 4821)\" and "
    "\"version\n"
    "17 active on 12/12 affected proxies (slowest 180 ms)\". An object no longer in the API "
    "server\n"
    "is waited for until remora-control has dropped it too. Exit status 0 when all are enforced.\n"
    "\n"
    "Kinds: NetworkPolicy, AuthorizationPolicy, PeerAuthentication, Namespace, Service, Pod.\n"
    "The kubeconfig is --kubeconfig, else $KUBECONFIG, else ~/.kube/config.";

struct Target {
  const kube::ResourceType* type = nullptr;
  std::string api_version, kind, ns, name;
  std::string Describe() const {
    return absl::StrCat(absl::AsciiStrToLower(kind), " ", ns.empty() ? "" : ns + "/", name);
  }
};

absl::StatusOr<const kube::ResourceType*> TypeOf(const std::string& api_version,
                                                 const std::string& kind) {
  struct Known {
    const char* group;
    const char* kind;
    const kube::ResourceType* type;
  };
  static const Known kKnown[] = {
      {"networking.k8s.io", "NetworkPolicy", &kube::types::kNetworkPolicies},
      {"security.istio.io", "AuthorizationPolicy", &kube::types::kAuthorizationPolicies},
      {"security.istio.io", "PeerAuthentication", &kube::types::kPeerAuthentications},
      {"", "Namespace", &kube::types::kNamespaces},
      {"", "Service", &kube::types::kServices},
      {"", "Pod", &kube::types::kPods}};
  const std::string group = api_version.find('/') == std::string::npos
                                ? ""
                                : api_version.substr(0, api_version.find('/'));
  for (const Known& k : kKnown) {
    if (k.group == group && k.kind == kind) return k.type;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "remora-control does not read ", api_version, " ", kind,
      " objects; wait works for NetworkPolicy, AuthorizationPolicy, PeerAuthentication, "
      "Namespace, Service and Pod"));
}

absl::StatusOr<std::vector<Target>> Targets(const std::string& yaml, const std::string& names,
                                            const std::string& default_namespace) {
  absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(yaml, names);
  if (!docs.ok()) return docs.status();
  std::vector<Target> targets;
  for (const YamlDocument& doc : *docs) {
    const std::string where = absl::StrCat(names, ": document ", doc.index + 1);
    if (!doc.root.IsMap()) return absl::InvalidArgumentError(where + ": not a mapping");
    Target t;
    t.api_version = YamlScalar(doc.root["apiVersion"]);
    t.kind = YamlScalar(doc.root["kind"]);
    const YAML::Node meta = doc.root["metadata"];
    if (t.kind.empty() || t.api_version.empty() || !meta.IsMap()) {
      return absl::InvalidArgumentError(
          where + ": needs apiVersion, kind and metadata.name, as kubectl apply does");
    }
    t.name = YamlScalar(meta["name"]);
    if (t.name.empty()) return absl::InvalidArgumentError(where + ": metadata.name is missing");
    absl::StatusOr<const kube::ResourceType*> type = TypeOf(t.api_version, t.kind);
    if (!type.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", type.status().message()));
    t.type = *type;
    if (t.type->namespaced) {
      t.ns = YamlScalar(meta["namespace"]);
      if (t.ns.empty()) t.ns = default_namespace;
    }
    targets.push_back(std::move(t));
  }
  if (targets.empty()) return absl::InvalidArgumentError(names + ": no documents");
  return targets;
}

std::string DefaultKubeconfig() {
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    // kubectl merges a colon-separated list; the first file is where the context usually is.
    return std::string(*absl::StrSplit(env, ':').begin());
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "", "/.kube/config");
}

// The object as the API server holds it now, as a reference to wait for.
absl::StatusOr<remora::v1::KubeObjectRef> ReadRef(const std::shared_ptr<kube::ApiClient>& client,
                                                  const Target& t, absl::Duration timeout) {
  remora::v1::KubeObjectRef ref;
  ref.set_api_version(t.api_version);
  ref.set_kind(t.kind);
  ref.set_namespace_(t.ns);
  ref.set_name(t.name);
  const kube::ResourceType type = *t.type;
  absl::StatusOr<nlohmann::json> object = kube::RunBlocking(
      client->executor(), timeout,
      [client, type, ns = t.ns, name = t.name] { return client->Get(type, ns, name); });
  if (absl::IsNotFound(object.status())) {
    ref.set_absent(true);
    return ref;
  }
  if (!object.ok()) {
    return absl::Status(object.status().code(),
                        absl::StrCat("cannot read ", t.Describe(), " from ",
                                     client->config().source, ": ", object.status().message()));
  }
  const nlohmann::json meta = object->value("metadata", nlohmann::json::object());
  auto text = [&meta](const char* key) {
    auto it = meta.is_object() ? meta.find(key) : meta.end();
    return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ref.set_uid(text("uid"));
  ref.set_resource_version(text("resourceVersion"));
  if (ref.resource_version().empty()) {
    return absl::DataLossError(absl::StrCat("the API server's ", t.Describe(),
                                            " has no metadata.resourceVersion to wait for"));
  }
  if (auto g = meta.is_object() ? meta.find("generation") : meta.end();
      g != meta.end() && g->is_number_integer()) {
    ref.set_generation(g->get<int64_t>());
  }
  return ref;
}

int Run(int argc, const char* const* argv) {
  std::vector<std::string> files;
  absl::Duration timeout = absl::Seconds(30);
  std::string kubeconfig, context, ns;
  ConnectionFlags connection;
  FlagSet flags("remoractl wait", kUsage);
  flags.StringList("f", &files, "a file, a directory of .yaml files, or - for standard input");
  flags.Duration("timeout", &timeout, "how long to wait");
  flags.String("kubeconfig", &kubeconfig, "the kubeconfig (default $KUBECONFIG, ~/.kube/config)");
  flags.String("context", &context, "the kubeconfig context (default its current-context)");
  flags.String("n", &ns, "the namespace of documents that name none (default the context's)");
  AddConnectionFlags(flags, &connection);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (files.empty() || !args.empty()) {
    return Fail(kExitUsage, "give the documents you applied with -f FILE|DIR|-");
  }
  std::string names;
  absl::StatusOr<std::string> yaml = ReadInputs(files, &names);
  if (!yaml.ok()) return Fail(kExitUsage, std::string(yaml.status().message()));
  if (kubeconfig.empty()) kubeconfig = DefaultKubeconfig();
  absl::StatusOr<kube::ClusterConfig> config = kube::LoadKubeconfig(kubeconfig, context);
  if (!config.ok()) {
    return Fail(kExitFailure,
                absl::StrCat(config.status().message(),
                             "\nwait reads the objects from the API server: give the kubeconfig "
                             "kubectl uses with --kubeconfig=FILE"));
  }
  absl::StatusOr<std::vector<Target>> targets =
      Targets(*yaml, names, ns.empty() ? config->default_namespace : ns);
  if (!targets.ok()) return Fail(kExitUsage, std::string(targets.status().message()));

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread thread([&io] { io.run(); });
  remora::v1::WaitObjectsRequest request;
  std::string error;
  {
    absl::StatusOr<std::shared_ptr<kube::ApiClient>> client =
        kube::ApiClient::New(io.get_executor(), *config);
    if (!client.ok()) {
      error = std::string(client.status().message());
    } else {
      for (const Target& t : *targets) {
        absl::StatusOr<remora::v1::KubeObjectRef> ref = ReadRef(*client, t, connection.timeout);
        if (!ref.ok()) {
          error = std::string(ref.status().message());
          break;
        }
        *request.add_objects() = *ref;
      }
    }
  }
  work.reset();
  io.stop();
  thread.join();
  if (!error.empty()) return Fail(kExitFailure, error);

  absl::StatusOr<OperatorClient> client = OperatorClient::Connect(connection);
  if (!client.ok()) return Fail(kExitFailure, std::string(client.status().message()));
  request.set_timeout_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(timeout)));
  remora::v1::WaitObjectsResponse response;
  auto rpc = client->Context(timeout + absl::Seconds(5));
  grpc::Status status = client->stub().WaitForObjects(rpc.get(), request, &response);
  if (!status.ok()) return Fail(kExitFailure, DescribeRpcError("wait", status, client->server()));
  bool all_settled = true;
  bool all_good = true;
  for (const remora::v1::ObjectProgress& p : response.objects()) {
    const remora::v1::KubeObjectRef& o = p.object();
    std::cout << absl::AsciiStrToLower(o.kind()) << " "
              << (o.namespace_().empty() ? "" : o.namespace_() + "/") << o.name() << ": "
              << p.state();
    if (p.state() == "applied") std::cout << " (resourceVersion " << o.resource_version() << ")";
    if (!p.detail().empty()) std::cout << ": " << p.detail();
    std::cout << "\n";
    all_settled = all_settled && p.state() != "pending";
    all_good =
        all_good && (p.state() == "applied" || p.state() == "deleted" || p.state() == "superseded");
  }
  if (!all_settled) {
    std::cout << "remora-control has not seen every change within " << absl::FormatDuration(timeout)
              << "; is it connected to the API server? (its log says; `remoractl proxy-status`)\n";
    return kExitFailure;
  }
  const int proxies = PrintWaitResponse(response.proxies());
  return all_good ? proxies : kExitFailure;
}

}  // namespace

Command WaitCommand() {
  return {"wait", "Kubernetes mode: wait until objects changed with kubectl are enforced",
          [](int argc, const char* const* argv) { return Run(argc, argv); }};
}

}  // namespace remora::ctl
