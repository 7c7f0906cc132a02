// The mesh end to end, as a user runs it: pods in network namespaces on a bridge, ordinary apps
// (python3's http.server, a TCP echo, curl) that know nothing of the mesh, remora-init's capture
// rules, a remora-proxy as UID 1337 in each pod, and remora-control on the node. What issue 6
// asks the mesh to show:
//  * a call from one pod to another works unchanged, and the bridge carries TLS records only;
//  * an AuthorizationPolicy answers 403 to an identity it does not allow, and a NetworkPolicy
//    refuses TCP connections from a pod it does not select;
//  * remora-init --cleanup gives a namespace back the rules it had.
// And what issue 16 asks of the capture path: the app is reached at the pod's own address, so a
// listener it bound to 127.0.0.1 stays private (forwarding to localhost is an explicit opt-in), and
// a direct connection to the inbound capture port is refused instead of looping through the proxy.
#include "tests/e2e/mesh.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/pcap.h"
#include "tests/e2e/shop_manifests.h"
#include "tests/support/net.h"

namespace remora::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Marker(absl::string_view what) {
  std::random_device rd;
  return absl::StrCat("remora-e2e-", what, "-", absl::Hex(rd(), absl::kZeroPad8),
                      absl::Hex(rd(), absl::kZeroPad8));
}

// "" when `marker` is not in `bytes`, else where it is and what surrounds it.
std::string Plaintext(absl::string_view bytes, absl::string_view marker) {
  const size_t at = bytes.find(marker);
  if (at == absl::string_view::npos) return "";
  const size_t from = at < 80 ? 0 : at - 80;
  return absl::StrCat("plaintext at byte ", at, ": ...",
                      absl::CHexEscape(bytes.substr(from, at - from + marker.size() + 80)), "...");
}

int Count(absl::string_view text, absl::string_view needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != absl::string_view::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

PodSpec Spec(const std::string& name) {
  PodSpec spec;
  spec.name = name;
  return spec;
}

// Rules an "ops" pod holds before remora-init: its own table, which cleanup must leave alone.
constexpr char kOpsOwnRules[] = R"(table inet ops {
  chain output {
    type filter hook output priority 0; policy accept;
    tcp dport 6379 reject with tcp reset
  }
}
)";

class MeshTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!iptables_init::testing::IsRoot()) return;
    setup_ = new absl::Status(StartMesh());
  }

  static absl::Status StartMesh() {
    const absl::Time start = absl::Now();
    absl::StatusOr<Binaries> binaries = Binaries::FromRunfiles();
    if (!binaries.ok()) return binaries.status();
    MeshOptions options;
    options.binaries = *binaries;
    if (const char* out = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR"); out != nullptr) {
      options.save_logs_to = out;
    }
    absl::StatusOr<std::unique_ptr<Mesh>> mesh = Mesh::Start(std::move(options));
    if (!mesh.ok()) return mesh.status();
    mesh_ = mesh->release();
    for (const std::string& line : mesh_->swept()) std::cerr << "swept leftover: " << line << "\n";
    if (absl::StatusOr<std::string> s = mesh_->Apply("web-service", kWebService, false); !s.ok()) {
      return s.status();
    }
    response_marker_ = new std::string(Marker("response"));
    PodSpec web = Spec("web");
    web.http_body = absl::StrCat("hello from web: ", *response_marker_, "\n");
    web.tcp_echo = true;
    for (const PodSpec& spec : {web, Spec("frontend"), Spec("batch")}) {
      if (absl::StatusOr<Pod*> pod = mesh_->AddPod(spec); !pod.ok()) return pod.status();
    }
    if (absl::Status s = mesh_->WaitForSync(); !s.ok()) return s;
    std::cerr << "mesh of " << mesh_->pods().size() << " pods on " << mesh_->network().subnet()
              << " ready in " << absl::FormatDuration(absl::Now() - start) << "\n";
    return absl::OkStatus();
  }

  static void TearDownTestSuite() {
    delete mesh_;
    mesh_ = nullptr;
    delete setup_;
    setup_ = nullptr;
    delete response_marker_;
    response_marker_ = nullptr;
  }

  void SetUp() override {
    if (!iptables_init::testing::IsRoot()) {
      GTEST_SKIP() << "needs root: it creates network namespaces, a bridge and capture rules";
    }
    ASSERT_TRUE(setup_ != nullptr && setup_->ok())
        << "the mesh did not start: " << (setup_ ? *setup_ : absl::UnknownError("?"))
        << (mesh_ ? "\n" + mesh_->LogTails() : "");
  }

  void TearDown() override {
    if (HasFailure() && mesh_ != nullptr) std::cerr << mesh_->LogTails(30);
  }

  static Pod& pod(absl::string_view name) { return *mesh_->pod(name); }
  static std::string WebUrl(const std::string& query = "") {
    return absl::StrCat("http://", pod("web").ip(), ":", kHttpPort, "/", query);
  }

  static Mesh* mesh_;
  static absl::Status* setup_;
  static std::string* response_marker_;
};

Mesh* MeshTest::mesh_ = nullptr;
absl::Status* MeshTest::setup_ = nullptr;
std::string* MeshTest::response_marker_ = nullptr;

TEST_F(MeshTest, ACallBetweenPodsWorksUnchangedAndTheBridgeCarriesTlsOnly) {
  Pod& web = pod("web");
  Pod& frontend = pod("frontend");
  const std::string request_marker = Marker("request");
  const std::string& response_marker = *response_marker_;
  const int64_t handshakes = web.ListenerStat("tls_handshake_ok", "inbound");

  absl::StatusOr<PacketCapture> capture = mesh_->StartCapture("call");
  ASSERT_TRUE(capture.ok()) << capture.status();
  absl::StatusOr<HttpReply> reply = frontend.HttpGet(
      WebUrl("?q=" + request_marker), {absl::StrCat("x-e2e-marker: ", request_marker)});
  absl::StatusOr<std::string> pcap = capture->Stop(web.ip());
  ASSERT_TRUE(pcap.ok()) << pcap.status();

  // The app's view: an ordinary call, answered.
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_THAT(reply->body, HasSubstr(*response_marker_));
  EXPECT_TRUE(testing::WaitFor(absl::Seconds(5),
                               [&] { return absl::StrContains(web.http_log(), request_marker); }))
      << "the request never reached the app:\n"
      << web.http_log();
  // It went through both sidecars with mutual TLS.
  EXPECT_EQ(web.ListenerStat("tls_handshake_ok", "inbound"), handshakes + 1);

  // The wire's view: neither marker, in any packet or across packets, and every connection
  // between the pods is TLS records from its first byte.
  for (const std::string* marker : {&request_marker, &response_marker}) {
    EXPECT_EQ(Plaintext(*pcap, *marker), "") << "in the capture file " << capture->path();
  }
  absl::StatusOr<std::vector<TcpConnection>> connections = ReadTcpConnections(*pcap);
  ASSERT_TRUE(connections.ok()) << connections.status();
  const std::string server = absl::StrCat(web.ip(), ":", kHttpPort);
  int calls = 0;
  for (const TcpConnection& c : *connections) {
    for (const TcpFlow* flow : {&c.to_server, &c.to_client}) {
      for (const std::string* marker : {&request_marker, &response_marker}) {
        EXPECT_EQ(Plaintext(flow->bytes, *marker), "") << "in " << c.client << " <-> " << c.server;
      }
    }
    if (c.server != server) continue;
    ++calls;
    EXPECT_TRUE(absl::StartsWith(c.client, frontend.ip() + ":")) << c.client;
    ASSERT_TRUE(c.to_server.saw_syn) << "the capture missed the start of " << c.client;
    for (const auto& [flow, name] :
         {std::pair{&c.to_server, "to the server"}, std::pair{&c.to_client, "to the client"}}) {
      SCOPED_TRACE(absl::StrCat(c.client, " -> ", c.server, ", ", name));
      EXPECT_FALSE(flow->gap);
      absl::StatusOr<std::vector<uint8_t>> records = TlsRecordTypes(flow->bytes, !flow->saw_fin);
      ASSERT_TRUE(records.ok()) << records.status();
      ASSERT_FALSE(records->empty());
      EXPECT_EQ(records->front(), kTlsHandshake);
      EXPECT_NE(std::find(records->begin(), records->end(), kTlsApplicationData), records->end())
          << "no application data record";
    }
  }
  EXPECT_EQ(calls, 1) << "expected exactly the one call's connection to " << server;
}

TEST_F(MeshTest, AnAuthorizationPolicyAnswers403ToAnIdentityItDoesNotAllow) {
  Pod& web = pod("web");
  // Without a policy, both callers get through.
  for (const char* caller : {"frontend", "batch"}) {
    absl::StatusOr<HttpReply> reply = pod(caller).HttpGet(WebUrl());
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->status, 200) << caller;
  }

  absl::StatusOr<std::string> applied = mesh_->Apply("allow-frontend", kAllowFrontend);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, HasSubstr("authorizationpolicy shop/web-allow-frontend created"));
  EXPECT_THAT(*applied, HasSubstr("active on 1/1 affected proxy"));

  absl::StatusOr<HttpReply> allowed = pod("frontend").HttpGet(WebUrl());
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->status, 200);
  EXPECT_THAT(allowed->body, HasSubstr(*response_marker_));

  const std::string path = absl::StrCat("?from-batch-", Marker("denied"));
  absl::StatusOr<HttpReply> denied = pod("batch").HttpGet(WebUrl(path));
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(denied->body, "RBAC: access denied");
  EXPECT_THAT(web.http_log(), Not(HasSubstr(path))) << "a denied request reached the app";
  // The sidecar says who was denied and why, in one line.
  EXPECT_TRUE(testing::WaitForText(
      web.proxy_log_path(), absl::StrCat("denied request from=", pod("batch").ip(),
                                         " peer_identity=\"", pod("batch").identity(), "\"")))
      << web.proxy_log();

  absl::StatusOr<std::string> deleted = mesh_->Delete("allow-frontend");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  absl::StatusOr<HttpReply> again = pod("batch").HttpGet(WebUrl());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 200) << "deleting the policy lets batch in again";
}

TEST_F(MeshTest, ANetworkPolicyRefusesTcpConnectionsFromPodsItDoesNotSelect) {
  Pod& web = pod("web");
  CommandResult before = pod("batch").TcpExchange(web.ip(), kEchoPort, "batch-before");
  EXPECT_EQ(before.out, "batch-before\n") << before.err;

  absl::StatusOr<std::string> applied = mesh_->Apply("ingress-from-frontend", kIngressFromFrontend);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, HasSubstr("networkpolicy shop/web-ingress-from-frontend created"));
  EXPECT_THAT(*applied, HasSubstr("active on 1/1 affected proxy"));

  const int connections = Count(web.echo_log(), "connection from");
  CommandResult refused = pod("batch").TcpExchange(web.ip(), kEchoPort, "batch-after");
  // Closed before a byte came back (EOF or reset), and promptly: not a timeout (124).
  EXPECT_EQ(refused.out, "");
  EXPECT_NE(refused.exit_code, 124) << "the connection hung instead of being refused";
  EXPECT_TRUE(testing::WaitForText(
      web.proxy_log_path(), absl::StrCat("refused connection from=", pod("batch").ip(), ":")))
      << web.proxy_log();

  CommandResult allowed = pod("frontend").TcpExchange(web.ip(), kEchoPort, "frontend-after");
  EXPECT_EQ(allowed.out, "frontend-after\n") << allowed.err;
  // The echo app saw frontend's connection and never batch's.
  EXPECT_EQ(Count(web.echo_log(), "connection from"), connections + 1) << web.echo_log();

  absl::StatusOr<std::string> deleted = mesh_->Delete("ingress-from-frontend");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  CommandResult after = pod("batch").TcpExchange(web.ip(), kEchoPort, "batch-again");
  EXPECT_EQ(after.out, "batch-again\n") << after.err;
}

constexpr uint16_t kDebugPort = 9100;

// A Service for pod `name` on the echo port and the debug port.
std::string ServiceFor(const std::string& name) {
  return absl::StrCat("apiVersion: remora.io/v1\nkind: Service\nmetadata: {name: ", name,
                      ", namespace: shop}\nspec:\n  selector: {app: ", name,
                      "}\n  ports:\n  - {name: echo, port: ", kEchoPort,
                      ", targetPort: ", kEchoPort,
                      ", protocol: tcp}\n  - {name: debug, port: ", kDebugPort,
                      ", targetPort: ", kDebugPort, ", protocol: tcp}\n");
}

// Issue 16, item 3. The proxy used to forward every inbound connection to 127.0.0.1:<port>, which
// exposed whatever the app bound to localhost only (pprof, actuator, a local Redis) to any caller
// the policy admitted, and made every caller look like 127.0.0.1. It now connects to the original
// destination, the pod's own address, from Istio's inbound passthrough source 127.0.0.6.
TEST_F(MeshTest, AnAppListenerBoundToLoopbackIsNotReachableFromAnotherPod) {
  PodSpec spec = Spec("debug");
  spec.tcp_echo = true;
  spec.loopback_only_port = kDebugPort;
  absl::StatusOr<Pod*> added = mesh_->AddPod(spec);
  ASSERT_TRUE(added.ok()) << added.status();
  Pod& debug = **added;
  absl::StatusOr<std::string> applied = mesh_->Apply("debug-service", ServiceFor("debug"));
  ASSERT_TRUE(applied.ok()) << applied.status();
  Pod& frontend = pod("frontend");

  // The app reaches its own debug endpoint.
  CommandResult local = debug.Exec({"bash", "-c",
                                    absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", kDebugPort,
                                                 " && echo local >&3 && timeout 5 head -c 6 <&3")});
  EXPECT_EQ(local.out, "local\n") << local.err;

  // Another pod reaches the ordinary port, and the app sees the proxy's passthrough address.
  CommandResult echoed = frontend.TcpExchange(debug.ip(), kEchoPort, "frontend-echo");
  EXPECT_EQ(echoed.out, "frontend-echo\n") << echoed.err;
  EXPECT_THAT(debug.echo_log(), HasSubstr("connection from 127.0.0.6:"));
  EXPECT_THAT(debug.echo_log(), Not(HasSubstr("connection from 127.0.0.1:")));

  // But not the listener bound to loopback: nothing listens on the pod's address there.
  const int connections = Count(debug.loopback_echo_log(), "connection from");
  CommandResult remote = frontend.TcpExchange(debug.ip(), kDebugPort, "frontend-debug");
  EXPECT_EQ(remote.out, "") << "a loopback-only listener answered another pod";
  EXPECT_TRUE(testing::WaitForText(debug.proxy_log_path(),
                                   absl::StrCat("app=", debug.ip(), ":", kDebugPort)))
      << debug.proxy_log();
  EXPECT_EQ(Count(debug.loopback_echo_log(), "connection from"), connections)
      << debug.loopback_echo_log();
}

// The old behaviour stays available to a pod that asks for it (inbound.forward_to: localhost,
// which the injector writes for sidecar.remora.io/forwardInboundToLocalhost: "true").
TEST_F(MeshTest, ForwardingToLocalhostIsAnExplicitOptIn) {
  PodSpec spec = Spec("legacy");
  spec.loopback_only_port = kDebugPort;
  spec.proxy_config_extra = "inbound: {forward_to: localhost}\n";
  absl::StatusOr<Pod*> added = mesh_->AddPod(spec);
  ASSERT_TRUE(added.ok()) << added.status();
  Pod& legacy = **added;
  absl::StatusOr<std::string> applied = mesh_->Apply("legacy-service", ServiceFor("legacy"));
  ASSERT_TRUE(applied.ok()) << applied.status();
  CommandResult reply = pod("frontend").TcpExchange(legacy.ip(), kDebugPort, "frontend-legacy");
  EXPECT_EQ(reply.out, "frontend-legacy\n") << reply.err << legacy.proxy_log();
  EXPECT_THAT(legacy.loopback_echo_log(), HasSubstr("connection from 127.0.0.1:"));
}

// Issue 16, item 8. The capture port is excluded from capture, so a peer can connect to it
// directly. On the dual-stack [::]:15006 listener the local address reads ::ffff:a.b.c.d while
// SO_ORIGINAL_DST reads a.b.c.d: the old self-connection check never matched, and under
// PERMISSIVE the proxy forwarded the connection to itself, again and again, until max_connections.
TEST_F(MeshTest, ADirectConnectionToTheInboundCapturePortIsRefusedNotLooped) {
  PodSpec spec = Spec("direct");
  spec.tcp_echo = true;
  // Bounds the damage of the loop this test guards against (it ended at max_connections).
  spec.proxy_config_extra = "limits: {max_connections: 20}\n";
  absl::StatusOr<Pod*> added = mesh_->AddPod(spec);
  ASSERT_TRUE(added.ok()) << added.status();
  Pod& direct = **added;
  absl::StatusOr<std::string> applied =
      mesh_->Apply("direct-permissive", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: direct-permissive, namespace: shop}
spec:
  selector: {matchLabels: {app: direct}}
  mtls: {mode: PERMISSIVE}
)");
  ASSERT_TRUE(applied.ok()) << applied.status();
  const int64_t accepted = direct.ListenerStat("downstream_cx", "inbound");
  ASSERT_GE(accepted, 0);

  absl::StatusOr<testing::Conn> conn =
      testing::Conn::Dial(absl::StrCat(direct.ip(), ":15006"), absl::Seconds(10));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(conn->SendAll("hello\n").ok());
  absl::StatusOr<std::string> reply = conn->ReadToEof();
  EXPECT_TRUE(!reply.ok() || reply->empty()) << *reply;
  EXPECT_TRUE(testing::WaitForText(
      direct.proxy_log_path(),
      absl::StrCat("refused connection from=", mesh_->network().node_ip(), ":")))
      << direct.proxy_log();
  // One connection accepted, the one from the node: the proxy never dialled itself.
  EXPECT_EQ(direct.ListenerStat("downstream_cx", "inbound"), accepted + 1) << direct.proxy_log();
  EXPECT_THAT(direct.proxy_log(), Not(HasSubstr("max_connections")));
}

TEST_F(MeshTest, RemoraInitCleanupGivesThePodBackTheRulesItHad) {
  PodSpec spec = Spec("ops");
  spec.preexisting_nft = kOpsOwnRules;
  absl::StatusOr<Pod*> added = mesh_->AddPod(spec);
  ASSERT_TRUE(added.ok()) << added.status();
  Pod& ops = **added;
  Pod& web = pod("web");
  ASSERT_THAT(ops.rules_before_init(), HasSubstr("table inet ops"));
  const std::string installed = ops.RulesSnapshot();
  EXPECT_THAT(installed, HasSubstr("table inet remora"));
  EXPECT_THAT(installed, HasSubstr("table inet ops"));
  absl::StatusOr<HttpReply> captured = ops.HttpGet(WebUrl());
  ASSERT_TRUE(captured.ok()) << captured.status();
  EXPECT_EQ(captured->status, 200);
  const int64_t outbound = ops.ListenerStat("downstream_cx", "outbound");
  EXPECT_GE(outbound, 1) << "the call did not go through the ops pod's sidecar";

  CommandResult cleanup = ops.RemoraInit({"--cleanup"});
  ASSERT_TRUE(cleanup.ok()) << cleanup.err;
  EXPECT_EQ(ops.RulesSnapshot(), ops.rules_before_init());

  // Nothing is captured any more: the app's call leaves the pod as it is, in plaintext, and the
  // capture sees it (which also shows the capture would have seen plaintext in the first test).
  const std::string marker = Marker("uncaptured");
  absl::StatusOr<PacketCapture> capture = mesh_->StartCapture("uncaptured");
  ASSERT_TRUE(capture.ok()) << capture.status();
  (void)ops.HttpGet(WebUrl("?q=" + marker));  // web may refuse plaintext; the bytes left anyway
  absl::StatusOr<std::string> pcap = capture->Stop(web.ip());
  ASSERT_TRUE(pcap.ok()) << pcap.status();
  EXPECT_NE(Plaintext(*pcap, marker), "") << "the uncaptured call's marker is not in plaintext";
  EXPECT_EQ(ops.ListenerStat("downstream_cx", "outbound"), outbound);

  // Installing again gives exactly the rules of the first install.
  CommandResult again = ops.RemoraInit({});
  ASSERT_TRUE(again.ok()) << again.err;
  EXPECT_EQ(ops.RulesSnapshot(), installed);
}

}  // namespace
}  // namespace remora::e2e
