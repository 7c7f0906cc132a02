// `remoractl authz check` must give the answer the proxy gives: the same policy file, the same
// caller, one path shape at a time through a real proxy pair and through the real CLI.
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/proxy_pair_fixture.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

constexpr char kWebId[] = "spiffe://cluster.local/ns/b/sa/web";

constexpr char kAllowPublic[] = R"(
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

// The proxy's answer as a decision: ALLOW (200 from the app), DENY (403) or BAD_REQUEST (400).
std::string ProxyDecision(const std::string& response) {
  if (absl::StartsWith(response, "HTTP/1.1 200")) return "ALLOW";
  if (absl::StartsWith(response, "HTTP/1.1 403")) return "DENY";
  if (absl::StartsWith(response, "HTTP/1.1 400")) return "BAD_REQUEST";
  return absl::StrCat("unexpected response: ", response.substr(0, response.find("\r\n")));
}

class AuthzCheckAgreementTest : public ProxyPairTest {};

TEST_F(AuthzCheckAgreementTest, RemoractlAuthzCheckAgreesWithTheProxyOnEveryPathShape) {
  TestApp app(TestApp::Mode::kHttp);
  const std::string policy = dir_ + "/policy.yaml";
  WriteFileOrDie(policy, kAllowPublic);
  const std::string port = app.endpoint().substr(app.endpoint().rfind(':') + 1);
  std::string server_yaml = InboundConfig(server_files_, app.endpoint(), "STRICT");
  server_yaml = absl::StrCat(server_yaml.substr(0, server_yaml.find("inbound:")),
                             "inbound:\n  mode: STRICT\n  ports:\n    - {port: ", port,
                             ", protocol: http}\npolicy_files: [\"", policy,
                             "\"]\nworkload: {labels: {app: web}}\n");
  std::unique_ptr<ProxyProcess> server = StartProxy("server", server_yaml);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ProxyProcess> client =
      StartProxy("client", OutboundConfig(client_files_, server->Address("inbound"), {kWebId}));
  ASSERT_NE(client, nullptr);

  int run = 0;
  for (const char* target : {
           "/public/page",
           "/private",
           "/public/../private",
           "/public/%2E%2E/private",
           "/public/%2e%2e/private",
           "/public/a/../../private",
           "/public/./page",
           "//public/page",
           "/./public/page",
           "/%70ublic/page",
           "/public//page",
           "/public/page?next=/../private",
           "/public/..;/private",
           "/public/page%zz",
           "/public/a%2Fb",
       }) {
    // Through the proxies, as a client sends it.
    absl::StatusOr<Conn> conn = Conn::Dial(client->Address("outbound"));
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE(conn->SendAll(absl::StrCat("GET ", target,
                                           " HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"))
                    .ok());
    absl::StatusOr<std::string> response = conn->ReadToEof();
    ASSERT_TRUE(response.ok()) << response.status();
    const std::string proxy = ProxyDecision(*response);

    // Offline, as an operator asks about the same request.
    nlohmann::json request = {{"source", {{"principal", "spiffe://cluster.local/ns/a/sa/client"}}},
                              {"destination",
                               {{"namespace", "b"},
                                {"labels", {{"app", "web"}}},
                                {"port", std::stoi(port)},
                                {"protocol", "http"}}},
                              {"request", {{"method", "GET"}, {"path", target}, {"host", "web"}}}};
    const std::string request_file = absl::StrCat(dir_, "/request", ++run, ".json");
    WriteFileOrDie(request_file, request.dump());
    const std::string log = absl::StrCat(dir_, "/remoractl", run, ".log");
    absl::StatusOr<Subprocess> ctl = Subprocess::Start(
        {Runfile("ctl/remoractl"), "authz", "check", "-f", policy, "--request", request_file}, log);
    ASSERT_TRUE(ctl.ok()) << ctl.status();
    absl::StatusOr<int> status = ctl->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.ok()) << status.status();
    const std::string output = ReadFileOrEmpty(log);
    std::string offline = *status == 0   ? "ALLOW"
                          : *status == 3 ? "DENY"
                                         : absl::StrCat("exit ", *status, ": ", output);
    // A path the proxy refuses never meets a policy; the CLI says it is refused with 400.
    if (offline == "DENY" && absl::StrContains(output, "400 Bad Request")) offline = "BAD_REQUEST";

    EXPECT_EQ(offline, proxy) << "target " << target << "\nremoractl said: " << output;
  }
}

TEST(AuthzTestCasesTest, CasesAreEvaluatedOnThePathTheProxyWouldMatch) {
  const std::string dir = TestDir("authz-test-cases");
  WriteFileOrDie(dir + "/policy.yaml", kAllowPublic);
  auto request = [](const std::string& path) {
    return absl::StrCat(
        "{source: {principal: \"spiffe://cluster.local/ns/a/sa/client\"}, destination: "
        "{namespace: b, labels: {app: web}, protocol: http}, request: {method: GET, path: \"",
        path, "\"}}");
  };
  WriteFileOrDie(
      dir + "/cases.yaml",
      absl::StrCat(
          "cases:\n",
          "- {name: climbs-out, decision: DENY, request: ", request("/public/../private"), "}\n",
          "- {name: escaped-dots, decision: DENY, request: ", request("/public/%2E%2E/private"),
          "}\n", "- {name: double-slash, decision: ALLOW, request: ", request("//public/page"),
          "}\n", "- {name: tomcat-dots, decision: DENY, request: ", request("/public/..;/private"),
          "}\n"));
  const std::string log = dir + "/remoractl.log";
  absl::StatusOr<Subprocess> ctl =
      Subprocess::Start({Runfile("ctl/remoractl"), "authz", "test", "-f", dir + "/policy.yaml",
                         "--cases", dir + "/cases.yaml"},
                        log);
  ASSERT_TRUE(ctl.ok()) << ctl.status();
  absl::StatusOr<int> status = ctl->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0) << ReadFileOrEmpty(log);
  EXPECT_THAT(ReadFileOrEmpty(log), ::testing::HasSubstr("4 cases: 4 passed, 0 failed"));
}

}  // namespace
}  // namespace remora::testing
