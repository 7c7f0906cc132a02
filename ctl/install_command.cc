#include "ctl/install_command.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ctl/install_manifests.h"
#include "kube/api_client.h"
#include "kube/cluster_config.h"
#include "net/asio.h"

namespace remora::ctl {
namespace {

constexpr char kInstallUsage[] =
    "remoractl install: put Remora in a Kubernetes cluster: the control-plane namespace, its\n"
    "ServiceAccount and RBAC, the injector settings, the remora-control Deployment and Service, "
    "and\n"
    "the sidecar injection webhook. These are the manifests of examples/kubernetes/ (built into\n"
    "remoractl), so `kubectl apply -f examples/kubernetes/` does the same. No certificate to "
    "make:\n"
    "remora-control issues the webhook's certificate from its own CA and fills in the webhook's\n"
    "caBundle itself.\n"
    "\n"
    "usage:\n"
    "  remoractl install [--kubeconfig=FILE] [--context=NAME] [--namespace=remora-system]\n"
    "                    [--hub=remora] [--tag=latest]\n"
    "  remoractl install --dry-run [...] | kubectl apply -f -\n"
    "\n"
    "Each object is created, or updated when it differs (the webhook's caBundle and a Service's\n"
    "cluster IP are kept); one line per object says which. Running it again changes nothing.";

constexpr char kUninstallUsage[] =
    "remoractl uninstall: remove what `remoractl install` put in the cluster (the webhook first, "
    "so\n"
    "pod creation never waits on a control plane that is gone) and what remora-control created\n"
    "there: the ConfigMap remora-ca-root-cert in every namespace and the CA Secret remora-ca. "
    "Pods\n"
    "keep running; injected ones keep their sidecars until they are restarted. Says what it\n"
    "removed; running it again removes nothing and succeeds.\n"
    "\n"
    "usage: remoractl uninstall [--kubeconfig=FILE] [--context=NAME] [--namespace=remora-system]";

// What remora-control creates in the cluster beyond the manifests.
constexpr char kRootCertConfigMap[] = "remora-ca-root-cert";  // xds/kube/root_cert_publisher.h
constexpr char kCaSecret[] = "remora-ca";                     // the CA key, in its namespace

std::string DefaultKubeconfig() {
  // As kubectl: $KUBECONFIG (its first file), else ~/.kube/config.
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    return std::string(*absl::StrSplit(env, ':').begin());
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "", "/.kube/config");
}

void KubeFlags(FlagSet& flags, std::string* kubeconfig, std::string* context,
               std::string* namespace_name) {
  flags.String("kubeconfig", kubeconfig, "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)");
  flags.String("context", context, "kubeconfig context (default: its current-context)");
  flags.String("namespace", namespace_name, "the control plane's namespace");
}

// Runs `body(client)` on a client of the kubeconfig's cluster until it returns.
template <typename F>
absl::Status WithClient(const std::string& kubeconfig, const std::string& context, F body) {
  absl::StatusOr<kube::ClusterConfig> config =
      kube::LoadKubeconfig(kubeconfig.empty() ? DefaultKubeconfig() : kubeconfig, context);
  if (!config.ok()) return config.status();
  asio::io_context io{1};
  kube::ApiClientOptions options;
  options.user_agent = "remoractl";
  options.request_timeout = absl::Seconds(30);
  absl::StatusOr<std::shared_ptr<kube::ApiClient>> client =
      kube::ApiClient::New(io.get_executor(), std::move(*config), options);
  if (!client.ok()) return client.status();
  absl::Status result = absl::InternalError("did not run");
  asio::co_spawn(io, body(*client), [&result](std::exception_ptr e, absl::Status s) {
    result = e ? absl::InternalError("the Kubernetes client failed") : std::move(s);
  });
  io.run();
  return result;
}

awaitable<absl::Status> Apply(std::shared_ptr<kube::ApiClient> client,
                              std::vector<InstallObject> objects) {
  for (InstallObject& o : objects) {
    const kube::ResourceType type = o.type;
    const std::string ns = o.namespace_name;
    const std::string name = o.name;
    nlohmann::json object = o.object;
    absl::StatusOr<nlohmann::json> created = co_await client->Create(type, ns, object);
    if (created.ok()) {
      std::cout << o.Display() << " created" << std::endl;
      continue;
    }
    if (created.status().code() != absl::StatusCode::kAlreadyExists) {
      co_return absl::Status(created.status().code(), absl::StrCat("create ", o.Display(), ": ",
                                                                   created.status().message()));
    }
    // Create-or-update: the fake API server (and some clusters' proxies) do not take
    // server-side apply; a read-compare-write with the resourceVersion read is as safe.
    absl::Status last;
    bool done = false;
    for (int attempt = 0; attempt < 5 && !done; ++attempt) {
      absl::StatusOr<nlohmann::json> live = co_await client->Get(type, ns, name);
      if (!live.ok()) {
        co_return absl::Status(live.status().code(),
                               absl::StrCat("read ", o.Display(), ": ", live.status().message()));
      }
      nlohmann::json update = UpdateFor(*live, o.object);
      if (Contains(*live, update)) {
        std::cout << o.Display() << " unchanged" << std::endl;
        done = true;
        break;
      }
      absl::StatusOr<nlohmann::json> updated = co_await client->Update(type, std::move(update));
      if (updated.ok()) {
        std::cout << o.Display() << " configured" << std::endl;
        done = true;
      } else if (updated.status().code() != absl::StatusCode::kAborted) {
        co_return absl::Status(updated.status().code(), absl::StrCat("update ", o.Display(), ": ",
                                                                     updated.status().message()));
      } else {
        last = updated.status();  // changed meanwhile: read again
      }
    }
    if (!done) {
      co_return absl::AbortedError(
          absl::StrCat("update ", o.Display(), ": still conflicting: ", last.message()));
    }
  }
  co_return absl::OkStatus();
}

// Deletes one object; false when it was not there.
awaitable<absl::StatusOr<bool>> DeleteOne(std::shared_ptr<kube::ApiClient> client,
                                          kube::ResourceType type, std::string ns,
                                          std::string name) {
  kube::DeleteOptions options;
  options.propagation_policy = "Background";  // as kubectl delete: dependents go too
  absl::StatusOr<nlohmann::json> deleted = co_await client->Delete(type, ns, name, options);
  if (deleted.ok()) co_return true;
  if (deleted.status().code() == absl::StatusCode::kNotFound) co_return false;
  co_return deleted.status();
}

awaitable<absl::Status> Remove(std::shared_ptr<kube::ApiClient> client,
                               std::vector<InstallObject> objects, std::string namespace_name) {
  // The order: the webhook configurations first (with no control plane behind them, pods in
  // injected namespaces could not be created: failurePolicy Fail), then what remora-control
  // created, then the rest of the manifests in reverse (the namespace last).
  std::vector<InstallObject> order;
  for (const InstallObject& o : objects) {
    if (o.type.resource == kube::types::kMutatingWebhookConfigurations.resource) order.push_back(o);
  }
  // The root ConfigMaps, wherever remora-control published them (a field selector on the name,
  // in pages).
  std::string continue_token;
  do {
    kube::ListOptions list;
    list.field_selector = absl::StrCat("metadata.name=", kRootCertConfigMap);
    list.limit = 500;
    list.continue_token = continue_token;
    const kube::ResourceType configmaps = kube::types::kConfigMaps;
    const std::string all;
    absl::StatusOr<nlohmann::json> page = co_await client->List(configmaps, all, list);
    if (!page.ok()) {
      co_return absl::Status(
          page.status().code(),
          absl::StrCat("list configmaps ", kRootCertConfigMap, ": ", page.status().message()));
    }
    // value(), not operator[]: a const lookup of a missing key is undefined behaviour, and the
    // answer is the server's.
    for (const nlohmann::json& item : page->value("items", nlohmann::json::array())) {
      if (!item.is_object()) continue;
      const nlohmann::json meta = item.value("metadata", nlohmann::json::object());
      if (!meta.is_object()) continue;
      InstallObject o;
      o.type = kube::types::kConfigMaps;
      o.namespace_name = meta.value("namespace", "");
      o.name = meta.value("name", "");
      if (o.name != kRootCertConfigMap || o.namespace_name.empty()) continue;
      order.push_back(std::move(o));
    }
    const nlohmann::json list_meta = page->value("metadata", nlohmann::json::object());
    continue_token = list_meta.is_object() ? list_meta.value("continue", "") : "";
  } while (!continue_token.empty());
  InstallObject secret;
  secret.type = kube::types::kSecrets;
  secret.namespace_name = namespace_name;
  secret.name = kCaSecret;
  order.push_back(secret);
  for (auto it = objects.rbegin(); it != objects.rend(); ++it) {
    if (it->type.resource != kube::types::kMutatingWebhookConfigurations.resource) {
      order.push_back(*it);
    }
  }
  int removed = 0;
  for (const InstallObject& o : order) {
    // Installed into a namespace Kubernetes itself keeps: remove what is in it, never it.
    if (o.type.kind == "Namespace" && (o.name == "default" || o.name == "kube-system" ||
                                       o.name == "kube-public" || o.name == "kube-node-lease")) {
      std::cout << o.Display() << " kept (a Kubernetes system namespace)" << std::endl;
      continue;
    }
    const kube::ResourceType type = o.type;
    const std::string ns = o.namespace_name;
    const std::string name = o.name;
    absl::StatusOr<bool> deleted = co_await DeleteOne(client, type, ns, name);
    if (!deleted.ok()) {
      co_return absl::Status(deleted.status().code(), absl::StrCat("delete ", o.Display(), ": ",
                                                                   deleted.status().message()));
    }
    if (!*deleted) continue;
    ++removed;
    std::cout << o.Display()
              << (ns.empty() || o.type.kind == "Namespace" ? std::string()
                                                           : absl::StrCat(" (namespace ", ns, ")"))
              << " deleted" << std::endl;
  }
  if (removed == 0) {
    std::cout << "nothing to remove: Remora is not installed (namespace " << namespace_name << ")"
              << std::endl;
  } else {
    std::cout << "pods keep running; injected pods keep their sidecar until restarted" << std::endl;
  }
  co_return absl::OkStatus();
}

absl::StatusOr<std::vector<InstallObject>> Objects(const InstallOptions& options,
                                                   std::vector<ManifestFile>* rendered) {
  absl::StatusOr<std::vector<ManifestFile>> files = RenderManifests(EmbeddedManifests(), options);
  if (!files.ok()) return files.status();
  absl::StatusOr<std::vector<InstallObject>> objects = ManifestObjects(*files);
  if (objects.ok() && rendered != nullptr) *rendered = std::move(*files);
  return objects;
}

int Install(int argc, const char* const* argv) {
  InstallOptions options;
  std::string kubeconfig, context;
  bool dry_run = false;
  FlagSet flags("remoractl install", kInstallUsage);
  KubeFlags(flags, &kubeconfig, &context, &options.namespace_name);
  flags.String("hub", &options.hub, "image registry/repository of the remora-* images");
  flags.String("tag", &options.tag, "image tag of the remora-* images");
  flags.Bool("dry-run", &dry_run, "print the manifests instead of applying them");
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (!args.empty()) return Fail(kExitUsage, "install takes no arguments: " + args[0]);
  std::vector<ManifestFile> rendered;
  absl::StatusOr<std::vector<InstallObject>> objects = Objects(options, &rendered);
  if (!objects.ok()) return Fail(kExitUsage, std::string(objects.status().message()));
  if (dry_run) {
    for (size_t i = 0; i < rendered.size(); ++i) {
      std::cout << (i == 0 ? "" : "---\n") << "# " << rendered[i].name << "\n" << rendered[i].yaml;
    }
    return kExitOk;
  }
  absl::Status s = WithClient(kubeconfig, context, [&](std::shared_ptr<kube::ApiClient> client) {
    return Apply(std::move(client), *objects);
  });
  if (!s.ok()) return Fail(kExitFailure, absl::StrCat("install: ", s.message()));
  return kExitOk;
}

int Uninstall(int argc, const char* const* argv) {
  InstallOptions options;
  std::string kubeconfig, context;
  FlagSet flags("remoractl uninstall", kUninstallUsage);
  KubeFlags(flags, &kubeconfig, &context, &options.namespace_name);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (!args.empty()) return Fail(kExitUsage, "uninstall takes no arguments: " + args[0]);
  absl::StatusOr<std::vector<InstallObject>> objects = Objects(options, nullptr);
  if (!objects.ok()) return Fail(kExitUsage, std::string(objects.status().message()));
  absl::Status s = WithClient(kubeconfig, context, [&](std::shared_ptr<kube::ApiClient> client) {
    return Remove(std::move(client), *objects, options.namespace_name);
  });
  if (!s.ok()) return Fail(kExitFailure, absl::StrCat("uninstall: ", s.message()));
  return kExitOk;
}

}  // namespace

Command InstallCommand() {
  return {"install", "put Remora in a Kubernetes cluster (or print it: --dry-run)", Install};
}

Command UninstallCommand() {
  return {"uninstall", "remove Remora and what it created from a Kubernetes cluster", Uninstall};
}

}  // namespace remora::ctl
