// AuthorizationPolicy source.serviceAccounts and source.trustDomains in real proxies (static
// policy files, no control plane): the server sidecar reads the peer's service account and trust
// domain from its mTLS certificate (SPIFFE ID spiffe://cluster.local/ns/a/sa/client) and decides
// at L4, before any byte reaches the app.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/proxy_pair_fixture.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kWebId[] = "spiffe://cluster.local/ns/b/sa/web";

class ProxyServiceAccountAuthzTest : public ProxyPairTest {
 protected:
  // A server sidecar for `app` (a TCP port) enforcing `policy`, and a client sidecar in front.
  void Start(TestApp& app, const std::string& policy) {
    WriteFileOrDie(dir_ + "/server-policy.yaml", policy);
    const std::string port = app.endpoint().substr(app.endpoint().rfind(':') + 1);
    std::string server_yaml = InboundConfig(server_files_, app.endpoint(), "STRICT");
    server_yaml = server_yaml.substr(0, server_yaml.find("inbound:")) +
                  absl::StrCat("inbound:\n  mode: STRICT\n  ports:\n    - {port: ", port,
                               ", protocol: tcp}\n", "policy_files: [\"", dir_,
                               "/server-policy.yaml\"]\n", "workload: {labels: {app: web}}\n");
    absl::StatusOr<std::unique_ptr<ProxyProcess>> server =
        ProxyProcess::Start(dir_, "server", server_yaml);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    absl::StatusOr<std::unique_ptr<ProxyProcess>> client = ProxyProcess::Start(
        dir_, "client", OutboundConfig(client_files_, server_->Address("inbound"), {kWebId}));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  std::unique_ptr<ProxyProcess> server_;
  std::unique_ptr<ProxyProcess> client_;
};

TEST_F(ProxyServiceAccountAuthzTest, ThePeersServiceAccountAndTrustDomainAreAllowed) {
  TestApp app(TestApp::Mode::kEcho);
  Start(app, R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: b}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {serviceAccounts: ["a/client"], trustDomains: ["cluster.local"]}}]
)");
  absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->SendAll("hello").ok());
  absl::StatusOr<std::string> echoed = conn->ReadExactly(5);
  ASSERT_TRUE(echoed.ok()) << echoed.status() << "\n" << server_->Log();
  EXPECT_EQ(*echoed, "hello");
  EXPECT_EQ(app.connections(), 1);
}

TEST_F(ProxyServiceAccountAuthzTest, AServiceAccountOutsideTheListIsDeniedBeforeTheApp) {
  TestApp app(TestApp::Mode::kEcho);
  // "client" without a namespace means b/client (the policy's namespace); the peer is a/client.
  Start(app, R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-others, namespace: b}
spec:
  action: DENY
  rules:
  - from: [{source: {notServiceAccounts: ["client", "a/payments"]}}]
)");
  absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  (void)conn->SendAll("secret bytes");
  absl::StatusOr<std::string> reply = conn->ReadToEof();
  EXPECT_TRUE(!reply.ok() || reply->empty());
  EXPECT_TRUE(WaitForText(server_->log_path(), "b/deny-others")) << server_->Log();
  EXPECT_THAT(server_->Log(), HasSubstr("peer_identity=\"spiffe://cluster.local/ns/a/sa/client\""));
  EXPECT_EQ(app.connections(), 0);
  EXPECT_EQ(app.bytes_received(), 0);
}

}  // namespace
}  // namespace remora::testing
