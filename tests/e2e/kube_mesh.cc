#include "tests/e2e/kube_mesh.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/support/control_plane_harness.h"
#include "tests/support/process.h"

namespace remora::e2e {
namespace {

using nlohmann::json;

constexpr char kProxyContainer[] = "remora-proxy";
constexpr char kInitContainer[] = "remora-init";
constexpr char kStatusAnnotation[] = "sidecar.remora.io/status";
constexpr absl::Duration kWait = absl::Seconds(60);  // generous: the machine is shared

std::string Tail(const std::string& text, int lines) {
  if (text.empty()) return text;  // a log not written yet
  size_t at = text.size();
  for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string::npos ? text : text.substr(at + 1);
}

absl::Status WritePlainFile(const std::string& path, absl::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status Ran(const CommandResult& r, absl::string_view what) {
  if (r.ok()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(what, " failed (exit ", r.exit_code, "):\n", r.out, r.err));
}

const json* Find(const json& array, absl::string_view name) {
  if (!array.is_array()) return nullptr;
  for (const json& item : array) {
    if (item.is_object() && item.value("name", "") == name) return &item;
  }
  return nullptr;
}

// A downward-API field of the stored pod ("status.podIP", "metadata.name").
absl::StatusOr<std::string> FieldOf(const json& pod, const std::string& field_path) {
  const json::json_pointer pointer("/" + absl::StrReplaceAll(field_path, {{".", "/"}}));
  if (!pod.contains(pointer) || !pod.at(pointer).is_string()) {
    return absl::NotFoundError(absl::StrCat("the pod has no string field ", field_path));
  }
  return pod.at(pointer).get<std::string>();
}

// The containers of the stored pod that the webhook added: the proxy is a native sidecar (an
// init container with restartPolicy Always) or a classic first container.
const json* Container(const json& pod, absl::string_view name) {
  auto spec = pod.find("spec");
  if (spec == pod.end()) return nullptr;
  for (const char* list : {"initContainers", "containers"}) {
    auto it = spec->find(list);
    if (it == spec->end()) continue;
    if (const json* c = Find(*it, name); c != nullptr) return c;
  }
  return nullptr;
}

std::vector<std::string> Strings(const json& array) {
  std::vector<std::string> out;
  if (!array.is_array()) return out;
  for (const json& a : array) {
    if (a.is_string()) out.push_back(a.get<std::string>());
  }
  return out;
}

}  // namespace

std::string ExpandKubernetesVars(const std::string& text,
                                 const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '(') {
      const size_t close = text.find(')', i + 2);
      if (close != std::string::npos) {
        const std::string name = text.substr(i + 2, close - i - 2);
        const std::string* value = nullptr;
        for (const auto& [k, v] : vars) {
          if (k == name) value = &v;  // the last definition wins, as in Kubernetes
        }
        if (value != nullptr) {
          out += *value;
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

absl::StatusOr<std::unique_ptr<KubeMesh>> KubeMesh::Start(MeshOptions options) {
  if (iptables_init::FindProgram("kubectl").empty()) {
    return absl::FailedPreconditionError(
        "Kubernetes mode needs kubectl (>= 1.24) on PATH: Debian's kubernetes-client, or the "
        "upstream binary in /usr/bin (tools/install-deps says which)");
  }
  std::unique_ptr<KubeMesh> kube(new KubeMesh());
  KubeMesh* self = kube.get();
  // remora-control's xDS/CA port must be known before it starts: the injector writes it into
  // every sidecar's configuration.
  if (options.control_port == 0) options.control_port = static_cast<uint16_t>(testing::FreePort());
  const uint16_t control_port = options.control_port;
  options.control_args =
      [self, control_port](const Mesh& mesh) -> absl::StatusOr<std::vector<std::string>> {
    const std::string dir = mesh.run_dir() + "/kube";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
    testing::FakeApiServerOptions fake;
    fake.dir = dir;
    fake.extra_args = {"--bookmark-interval=1"};
    // Like every process of the mesh: it dies with the test (or demo) if that is killed.
    fake.launcher = {"/usr/bin/setpriv", "--pdeathsig=KILL", "--"};
    mesh.Tell({"python3", "tests/kube/fake_apiserver.py", "--kubeconfig=" + dir + "/kubeconfig"});
    absl::StatusOr<std::unique_ptr<testing::FakeApiServer>> server =
        testing::FakeApiServer::Start(fake);
    if (!server.ok()) return server.status();
    self->kube_ = std::move(*server);
    // The control plane's namespace first, as an install does: its CA Secret lives there.
    const std::string ns_yaml =
        testing::ReadFileOrEmpty(RunfilesBase() + "/examples/kubernetes/00-namespace.yaml");
    mesh.Tell({"kubectl", "apply", "-f", "examples/kubernetes/00-namespace.yaml"});
    testing::KubectlResult created = self->kube_->KubectlApply(ns_yaml);
    if (ns_yaml.empty() || created.exit_code != 0) {
      return absl::InternalError(absl::StrCat(
          "kubectl apply -f examples/kubernetes/00-namespace.yaml failed: ", created.output));
    }
    // The injector's settings: as examples/kubernetes/20-control-plane.yaml's ConfigMap, with the
    // control plane's address on the bridge (no cluster DNS here).
    if (absl::Status s = WritePlainFile(
            dir + "/injector-settings.yaml",
            absl::StrCat("control_plane_address: ", mesh.network().node_ip(), ":", control_port,
                         "\ntrust_domain: cluster.local\nnative_sidecar: true\n"));
        !s.ok()) {
      return s;
    }
    return std::vector<std::string>{
        "--kubeconfig=" + dir + "/kubeconfig",
        "--webhook-listen=127.0.0.1:0",
        "--injector-settings=" + dir + "/injector-settings.yaml",
    };
  };
  absl::StatusOr<std::unique_ptr<Mesh>> mesh = Mesh::Start(std::move(options));
  if (!mesh.ok()) return mesh.status();
  kube->mesh_ = std::move(*mesh);
  if (kube->mesh_->webhook_address().empty()) {
    return absl::InternalError("remora-control reported no webhook address in its ports file");
  }
  // The Service's DNS name, dialled where remora-control listens (no cluster network here).
  if (absl::Status s = kube->kube_->MapWebhookHost(kWebhookHost, kube->mesh_->webhook_address());
      !s.ok()) {
    return s;
  }
  // The shipped webhook configuration, as is: remora-control serves the webhook with a
  // certificate from its own CA and fills in the configuration's caBundle itself.
  const std::string shipped =
      testing::ReadFileOrEmpty(RunfilesBase() + "/examples/kubernetes/30-webhook.yaml");
  if (shipped.empty()) {
    return absl::NotFoundError(
        "examples/kubernetes/30-webhook.yaml (a data dependency) is missing");
  }
  absl::StatusOr<std::string> applied = kube->Apply("30-webhook", shipped);
  if (!applied.ok()) return applied.status();
  std::string bundle;
  if (!testing::WaitFor(absl::Seconds(60), [&] {
        bundle = kube->Kubectl({"get", "mutatingwebhookconfiguration", "remora-sidecar-injector",
                                "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"})
                     .out;
        return !absl::StripAsciiWhitespace(bundle).empty();
      })) {
    return absl::DeadlineExceededError(
        "remora-control did not fill in the caBundle of MutatingWebhookConfiguration "
        "remora-sidecar-injector within 60 s (see its log)");
  }
  return kube;
}

KubeMesh::~KubeMesh() = default;

std::vector<std::string> KubeMesh::KubectlArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"kubectl", "--kubeconfig=" + kubeconfig(),
                                "--cache-dir=" + kube_dir() + "/cache"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

CommandResult KubeMesh::Kubectl(const std::vector<std::string>& args) const {
  return mesh_->RunLogged(KubectlArgv(args));
}

absl::StatusOr<std::string> KubeMesh::Apply(const std::string& file,
                                            const std::string& yaml) const {
  const std::string path = absl::StrCat(mesh_->run_dir(), "/manifests/", file, ".yaml");
  if (absl::Status s = WritePlainFile(path, yaml); !s.ok()) return s;
  CommandResult r = Kubectl({"apply", "-f", path});
  if (absl::Status s = Ran(r, "kubectl apply -f " + path); !s.ok()) return s;
  return r.out + r.err;
}

absl::StatusOr<std::string> KubeMesh::Delete(const std::string& file) const {
  const std::string path = absl::StrCat(mesh_->run_dir(), "/manifests/", file, ".yaml");
  CommandResult r = Kubectl({"delete", "-f", path});
  if (absl::Status s = Ran(r, "kubectl delete -f " + path); !s.ok()) return s;
  return r.out + r.err;
}

const json& KubeMesh::admitted(const Pod& pod) const {
  static const json kNone;
  for (const auto& [name, object] : admitted_) {
    if (name == pod.name()) return object;
  }
  return kNone;
}

absl::StatusOr<Pod*> KubeMesh::AddPod(PodSpec spec) {
  absl::StatusOr<Pod*> added = mesh_->AddPodNetwork(std::move(spec));
  if (!added.ok()) return added.status();
  Pod& pod = **added;
  const PodSpec& s = pod.spec();

  // 1. kubectl apply: the namespace (injection enabled), the ServiceAccount, the Pod.
  std::string labels;
  for (const auto& [k, v] : s.labels)
    absl::StrAppend(&labels, labels.empty() ? "" : ", ", k, ": ", v);
  std::string ports;
  if (!s.http_body.empty())
    absl::StrAppend(&ports, "    - {name: http, containerPort: ", kHttpPort, "}\n");
  if (s.tcp_echo) absl::StrAppend(&ports, "    - {name: echo, containerPort: ", kEchoPort, "}\n");
  const std::string manifest = absl::StrCat(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ", s.ns,
      "\n  labels: {remora-injection: enabled}\n---\n",
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ", s.service_account,
      ", namespace: ", s.ns, "}\n---\n", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ", s.name,
      "\n  namespace: ", s.ns, "\n  labels: {", labels,
      "}\nspec:\n  serviceAccountName: ", s.service_account,
      "\n  containers:\n  - name: app\n    image: python:3-slim\n",
      ports.empty() ? "" : absl::StrCat("    ports:\n", ports));
  if (absl::StatusOr<std::string> a = Apply(s.name + "-pod", manifest); !a.ok()) return a.status();

  // 2. What the API server stored: the webhook's mutation must be there.
  CommandResult got = Kubectl({"get", "pod", s.name, "-n", s.ns, "-o", "json"});
  if (absl::Status st = Ran(got, "kubectl get pod " + s.name); !st.ok()) return st;
  json stored = json::parse(got.out, nullptr, false);
  if (stored.is_discarded()) return absl::InternalError("kubectl get pod -o json: " + got.out);
  if (!stored["metadata"].contains("annotations") ||
      !stored["metadata"]["annotations"].contains(kStatusAnnotation) ||
      Container(stored, kProxyContainer) == nullptr ||
      Container(stored, kInitContainer) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pod ", pod.key(), " was stored without the sidecar (no ", kStatusAnnotation,
        " annotation or no ", kProxyContainer, "/", kInitContainer,
        " container): did the API server call the webhook? The pod:\n", stored.dump(2)));
  }
  admitted_.emplace_back(s.name, stored);

  // 3. The kubelet: status Running with the namespace's address, through the status subresource.
  CommandResult patched =
      Kubectl({"patch", "pod", s.name, "-n", s.ns, "--subresource=status", "--type=merge", "-p",
               absl::StrCat(R"({"status":{"phase":"Running","podIP":")", pod.ip(),
                            R"(","hostIP":")", mesh_->network().node_ip(),
                            R"(","conditions":[{"type":"Ready","status":"True"}],)",
                            R"("containerStatuses":[{"name":"app","ready":true,"started":true,)",
                            R"("restartCount":0,"state":{"running":{}}}]}})")});
  if (absl::Status st = Ran(patched, "kubectl patch pod --subresource=status"); !st.ok()) return st;
  stored["status"]["podIP"] = pod.ip();
  stored["status"]["phase"] = "Running";

  absl::StatusOr<PodLaunch> launch = Kubelet(pod, stored);
  if (!launch.ok()) return launch.status();

  // The control plane refuses a CSR from a pod it does not know yet (TokenReview binding): the
  // proxy would retry, with backoff; waiting here for the pod to be a workload keeps it prompt.
  std::string last;
  if (!testing::WaitFor(kWait, [&] {
        absl::StatusOr<CommandResult> r =
            iptables_init::testing::Run(mesh_->RemoractlArgv({"get", "workload"}));
        last = r.ok() ? r->out + r->err : std::string(r.status().message());
        return r.ok() && r->ok() && absl::StrContains(r->out, s.name);
      })) {
    return absl::DeadlineExceededError(absl::StrCat("remora-control did not list pod ", pod.key(),
                                                    " as a workload:\n", last, "\n",
                                                    Tail(mesh_->control_log(), 20)));
  }
  if (absl::Status st = mesh_->StartPod(pod, *launch); !st.ok()) return st;
  return &pod;
}

absl::StatusOr<std::string> KubeMesh::MountVolume(const Pod& pod, const json& stored,
                                                  const json& volume) {
  const std::string name = volume.value("name", "");
  absl::StatusOr<std::string> dir = mesh_->PodVolume(pod, name);
  if (!dir.ok()) return dir.status();
  const std::string ns = pod.spec().ns;
  json sources = json::array();
  if (volume.contains("projected")) {
    sources = volume["projected"].value("sources", json::array());
  } else if (volume.contains("configMap")) {
    sources.push_back({{"configMap", volume["configMap"]}});
  } else {
    return absl::UnimplementedError(
        absl::StrCat("the e2e kubelet mounts projected and configMap volumes only, not ", name));
  }
  for (const json& source : sources) {
    if (source.contains("serviceAccountToken")) {
      // The kubelet's TokenRequest, bound to the pod, for the volume's audience and lifetime.
      const json& t = source["serviceAccountToken"];
      std::vector<std::string> args{
          "create",
          "token",
          stored.value("spec", json::object()).value("serviceAccountName", "default"),
          "-n",
          ns,
          "--bound-object-kind=Pod",
          "--bound-object-name=" + pod.name(),
          absl::StrCat("--duration=", t.value("expirationSeconds", 3600), "s")};
      if (t.contains("audience")) args.push_back("--audience=" + t["audience"].get<std::string>());
      CommandResult token = Kubectl(args);
      if (absl::Status s = Ran(token, "kubectl create token"); !s.ok()) return s;
      if (absl::Status s = mesh_->WriteProxyFile(*dir, t.value("path", "token"),
                                                 absl::StripAsciiWhitespace(token.out));
          !s.ok()) {
        return s;
      }
    } else if (source.contains("configMap")) {
      // As the kubelet, wait for the ConfigMap (the pod stays ContainerCreating until it exists).
      const json& cm = source["configMap"];
      const std::string cm_name = cm.value("name", "");
      json data;
      std::string last;
      if (!testing::WaitFor(kWait, [&] {
            absl::StatusOr<CommandResult> r = iptables_init::testing::Run(
                KubectlArgv({"get", "configmap", cm_name, "-n", ns, "-o", "json"}));
            last = r.ok() ? r->out + r->err : std::string(r.status().message());
            if (!r.ok() || !r->ok()) return false;
            data = json::parse(r->out, nullptr, false);
            return !data.is_discarded() && data.contains("data");
          })) {
        return absl::DeadlineExceededError(absl::StrCat("ConfigMap ", ns, "/", cm_name, " (volume ",
                                                        name, " of pod ", pod.key(),
                                                        ") did not appear: ", last));
      }
      mesh_->Tell(KubectlArgv({"get", "configmap", cm_name, "-n", ns, "-o", "json"}));
      std::vector<std::pair<std::string, std::string>> files;
      if (cm.contains("items")) {
        for (const json& item : cm["items"]) {
          files.emplace_back(item.value("key", ""), item.value("path", ""));
        }
      } else {
        for (const auto& [key, value] : data["data"].items()) files.emplace_back(key, key);
      }
      for (const auto& [key, path] : files) {
        if (!data["data"].contains(key)) {
          return absl::NotFoundError(
              absl::StrCat("ConfigMap ", ns, "/", cm_name, " has no key ", key));
        }
        if (absl::Status s =
                mesh_->WriteProxyFile(*dir, path, data["data"][key].get<std::string>());
            !s.ok()) {
          return s;
        }
      }
    } else if (source.contains("downwardAPI")) {
      for (const json& item : source["downwardAPI"].value("items", json::array())) {
        absl::StatusOr<std::string> value =
            FieldOf(stored, item["fieldRef"].value("fieldPath", ""));
        if (!value.ok()) return value.status();
        if (absl::Status s = mesh_->WriteProxyFile(*dir, item.value("path", ""), *value); !s.ok()) {
          return s;
        }
      }
    } else {
      return absl::UnimplementedError(
          absl::StrCat("volume ", name, ": the e2e kubelet cannot mount source ", source.dump()));
    }
  }
  return *dir;
}

absl::StatusOr<PodLaunch> KubeMesh::Kubelet(Pod& pod, const json& stored) {
  const json& proxy = *Container(stored, kProxyContainer);
  const json& init = *Container(stored, kInitContainer);
  // Volumes: mounted in the pod's own directory, and the mount paths the containers name are
  // rewritten to it (the pod shares the node's file system: no mount namespace here).
  std::vector<std::pair<std::string, std::string>> mounts;  // mountPath -> directory
  for (const json& m : proxy.value("volumeMounts", json::array())) {
    const json* volume = nullptr;
    if (auto spec = stored.find("spec"); spec != stored.end() && spec->contains("volumes")) {
      volume = Find(spec->at("volumes"), m.value("name", ""));
    }
    if (volume == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("pod ", pod.key(), ": volumeMount ", m.dump(), " names no volume"));
    }
    absl::StatusOr<std::string> dir = MountVolume(pod, stored, *volume);
    if (!dir.ok()) return dir.status();
    mounts.emplace_back(m.value("mountPath", ""), *dir);
  }
  auto remount = [&](std::string text) {
    for (const auto& [path, dir] : mounts) text = absl::StrReplaceAll(text, {{path, dir}});
    return text;
  };
  PodLaunch launch;
  for (const json& e : proxy.value("env", json::array())) {
    const std::string name = e.value("name", "");
    std::string value;
    if (e.contains("valueFrom")) {
      if (!e["valueFrom"].contains("fieldRef")) {
        return absl::UnimplementedError("the e2e kubelet resolves fieldRef env only: " + e.dump());
      }
      absl::StatusOr<std::string> field =
          FieldOf(stored, e["valueFrom"]["fieldRef"].value("fieldPath", ""));
      if (!field.ok()) return field.status();
      value = *field;
    } else {
      value = remount(ExpandKubernetesVars(e.value("value", ""), launch.proxy_env));
    }
    launch.proxy_env.emplace_back(name, value);
  }
  for (const std::string& a : Strings(proxy.value("args", json::array()))) {
    launch.proxy_args.push_back(remount(ExpandKubernetesVars(a, launch.proxy_env)));
  }
  launch.init_flags = Strings(init.value("args", json::array()));
  return launch;
}

absl::Status KubeMesh::PublishEndpoints(const std::string& service,
                                        const std::vector<const Pod*>& pods) {
  if (pods.empty()) return absl::InvalidArgumentError("PublishEndpoints: no pods");
  const std::string ns = pods.front()->spec().ns;
  CommandResult got = Kubectl({"get", "service", service, "-n", ns, "-o", "json"});
  if (absl::Status s = Ran(got, "kubectl get service " + service); !s.ok()) return s;
  json svc = json::parse(got.out, nullptr, false);
  if (svc.is_discarded()) return absl::InternalError("kubectl get service -o json: " + got.out);
  json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                {"kind", "EndpointSlice"},
                {"metadata",
                 {{"name", service + "-remora"},
                  {"namespace", ns},
                  {"labels", {{"kubernetes.io/service-name", service}}}}},
                {"addressType", "IPv4"},
                {"ports", json::array()},
                {"endpoints", json::array()}};
  for (const json& p : svc["spec"].value("ports", json::array())) {
    json port = {{"name", p.value("name", "")}, {"protocol", p.value("protocol", "TCP")}};
    // An EndpointSlice lists the pods' ports: the Service's targetPort when it is a number.
    port["port"] = p.contains("targetPort") && p["targetPort"].is_number()
                       ? p["targetPort"].get<int>()
                       : p.value("port", 0);
    slice["ports"].push_back(port);
  }
  for (const Pod* pod : pods) {
    slice["endpoints"].push_back(
        {{"addresses", {pod->ip()}},
         {"conditions", {{"ready", true}}},
         {"targetRef", {{"kind", "Pod"}, {"name", pod->name()}, {"namespace", ns}}}});
  }
  return Apply(service + "-endpointslice", slice.dump(2)).status();
}

std::string KubeMesh::LogTails(int lines) const {
  std::string out = mesh_ ? mesh_->LogTails(lines) : "";
  if (kube_) {
    absl::StrAppend(&out, "--- fake API server (", kube_->dir(), "/server.log)\n",
                    Tail(testing::ReadFileOrEmpty(kube_->dir() + "/server.log"), lines));
  }
  return out;
}

}  // namespace remora::e2e
