// The sidecar's health port: readiness for the kubelet, and the app's own probes (rewritten by
// the injector to /app-health/...) run by the proxy against the app on loopback.
#include "absl/strings/str_cat.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;

std::string Get(const std::string& address, const std::string& path) {
  absl::StatusOr<Conn> conn = Conn::Dial(address);
  if (!conn.ok()) return "connect failed";
  (void)conn->SendAll(
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"));
  return conn->ReadToEof().value_or("read failed");
}

TEST(ProxyHealthTest, RewrittenProbesReachTheAppThroughTheHealthPort) {
  const std::string dir = TestDir("health");
  certs::Authority root = certs::testing::MakeRoot();
  auto files = certs::testing::WriteFiles(
      dir, "web", certs::testing::MakeWorkload(root, "b", "web"), certs::ToPem(root.anchor()));
  TestApp http_app(TestApp::Mode::kHttp);
  TestApp tcp_app(TestApp::Mode::kEcho);
  std::string yaml = InboundConfig(files, http_app.endpoint(), "STRICT");
  yaml.replace(yaml.find("health: \"off\""), 13, "health: \"127.0.0.1:0\"");
  absl::StrAppend(&yaml, "app_probes:\n",
                  "  /app-health/web/readyz: {http_get: {port: ", http_app.port(),
                  ", path: /healthz, headers: [{name: x-probe, value: yes}]}}\n",
                  "  /app-health/web/livez: {tcp_socket: {port: ", tcp_app.port(), "}}\n",
                  "  /app-health/web/startupz: {tcp_socket: {port: 1}}\n");
  absl::StatusOr<std::unique_ptr<ProxyProcess>> proxy = ProxyProcess::Start(dir, "web", yaml);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string health = (*proxy)->Address("health");

  EXPECT_THAT(Get(health, "/healthz/ready"), HasSubstr("HTTP/1.1 200"));
  std::string http_probe = Get(health, "/app-health/web/readyz");
  EXPECT_THAT(http_probe, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(http_probe, HasSubstr("hello from app GET /healthz"));
  EXPECT_THAT(http_app.received(), HasSubstr("x-probe: yes"));
  EXPECT_THAT(Get(health, "/app-health/web/livez"), HasSubstr("HTTP/1.1 200"));
  std::string down = Get(health, "/app-health/web/startupz");
  EXPECT_THAT(down, HasSubstr("HTTP/1.1 503"));
  EXPECT_THAT(down, HasSubstr("app port 1"));
  EXPECT_THAT(Get(health, "/app-health/other/readyz"), HasSubstr("HTTP/1.1 404"));
}

}  // namespace
}  // namespace remora::testing
