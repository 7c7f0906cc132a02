#include "examples/demo/kube_demo.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "tests/e2e/shop_manifests.h"
#include "tests/support/process.h"

namespace remora::demo {
namespace {

constexpr char kTag[] = "remora-kdemo";
constexpr uint16_t kControlPort = 15012;  // Istio's xDS + CA port
constexpr char kWebBody[] = "hello from web (served by python3 -m http.server, through Remora)\n";

}  // namespace

absl::Status KubeDemo::Run() {
  RETURN_IF_ERROR(StartNode());
  RETURN_IF_ERROR(CheckInterrupted());
  RETURN_IF_ERROR(StartPods());
  RETURN_IF_ERROR(CheckInterrupted());
  RETURN_IF_ERROR(AllowedCall());
  RETURN_IF_ERROR(CheckInterrupted());
  RETURN_IF_ERROR(DeniedCall());
  RETURN_IF_ERROR(CheckInterrupted());
  RETURN_IF_ERROR(RefusedConnection());
  RETURN_IF_ERROR(CheckInterrupted());
  RETURN_IF_ERROR(RootConfigMap());
  WhereToLook();
  if (keep_) return KeepRunning(n_, kube_->mesh());
  return absl::OkStatus();
}

absl::Status KubeDemo::Until(const std::string& what, const std::function<bool()>& call) {
  const bool shown = n_.show_commands;
  n_.show_commands = false;
  const bool done = testing::WaitFor(absl::Seconds(60), [&] { return Interrupted() || call(); });
  n_.show_commands = shown;
  RETURN_IF_ERROR(CheckInterrupted());
  if (!done) return absl::DeadlineExceededError(absl::StrCat("after 60 s: not ", what));
  return absl::OkStatus();
}

absl::Status KubeDemo::StartNode() {
  ASSIGN_OR_RETURN(e2e::Binaries binaries, e2e::Binaries::FromRunfiles());
  n_.Shorten(binaries.control, "remora-control");
  n_.Shorten(binaries.ctl, "remoractl");
  n_.Shorten(binaries.init, "remora-init");
  n_.Shorten("/usr/bin/python3", "python3");
  e2e::MeshOptions options;
  options.tag = kTag;
  options.binaries = binaries;
  options.control_port = kControlPort;
  n_.Shorten(absl::StrCat("/tmp/", kTag, "-", ::getpid()), "$RUN");  // Mesh::Start's run directory
  options.on_command = [this, binaries](const std::vector<std::string>& argv,
                                        const CommandResult* result) {
    Observe(n_, argv, result, binaries);
  };

  n_.Heading("1. The node: a Kubernetes API server, and the control plane reading it");
  n_.Say(
      "No kube-apiserver can run on this machine, so a fake one stands in (tests/kube: it speaks\n"
      "the real protocol to the real kubectl). remora-control runs in Kubernetes mode\n"
      "(--kubeconfig): the cluster's Pods, Services, NetworkPolicies and AuthorizationPolicies "
      "are\n"
      "its configuration, and it serves the sidecar injection webhook, registered with the API\n"
      "server by the shipped examples/kubernetes/30-webhook.yaml; remora-control fills in its "
      "caBundle).");
  absl::StatusOr<std::unique_ptr<e2e::KubeMesh>> kube = e2e::KubeMesh::Start(options);
  if (!kube.ok() && !absl::IsCancelled(kube.status())) {
    n_.Say(absl::StrCat("(could not start on port ", kControlPort, ": ", kube.status().message(),
                        "; trying any free port)"));
    options.control_port = 0;
    kube = e2e::KubeMesh::Start(options);
  }
  if (!kube.ok()) return kube.status();
  kube_ = std::move(*kube);
  e2e::Mesh& mesh = kube_->mesh();
  for (const std::string& line : mesh.swept()) {
    n_.Say("  removed a leftover of an earlier run: " + line);
  }
  RETURN_IF_ERROR(WriteRemoractlWrapper(mesh));
  n_.Result(true, absl::StrCat("the API server is ", kube_->api_server().server_url(),
                               "; remora-control listens on ", mesh.control_address(),
                               ", its webhook on ", mesh.webhook_address(),
                               " (where the API server dials ", e2e::kWebhookHost, ")"));
  n_.Say(absl::StrCat("  RUN=", mesh.run_dir(),
                      "   (this run's files: the kubeconfig, manifests, logs)"));
  return absl::OkStatus();
}

absl::Status KubeDemo::StartPods() {
  n_.Heading("2. Three pods, created with kubectl: web, frontend and batch");
  n_.Say(
      "`kubectl apply` of a plain Pod (one container, `app`) in a namespace labelled\n"
      "remora-injection=enabled. The API server sends it to remora-control's webhook, which adds\n"
      "remora-init and the remora-proxy sidecar. Then this demo plays the kubelet: the pod's\n"
      "network namespace, its status (Running, its IP), its projected ServiceAccount token\n"
      "(audience remora-control) and the root certificate ConfigMap, then the containers as the\n"
      "injected spec says. The proxy presents the token; remora-control checks it with a\n"
      "TokenReview and issues the pod's SPIFFE certificate. Every command, for web:");
  e2e::PodSpec web;
  web.name = "web";
  web.http_body = kWebBody;
  web.tcp_echo = true;
  ASSIGN_OR_RETURN(e2e::Pod * w, kube_->AddPod(web));
  const nlohmann::json& stored = kube_->admitted(*w);
  std::string containers;
  for (const char* list : {"initContainers", "containers"}) {
    for (const nlohmann::json& c : stored["spec"].value(list, nlohmann::json::array())) {
      absl::StrAppend(&containers, containers.empty() ? "" : ", ", c.value("name", "?"));
    }
  }
  n_.Say("The pod as applied ($RUN/manifests/web-pod.yaml; the namespace and ServiceAccount too):");
  const std::string applied =
      testing::ReadFileOrEmpty(kube_->mesh().run_dir() + "/manifests/web-pod.yaml");
  n_.Yaml(applied.substr(applied.rfind("---\n") + 4));
  n_.Result(true, absl::StrCat("pod web ", w->ip(), " (", w->identity(),
                               "), as the API server stored it: containers ", containers));
  n_.Say("The Service web, and its EndpointSlice (no controller here writes it):");
  n_.Yaml(e2e::kKubeWebService);
  RETURN_IF_ERROR(kube_->Apply("web-service", e2e::kKubeWebService).status());
  n_.show_commands = false;
  RETURN_IF_ERROR(kube_->PublishEndpoints("web", {w}));
  for (const char* name : {"frontend", "batch"}) {
    RETURN_IF_ERROR(CheckInterrupted());
    e2e::PodSpec spec;
    spec.name = name;
    ASSIGN_OR_RETURN(e2e::Pod * p, kube_->AddPod(spec));
    n_.Result(true, absl::StrCat("pod ", name, " ", p->ip(), " (", p->identity(),
                                 "): the same steps; no server, we run curl in it"));
  }
  n_.show_commands = true;
  RETURN_IF_ERROR(kube_->mesh().WaitForSync());
  n_.Say("\nWhat kubectl sees:");
  CommandResult pods = kube_->Kubectl({"get", "pods", "-n", "shop", "-o", "wide"});
  n_.Output(pods.out + pods.err);
  n_.Say("And the control plane: every proxy connected, with its identity and config version.");
  CommandResult status = kube_->mesh().Remoractl({"proxy-status"});
  if (!status.ok()) return absl::InternalError(status.err);
  return absl::OkStatus();
}

absl::Status KubeDemo::AllowedCall() {
  e2e::Pod& web = *kube_->mesh().pod("web");
  n_.Heading("3. ALLOWED: frontend calls web, in plain HTTP, over mutual TLS");
  ASSIGN_OR_RETURN(HttpCall call, Curl(*kube_->mesh().pod("frontend"),
                                       absl::StrCat("http://", web.ip(), ":8080/")));
  n_.Output(absl::StrCat(call.status_line, "\n", call.body));
  if (!absl::StrContains(call.status_line, " 200")) {
    return absl::InternalError("expected 200 from web: " + call.status_line);
  }
  n_.Result(true, "200, through both sidecars (web's proxy checked frontend's certificate)");
  return absl::OkStatus();
}

absl::Status KubeDemo::DeniedCall() {
  e2e::Mesh& mesh = kube_->mesh();
  const std::string url = absl::StrCat("http://", mesh.pod("web")->ip(), ":8080/");
  n_.Heading("4. DENIED: kubectl apply of an AuthorizationPolicy: only frontend may call web");
  n_.Yaml(e2e::kAllowFrontend);
  RETURN_IF_ERROR(kube_->Apply("allow-frontend", e2e::kAllowFrontend).status());
  n_.Say("remora-control sees it through its watch and pushes it to web's proxy. batch calls web:");
  RETURN_IF_ERROR(Until("403 for batch", [&] {
    absl::StatusOr<HttpCall> c = Curl(*mesh.pod("batch"), url);
    return c.ok() && absl::StrContains(c->status_line, " 403");
  }));
  for (const char* caller : {"frontend", "batch"}) {
    ASSIGN_OR_RETURN(HttpCall call, Curl(*mesh.pod(caller), url));
    n_.Output(absl::StrCat(call.status_line, "\n", call.body));
    const bool want_denied = std::string(caller) == "batch";
    if (absl::StrContains(call.status_line, " 403") != want_denied) {
      return absl::InternalError(
          absl::StrCat("unexpected answer to ", caller, ": ", call.status_line));
    }
    n_.Result(true, want_denied ? "batch gets 403; the app never sees the request. web's proxy "
                                  "says why, in one line:"
                                : "frontend still gets 200");
  }
  n_.LogLine(LastLogLine(mesh.pod("web")->proxy_log_path(),
                         absl::StrCat("denied request from=", mesh.pod("batch")->ip())));
  n_.Say("kubectl delete lifts it:");
  RETURN_IF_ERROR(kube_->Delete("allow-frontend").status());
  RETURN_IF_ERROR(Until("200 for batch again", [&] {
    absl::StatusOr<HttpCall> c = Curl(*mesh.pod("batch"), url);
    return c.ok() && absl::StrContains(c->status_line, " 200");
  }));
  ASSIGN_OR_RETURN(HttpCall again, Curl(*mesh.pod("batch"), url));
  n_.Output(again.status_line);
  n_.Result(true, "batch gets 200 again");
  return absl::OkStatus();
}

absl::Status KubeDemo::RefusedConnection() {
  e2e::Mesh& mesh = kube_->mesh();
  e2e::Pod& web = *mesh.pod("web");
  n_.Heading("5. REFUSED: kubectl apply of a NetworkPolicy: only frontend's pods may connect");
  n_.Yaml(e2e::kIngressFromFrontend);
  RETURN_IF_ERROR(kube_->Apply("ingress-from-frontend", e2e::kIngressFromFrontend).status());
  const std::string refused = absl::StrCat("refused connection from=", mesh.pod("batch")->ip());
  RETURN_IF_ERROR(Until("a refusal for batch", [&] {
    return mesh.pod("batch")->TcpExchange(web.ip(), e2e::kEchoPort, "probe").out.empty() &&
           absl::StrContains(web.proxy_log(), refused);
  }));
  n_.Say("The same line to web's TCP echo server (9000), from each pod:");
  RETURN_IF_ERROR(NarrateEchoFromEachPod(n_, mesh, web));
  n_.LogLine(LastLogLine(web.proxy_log_path(), refused));
  n_.Say(
      "It stays in place: `kubectl delete -f $RUN/manifests/ingress-from-frontend.yaml` lifts it "
      "(see below).");
  return absl::OkStatus();
}

absl::Status KubeDemo::RootConfigMap() {
  n_.Heading("6. Trust: the mesh's root certificate, published in the pods' namespace");
  n_.Say(
      "remora-control writes ConfigMap remora-ca-root-cert in every namespace with mesh pods; the\n"
      "injected sidecar mounts it to verify the control plane and its peers.");
  CommandResult got = kube_->Kubectl({"get", "configmap", "remora-ca-root-cert", "-n", "shop"});
  n_.Output(got.out + got.err);
  if (!got.ok()) return absl::InternalError("no ConfigMap remora-ca-root-cert in shop");
  n_.Result(true, "the same root the proxies were given");
  return absl::OkStatus();
}

void KubeDemo::WhereToLook() {
  const e2e::Mesh& mesh = kube_->mesh();
  const std::string web_ns = mesh.pod("web")->netns().name();
  n_.Heading("Where to look");
  n_.Say(keep_ ? "The mesh stays up. Paste the first line into a shell, then:"
               : "All of this is removed when the demo ends; `tools/demo --kube --keep` leaves "
                 "it up for these:");
  const std::string kubectl = "kubectl --kubeconfig=$RUN/kube/kubeconfig";
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"this run's files", "RUN=" + mesh.run_dir()},
      {"the pods, as the API server stored them (note the injected containers)",
       kubectl + " get pods -n shop -o wide"},
      {"the policies in force", kubectl + " get networkpolicies,authorizationpolicies -n shop"},
      {"lift the NetworkPolicy (batch's line comes back)",
       kubectl + " delete -f $RUN/manifests/ingress-from-frontend.yaml"},
      {"deny batch again, with kubectl", kubectl + " apply -f $RUN/manifests/allow-frontend.yaml"},
      {"try it from batch", absl::StrCat("ip netns exec ", mesh.pod("batch")->netns().name(),
                                         " curl -s -o /dev/null -w '%{http_code}\\n' http://",
                                         mesh.pod("web")->ip(), ":8080/")},
      {"remoractl reads (its writes point to kubectl in this mode)",
       "$RUN/remoractl proxy-status -v"},
      {"web's sidecar: every denial or refusal is one line", "tail $RUN/logs/web-proxy.log"},
      {"remora-control: informers, TokenReviews, pushes", "tail $RUN/logs/control.log"},
      {"web's proxy admin API (also /certs, /config_dump)",
       absl::StrCat("ip netns exec ", web_ns, " curl -s 127.0.0.1:15000/certs")},
  };
  for (const auto& [what, command] : rows) n_.Say(absl::StrCat("  # ", what, "\n  ", command));
}

}  // namespace remora::demo
