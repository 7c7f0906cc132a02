// mesh-demo: the README's demo (`tools/demo`). Builds a Remora mesh of three pods in network
// namespaces on this machine with the end-to-end harness (tests/e2e/mesh.h), and narrates it: what
// it starts, a call that works unchanged and crosses the wire as TLS only, a call an
// AuthorizationPolicy answers 403, a TCP connection a NetworkPolicy refuses, and where to look.
// Everything it creates is removed when it ends, on Ctrl-C too; leftovers of an interrupted run
// are removed by the next one.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "examples/demo/kube_demo.h"
#include "examples/demo/narration.h"
#include "tests/e2e/mesh.h"
#include "tests/e2e/pcap.h"
#include "tests/e2e/shop_manifests.h"

namespace remora::demo {
namespace {

constexpr char kUsage[] =
    "mesh-demo: a Remora mesh of three pods in network namespaces on this machine, narrated.\n"
    "It starts remora-control on a bridge, and pods (web, frontend, batch) each with an ordinary\n"
    "app, remora-init's capture rules and a remora-proxy running as UID 1337; then shows an\n"
    "allowed call (TLS only on the wire), a call denied by an AuthorizationPolicy (403) and a TCP\n"
    "connection refused by a NetworkPolicy, and where to look. Needs root. Everything it creates\n"
    "is removed when it ends or on Ctrl-C; leftovers of an interrupted run are removed first.\n"
    "With --kube, the same mesh in Kubernetes mode: an API server (a fake, driven by the real\n"
    "kubectl), pods created with kubectl and injected by remora-control's webhook, certificates\n"
    "by TokenReview, and policy changed with kubectl apply/delete.\n"
    "\n"
    "usage: mesh-demo [--kube] [--keep]";

constexpr char kTag[] = "remora-demo";
constexpr uint16_t kControlPort = 15012;  // Istio's xDS + CA port
constexpr char kWebBody[] = "hello from web (served by python3 -m http.server, through Remora)\n";

std::string TlsSummary(const std::vector<uint8_t>& types) {
  int handshake = 0, change = 0, data = 0, alert = 0;
  for (uint8_t t : types) {
    handshake += t == e2e::kTlsHandshake;
    change += t == e2e::kTlsChangeCipherSpec;
    data += t == e2e::kTlsApplicationData;
    alert += t == e2e::kTlsAlert;
  }
  return absl::StrCat(types.size(), " TLS records (", handshake, " handshake, ", change,
                      " change_cipher_spec, ", data, " application_data, ", alert, " alert)");
}

// --- The demo ----------------------------------------------------------------------------------

class Demo {
 public:
  Demo(Narrator& n, bool keep) : n_(n), keep_(keep) {}

  absl::Status Run() {
    RETURN_IF_ERROR(StartControlPlane());
    RETURN_IF_ERROR(CheckInterrupted());
    RETURN_IF_ERROR(StartPods());
    RETURN_IF_ERROR(CheckInterrupted());
    RETURN_IF_ERROR(AllowedCall());
    RETURN_IF_ERROR(CheckInterrupted());
    RETURN_IF_ERROR(DeniedCall());
    RETURN_IF_ERROR(CheckInterrupted());
    RETURN_IF_ERROR(RefusedConnection());
    WhereToLook();
    if (keep_) return KeepRunning(n_, *mesh_);
    return absl::OkStatus();
  }

  Mesh* mesh() { return mesh_.get(); }

 private:
  absl::Status StartControlPlane() {
    ASSIGN_OR_RETURN(e2e::Binaries binaries, e2e::Binaries::FromRunfiles());
    n_.Shorten(binaries.control, "remora-control");
    n_.Shorten(binaries.ctl, "remoractl");
    n_.Shorten(binaries.init, "remora-init");
    n_.Shorten("/usr/bin/python3", "python3");
    e2e::MeshOptions options;
    options.tag = kTag;
    options.binaries = binaries;
    options.control_port = kControlPort;
    options.on_command = [this, binaries](const std::vector<std::string>& argv,
                                          const CommandResult* result) {
      Observe(n_, argv, result, binaries);
    };

    n_.Heading("1. The node: a bridge, and the control plane on it");
    n_.Say(
        "Pods will be network namespaces with a veth on a bridge in this machine's root "
        "namespace.\n"
        "remora-control runs there, on the bridge's address: it is the mesh's certificate "
        "authority\n"
        "(every proxy gets its SPIFFE certificate from it) and serves configuration and policy to\n"
        "the proxies over xDS.");
    absl::StatusOr<std::unique_ptr<Mesh>> mesh = Mesh::Start(options);
    if (!mesh.ok() && options.control_port != 0) {
      n_.Say(absl::StrCat("(port ", kControlPort, " is taken: trying any free port)"));
      options.control_port = 0;
      mesh = Mesh::Start(options);
    }
    if (!mesh.ok()) return mesh.status();
    mesh_ = std::move(*mesh);
    n_.Shorten(mesh_->run_dir(), "$RUN");
    for (const std::string& line : mesh_->swept())
      n_.Say("  removed a leftover of an earlier run: " + line);
    RETURN_IF_ERROR(WriteRemoractlWrapper(*mesh_));
    n_.Result(true,
              absl::StrCat("remora-control listens on ", mesh_->control_address(), "; the bridge ",
                           mesh_->network().bridge(), " is ", mesh_->network().subnet()));
    n_.Say(absl::StrCat("  RUN=", mesh_->run_dir(),
                        "   (this run's files: manifests, pod configurations, logs, captures)"));

    n_.Heading("2. The service web, registered as Kubernetes would report it");
    n_.Yaml(e2e::kWebService);
    ASSIGN_OR_RETURN(std::string applied, mesh_->Apply("web-service", e2e::kWebService, false));
    (void)applied;
    return absl::OkStatus();
  }

  absl::Status StartPods() {
    n_.Heading("3. Three pods: web, frontend and batch");
    n_.Say(
        "Each pod comes up the way a Kubernetes node brings up a meshed pod: a network namespace\n"
        "with a veth on the bridge; a Workload registration and a bootstrap token (remoractl);\n"
        "remora-init's capture rules (inbound TCP -> 15006, outbound TCP -> 15001, the proxy's\n"
        "UID 1337 excluded); remora-proxy as UID 1337, which fetches its certificate and config;\n"
        "then the app, which knows nothing of all this. Every command, for web:");
    e2e::PodSpec web;
    web.name = "web";
    web.http_body = kWebBody;
    web.tcp_echo = true;
    ASSIGN_OR_RETURN(Pod * w, mesh_->AddPod(web));
    n_.Result(true, absl::StrCat("pod web ", w->ip(), " (", w->identity(),
                                 "): python3 -m http.server on 8080, a TCP echo on 9000"));
    n_.show_commands = false;
    for (const char* name : {"frontend", "batch"}) {
      RETURN_IF_ERROR(CheckInterrupted());
      e2e::PodSpec spec;
      spec.name = name;
      ASSIGN_OR_RETURN(Pod * p, mesh_->AddPod(spec));
      n_.Result(true, absl::StrCat("pod ", name, " ", p->ip(), " (", p->identity(),
                                   "): the same steps; no server, we run curl in it"));
    }
    n_.show_commands = true;
    RETURN_IF_ERROR(mesh_->WaitForSync());
    n_.Say(
        "\nThe control plane's view: every proxy connected, with its identity and config version.");
    CommandResult status = mesh_->Remoractl({"proxy-status"});
    if (!status.ok()) return absl::InternalError(status.err);
    return absl::OkStatus();
  }

  absl::Status AllowedCall() {
    Pod& web = *mesh_->pod("web");
    Pod& frontend = *mesh_->pod("frontend");
    n_.Heading("4. ALLOWED: frontend calls web, in plain HTTP, nothing changed in either app");
    n_.Say(absl::StrCat(
        "curl in frontend dials ", web.ip(),
        ":8080. frontend's rules hand the connection to its\n"
        "proxy (15001), which opens mutual TLS to web, checking that web's certificate says\n"
        "spiffe://cluster.local/ns/shop/sa/web; web's rules hand that to its proxy (15006), which\n"
        "checks frontend's certificate and passes the request to the app on 127.0.0.1:8080.\n"
        "tcpdump records the bridge meanwhile."));
    ASSIGN_OR_RETURN(e2e::PacketCapture capture, mesh_->StartCapture("allowed-call"));
    absl::StatusOr<HttpCall> call = Curl(frontend, absl::StrCat("http://", web.ip(), ":8080/"));
    ASSIGN_OR_RETURN(std::string pcap, capture.Stop(web.ip()));
    if (!call.ok()) return call.status();
    n_.Output(absl::StrCat(call->status_line, "\n", call->body));
    if (!absl::StrContains(call->status_line, " 200")) {
      return absl::InternalError("expected 200 from web: " + call->status_line);
    }
    n_.Result(true,
              "200: the app answered, and the app's own log shows its sidecar as the caller:");
    n_.Output(LastLogLine(absl::StrCat(mesh_->log_dir(), "/web-http.log"), "\"GET / "));

    ASSIGN_OR_RETURN(std::vector<e2e::TcpConnection> connections, e2e::ReadTcpConnections(pcap));
    const std::string server = absl::StrCat(web.ip(), ":8080");
    bool plaintext = absl::StrContains(pcap, "hello from web");
    for (const e2e::TcpConnection& c : connections) {
      if (c.server != server) continue;
      for (const auto& [flow, from, to] : {std::tuple{&c.to_server, c.client, c.server},
                                           std::tuple{&c.to_client, c.server, c.client}}) {
        absl::StatusOr<std::vector<uint8_t>> types =
            e2e::TlsRecordTypes(flow->bytes, !flow->saw_fin);
        if (!types.ok()) {
          plaintext = true;
          n_.Result(false, absl::StrCat(from, " -> ", to, ": ", types.status().message()));
          continue;
        }
        n_.Say(absl::StrCat("  on the wire ", from, " -> ", to, ": ", flow->bytes.size(),
                            " bytes, ", TlsSummary(*types)));
      }
    }
    if (plaintext) return absl::InternalError("the call crossed the bridge in plaintext");
    n_.Result(true, absl::StrCat("TLS only on the bridge: the page's text appears nowhere in the ",
                                 pcap.size(), "-byte capture ($RUN/allowed-call.pcap)"));
    return absl::OkStatus();
  }

  absl::Status DeniedCall() {
    Pod& web = *mesh_->pod("web");
    const std::string url = absl::StrCat("http://", web.ip(), ":8080/");
    n_.Heading("5. DENIED: an AuthorizationPolicy lets only frontend's identity call web");
    n_.Yaml(e2e::kAllowFrontend);
    n_.Say("--wait returns once every proxy the policy affects has acknowledged it:");
    RETURN_IF_ERROR(mesh_->Apply("allow-frontend", e2e::kAllowFrontend, true).status());
    for (const char* caller : {"frontend", "batch"}) {
      ASSIGN_OR_RETURN(HttpCall call, Curl(*mesh_->pod(caller), url));
      n_.Output(absl::StrCat(call.status_line, "\n", call.body));
      const bool want_denied = std::string(caller) == "batch";
      const bool denied = absl::StrContains(call.status_line, " 403");
      if (denied != want_denied) {
        return absl::InternalError(
            absl::StrCat("unexpected answer to ", caller, ": ", call.status_line));
      }
      n_.Result(true, want_denied ? "batch (spiffe://cluster.local/ns/shop/sa/batch) gets 403; the "
                                    "app never sees the request. web's proxy says why, in one line:"
                                  : "frontend still gets 200");
    }
    n_.LogLine(LastLogLine(web.proxy_log_path(),
                           absl::StrCat("denied request from=", mesh_->pod("batch")->ip())));
    return absl::OkStatus();
  }

  absl::Status RefusedConnection() {
    Pod& web = *mesh_->pod("web");
    n_.Heading("6. REFUSED: a NetworkPolicy lets only frontend's pods connect to web at all");
    n_.Say(
        "A Kubernetes NetworkPolicy, enforced by web's proxy when a connection arrives (layer 4).");
    n_.Say(
        "First the AuthorizationPolicy goes, so that what follows is the NetworkPolicy's doing:");
    RETURN_IF_ERROR(mesh_->Delete("allow-frontend", true).status());
    CommandResult before =
        mesh_->pod("batch")->TcpExchange(web.ip(), e2e::kEchoPort, "hello-from-batch");
    if (before.out != "hello-from-batch\n") {
      return absl::InternalError(absl::StrCat("batch's line did not come back: ", before.err));
    }
    n_.Output(before.out);
    n_.Result(true, "without a policy, batch's line to web's TCP echo server (9000) comes back");
    n_.Say("Now the NetworkPolicy:");
    n_.Yaml(e2e::kIngressFromFrontend);
    RETURN_IF_ERROR(
        mesh_->Apply("ingress-from-frontend", e2e::kIngressFromFrontend, true).status());
    n_.Say("The same line, from each pod:");
    RETURN_IF_ERROR(NarrateEchoFromEachPod(n_, *mesh_, web));
    n_.LogLine(LastLogLine(web.proxy_log_path(),
                           absl::StrCat("refused connection from=", mesh_->pod("batch")->ip())));
    return absl::OkStatus();
  }

  void WhereToLook() {
    const std::string web_ns = mesh_->pod("web")->netns().name();
    n_.Heading("Where to look");
    n_.Say(keep_ ? "The mesh stays up. Paste the first line into a shell, then:"
                 : "All of this is removed when the demo ends; `tools/demo --keep` leaves "
                   "it up for these:");
    // A shell snippet: what each command shows, then the command.
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"this run's files", "RUN=" + mesh_->run_dir()},
        {"every proxy: identity, configuration acknowledged, refusals",
         "$RUN/remoractl proxy-status -v"},
        {"what the control plane computed for web", "$RUN/remoractl proxy-config shop/web"},
        {"what is stored (remove it with: $RUN/remoractl delete -f "
         "$RUN/manifests/ingress-from-frontend.yaml)",
         "$RUN/remoractl get networkpolicy"},
        {"web's sidecar: every denial or refusal is one line", "tail $RUN/logs/web-proxy.log"},
        {"the other sidecars, the apps, remora-control", "ls $RUN/logs"},
        {"web's proxy admin API (also /certs, /config_dump)",
         absl::StrCat("ip netns exec ", web_ns, " curl -s 127.0.0.1:15000/stats")},
        {"web's capture rules",
         absl::StrCat("ip netns exec ", web_ns, " nft list table inet remora")},
        {"the allowed call as it crossed the bridge", "tcpdump -nn -A -r $RUN/allowed-call.pcap"},
    };
    for (const auto& [what, command] : rows) n_.Say(absl::StrCat("  # ", what, "\n  ", command));
  }

  Narrator& n_;
  bool keep_;
  std::unique_ptr<Mesh> mesh_;
};

int Main(int argc, char** argv) {
  bool keep = false;
  bool kube = false;
  FlagSet flags("mesh-demo", kUsage);
  flags.Bool("keep", &keep, "leave the mesh running until Ctrl-C");
  flags.Bool("kube", &kube, "Kubernetes mode: kubectl, not remoractl, changes policy");
  std::vector<std::string> positional;
  absl::Status parsed = flags.Parse(argc, argv, &positional);
  if (absl::IsCancelled(parsed)) return 0;
  if (!parsed.ok() || !positional.empty()) {
    std::cerr << "mesh-demo: "
              << (parsed.ok() ? "unexpected argument " + positional[0]
                              : std::string(parsed.message()))
              << "\nrun mesh-demo --help for usage\n";
    return kExitUsage;
  }
  if (::geteuid() != 0) {
    std::cerr << "mesh-demo: run it as root: it creates network namespaces, a bridge and capture "
                 "rules (tools/demo, as root)\n";
    return kExitUsage;
  }
  std::signal(SIGPIPE, SIG_IGN);
  InstallSignalHandlers();
  // curl in the pods must dial the pods, not a proxy this shell may have configured.
  for (const char* name :
       {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) {
    ::unsetenv(name);
  }

  std::cout << std::unitbuf;  // each line as it happens, also through a pipe (| tee)
  Narrator n(::isatty(STDOUT_FILENO) != 0);
  n.Say(kube ? "Remora demo, Kubernetes mode: three pods created with kubectl, in network "
               "namespaces on this machine."
             : "Remora demo: a service mesh of three pods in network namespaces on this machine.");
  n.Say(
      "It adds a bridge and namespaces of its own (and their processes), and removes them all when "
      "it ends.");
  if (kube && std::getenv("TEST_SRCDIR") == nullptr) {
    // The fake API server's script is found through the runfiles, as in a test.
    const std::string base = e2e::RunfilesBase();
    ::setenv("TEST_SRCDIR", base.substr(0, base.rfind('/')).c_str(), 1);
    ::setenv("TEST_WORKSPACE", "remora", 1);
  }
  const absl::Time start = absl::Now();
  Demo demo(n, keep);
  KubeDemo kube_demo(n, keep);
  absl::Status result = kube ? kube_demo.Run() : demo.Run();
  int code = 0;
  if (absl::IsCancelled(result)) {
    code = keep ? 0 : 130;
  } else if (!result.ok()) {
    std::cout << std::flush;
    std::cerr << "\nmesh-demo: " << result.message() << "\n";
    if (demo.mesh() != nullptr)
      std::cerr << "\nThe last lines of each log:\n" << demo.mesh()->LogTails();
    if (kube_demo.kube() != nullptr)
      std::cerr << "\nThe last lines of each log:\n" << kube_demo.kube()->LogTails();
    code = 1;
  } else if (!keep) {
    n.Heading(absl::StrCat("Done in ", absl::FormatDuration(absl::Trunc(absl::Now() - start,
                                                                        absl::Milliseconds(100)))));
    n.Say(absl::StrCat(
        "Stopping the proxies, the apps and the control plane, and removing the namespaces, the "
        "bridge and $RUN.\nRun `tools/demo ",
        kube ? "--kube " : "", "--keep` to leave the mesh running and explore it."));
  }
  if (keep || code != 0) n.Say("\nStopping everything and removing what the demo created.");
  // `demo` goes out of scope here, and with it the mesh: processes, namespaces, bridge, files.
  return code;
}

}  // namespace
}  // namespace remora::demo

int main(int argc, char** argv) { return remora::demo::Main(argc, argv); }
