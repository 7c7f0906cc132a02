// Authorization in real proxies (static policy files, no control plane): per-request HTTP
// decisions with 403 and a reusable connection, L4 denials before any byte reaches the app,
// NetworkPolicy egress at the client's own sidecar, and the strict HTTP parser's 400s.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/proxy_pair_fixture.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kWebId[] = "spiffe://cluster.local/ns/b/sa/web";

constexpr char kAllowPublicGet[] = R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-public, namespace: b}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/a/sa/client"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/public/*"]}}]
)";

class ProxyAuthzTest : public ProxyPairTest {
 protected:
  // A server sidecar for `app` enforcing `policy`, port protocol `protocol`, and a client sidecar
  // in front of it (with `client_extra` appended to its configuration).
  void Start(TestApp& app, const std::string& policy, const std::string& protocol,
             const std::string& client_extra = "") {
    WriteFileOrDie(dir_ + "/server-policy.yaml", policy);
    const std::string port = app.endpoint().substr(app.endpoint().rfind(':') + 1);
    std::string server_yaml = InboundConfig(server_files_, app.endpoint(), "STRICT");
    // Replace the generated port list to declare the protocol.
    server_yaml = server_yaml.substr(0, server_yaml.find("inbound:")) +
                  absl::StrCat("inbound:\n  mode: STRICT\n  ports:\n    - {port: ", port,
                               ", protocol: ", protocol, "}\n", "policy_files: [\"", dir_,
                               "/server-policy.yaml\"]\n", "workload: {labels: {app: web}}\n");
    absl::StatusOr<std::unique_ptr<ProxyProcess>> server =
        ProxyProcess::Start(dir_, "server", server_yaml);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    absl::StatusOr<std::unique_ptr<ProxyProcess>> client = ProxyProcess::Start(
        dir_, "client",
        OutboundConfig(client_files_, server_->Address("inbound"), {kWebId}, client_extra));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  std::unique_ptr<ProxyProcess> server_;
  std::unique_ptr<ProxyProcess> client_;
};

// Sends one request on `conn` and reads one response (Content-Length framed).
std::string RoundTrip(Conn& conn, const std::string& request) {
  if (!conn.SendAll(request).ok()) return "send failed";
  std::string response;
  while (true) {
    size_t head_end = response.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t cl = response.find("ontent-Length: ");
      if (cl == std::string::npos) cl = response.find("ontent-length: ");
      size_t length =
          cl == std::string::npos || cl > head_end ? 0 : std::stoul(response.substr(cl + 15));
      if (response.size() >= head_end + 4 + length) return response;
    }
    absl::StatusOr<std::string> more = conn.ReadExactly(1);
    if (!more.ok()) return response;
    response += *more;
  }
}

TEST_F(ProxyAuthzTest, HttpRequestsAreAuthorizedOneByOneOnAReusableConnection) {
  TestApp app(TestApp::Mode::kHttp);
  Start(app, kAllowPublicGet, "http");
  absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  std::string ok = RoundTrip(
      *conn,
      "GET /public/page HTTP/1.1\r\nHost: web\r\nX-Forwarded-Client-Cert: By=forged\r\n\r\n");
  EXPECT_THAT(ok, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(ok, HasSubstr("hello from app GET /public/page"));

  std::string denied = RoundTrip(*conn, "GET /admin HTTP/1.1\r\nHost: web\r\n\r\n");
  EXPECT_THAT(denied, HasSubstr("HTTP/1.1 403 Forbidden"));
  EXPECT_THAT(denied, HasSubstr("RBAC: access denied"));
  std::string post =
      RoundTrip(*conn, "POST /public/page HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\n\r\nbody");
  EXPECT_THAT(post, HasSubstr("HTTP/1.1 403"));

  // The same connection still works after the denials.
  std::string again = RoundTrip(*conn, "GET /public/other HTTP/1.1\r\nHost: web\r\n\r\n");
  EXPECT_THAT(again, HasSubstr("hello from app GET /public/other"));

  const std::string seen = app.received();
  EXPECT_THAT(seen, Not(HasSubstr("/admin")));
  EXPECT_THAT(seen, Not(HasSubstr("POST")));
  EXPECT_THAT(seen, Not(HasSubstr("By=forged")));
  EXPECT_THAT(seen, HasSubstr("x-forwarded-client-cert: By=spiffe://cluster.local/ns/b/sa/web;"
                              "URI=spiffe://cluster.local/ns/a/sa/client"));
  EXPECT_TRUE(WaitForText(server_->log_path(), "denied request from=127.0.0.1"));
  EXPECT_THAT(server_->Log(), HasSubstr("path=\"/admin\""));
}

TEST_F(ProxyAuthzTest, PathTricksDoNotBypassADenyRule) {
  TestApp app(TestApp::Mode::kHttp);
  Start(app, R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: b}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
)",
        "http");
  for (const char* target : {"/admin", "//admin", "/./admin", "/public/../admin", "/%61dmin"}) {
    absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
    ASSERT_TRUE(conn.ok());
    EXPECT_THAT(RoundTrip(*conn, absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: web\r\n\r\n")),
                HasSubstr("HTTP/1.1 403"))
        << target;
  }
  EXPECT_EQ(app.connections(), 0);
}

TEST_F(ProxyAuthzTest, SmugglingShapesAreAnswered400AndNeverReachTheApp) {
  TestApp app(TestApp::Mode::kHttp);
  Start(app, "", "http");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"conflicting Content-Length",
       "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
      {"Transfer-Encoding with Content-Length",
       "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"bad chunk size",
       "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"},
      {"header injection (bare CR)", "GET / HTTP/1.1\r\nHost: web\r\nX: a\rInjected: 1\r\n\r\n"},
      {"oversize headers",
       absl::StrCat("GET / HTTP/1.1\r\nHost: web\r\nX: ", std::string(40000, 'a'), "\r\n\r\n")},
      {"unsupported Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: gzip\r\n\r\n"},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n"},
  };
  for (const auto& [name, raw] : cases) {
    absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(conn->SendAll(raw).ok()) << name;
    absl::StatusOr<std::string> reply = conn->ReadToEof();
    ASSERT_TRUE(reply.ok()) << name;
    EXPECT_THAT(*reply, HasSubstr("HTTP/1.1 400 Bad Request")) << name;
  }
  EXPECT_EQ(app.connections(), 0) << "no smuggling attempt may reach the app";
  EXPECT_EQ(app.bytes_received(), 0);
}

TEST_F(ProxyAuthzTest, DeniedTcpConnectionClosesBeforeAnyByteReachesTheApp) {
  TestApp app(TestApp::Mode::kEcho);
  Start(app, R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-payments, namespace: b}
spec:
  action: ALLOW
  rules: [{from: [{source: {principals: ["cluster.local/ns/a/sa/payments"]}}]}]
)",
        "tcp");
  absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  (void)conn->SendAll("secret bytes");
  absl::StatusOr<std::string> reply = conn->ReadToEof();
  EXPECT_TRUE(!reply.ok() || reply->empty());
  EXPECT_TRUE(WaitForText(server_->log_path(), "default deny")) << server_->Log();
  EXPECT_THAT(server_->Log(), HasSubstr("peer_identity=\"spiffe://cluster.local/ns/a/sa/client\""));
  EXPECT_EQ(app.connections(), 0);
  EXPECT_EQ(app.bytes_received(), 0);
}

TEST_F(ProxyAuthzTest, NetworkPolicyEgressStopsTheConnectionAtTheClientSidecar) {
  TestApp app(TestApp::Mode::kEcho);
  WriteFileOrDie(dir_ + "/egress.yaml", R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
)");
  Start(app, "", "tcp",
        absl::StrCat("policy_files: [\"", dir_,
                     "/egress.yaml\"]\nworkload: {labels: {app: client}}\n"));
  absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  (void)conn->SendAll("hello");
  absl::StatusOr<std::string> reply = conn->ReadToEof();
  EXPECT_TRUE(!reply.ok() || reply->empty());
  EXPECT_TRUE(WaitForText(client_->log_path(), "refused connection")) << client_->Log();
  EXPECT_THAT(client_->Log(), HasSubstr("NetworkPolicy"));
  // Stopped at the client: the server sidecar never saw a connection.
  EXPECT_THAT(*server_->AdminGet("/stats"),
              HasSubstr("listener_downstream_cx{listener=\"inbound\"}: 0"));
  EXPECT_EQ(app.connections(), 0);
}

}  // namespace
}  // namespace remora::testing
