// remora-proxy over time: certificate rotation under load, timeouts, limits, graceful drain, the
// outbound policy for non-mesh destinations, and configuration errors.
#include <signal.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "certs/cert_info.h"
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

using certs::testing::MakeWorkload;
using certs::testing::WriteFiles;
using ::testing::HasSubstr;

constexpr char kWebId[] = "spiffe://cluster.local/ns/b/sa/web";

using ProxyLifecycleTest = ProxyPairTest;

std::string ServedSerial(const ProxyProcess& proxy) {
  std::string certs = proxy.AdminGet("/certs").value_or("");
  size_t at = certs.find("\"serial\": \"");
  return at == std::string::npos ? "" : certs.substr(at + 11, certs.find('"', at + 11) - at - 11);
}

TEST_F(ProxyLifecycleTest, CertificateRotationKeepsLiveTransferAndServesNewSerial) {
  TestApp app(TestApp::Mode::kEcho);
  auto server = StartProxy("server", InboundConfig(server_files_, app.endpoint(), "STRICT"));
  auto client =
      StartProxy("client", OutboundConfig(client_files_, server->Address("inbound"), {kWebId}));
  ASSERT_TRUE(server && client);
  const std::string old_serial = ServedSerial(*server);
  ASSERT_FALSE(old_serial.empty());

  absl::StatusOr<Conn> conn = Conn::Dial(client->Address("outbound"), absl::Seconds(30));
  ASSERT_TRUE(conn.ok());
  const std::string chunk(256 * 1024, 'r');
  constexpr int kChunks = 40;
  absl::Status send_status;
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int i = 0; i < kChunks && send_status.ok(); ++i) {
      send_status = conn->SendAll(chunk);
      sent = i + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a long-lived transfer
    }
    conn->ShutdownWrite();
  });
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] { return sent.load() >= 5; }));
  // Rotate both sidecars' certificates mid-transfer.
  WriteFiles(dir_, "web", MakeWorkload(root_, "b", "web"), bundle_);
  WriteFiles(dir_, "client", MakeWorkload(root_, "a", "client"), bundle_);
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
    std::string s = ServedSerial(*server);
    return !s.empty() && s != old_serial;
  })) << server->Log();
  const std::string new_serial = ServedSerial(*server);
  EXPECT_LT(sent.load(), kChunks) << "the rotation should land while bytes still flow";

  absl::StatusOr<std::string> echoed = conn->ReadToEof(kChunks * chunk.size() + 1);
  sender.join();
  ASSERT_TRUE(send_status.ok()) << send_status;
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(echoed->size(), kChunks * chunk.size());

  // The next connection is served with the new certificate.
  certs::testing::Workload probe = MakeWorkload(root_, "a", "probe");
  absl::StatusOr<TlsTestClient> tls =
      TlsTestClient::Connect(server->Address("inbound"), certs::ToPem(probe.chain),
                             certs::PrivateKeyToPem(probe.key.get()), bundle_);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->PeerSerial(), new_serial);
  EXPECT_NE(new_serial, old_serial);
}

TEST_F(ProxyLifecycleTest, BrokenCertificateFileKeepsThePreviousIdentity) {
  TestApp app(TestApp::Mode::kEcho);
  auto server = StartProxy("server", InboundConfig(server_files_, app.endpoint(), "STRICT"));
  ASSERT_TRUE(server);
  const std::string serial = ServedSerial(*server);
  WriteFileOrDie(server_files_.cert, "-----BEGIN CERTIFICATE-----\ngarbage\n");
  EXPECT_TRUE(WaitForText(server->log_path(), "keeping the previous identity")) << server->Log();
  EXPECT_EQ(ServedSerial(*server), serial);
  EXPECT_EQ(*server->AdminGet("/ready"), "200 ready\n");
}

TEST_F(ProxyLifecycleTest, IdleConnectionIsClosedAfterIdleTimeout) {
  TestApp app(TestApp::Mode::kEcho);
  auto server = StartProxy("server", InboundConfig(server_files_, app.endpoint(), "STRICT"));
  auto client = StartProxy("client", OutboundConfig(client_files_, server->Address("inbound"),
                                                    {kWebId}, "limits: {idle_timeout: 300ms}\n"));
  ASSERT_TRUE(server && client);
  absl::StatusOr<Conn> conn = Conn::Dial(client->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->SendAll("ping").ok());
  EXPECT_EQ(*conn->ReadExactly(4), "ping");
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> rest = conn->ReadToEof();  // returns when the proxy closes
  EXPECT_TRUE(rest.ok() && rest->empty());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_THAT(*client->AdminGet("/stats"), HasSubstr("listener_timeout{listener=\"outbound\"}: 1"));
}

TEST_F(ProxyLifecycleTest, SilentClientIsClosedAfterHandshakeTimeout) {
  TestApp app(TestApp::Mode::kEcho);
  auto server = StartProxy("server", InboundConfig(server_files_, app.endpoint(), "STRICT",
                                                   "limits: {handshake_timeout: 300ms}\n"));
  ASSERT_TRUE(server);
  absl::StatusOr<Conn> conn = Conn::Dial(server->Address("inbound"));
  ASSERT_TRUE(conn.ok());
  absl::StatusOr<std::string> rest = conn->ReadToEof();
  EXPECT_TRUE(rest.ok() && rest->empty());
  EXPECT_TRUE(WaitForText(server->log_path(), "client sent nothing within the handshake timeout"));
  EXPECT_EQ(app.connections(), 0);
}

TEST_F(ProxyLifecycleTest, ConnectionsBeyondTheLimitAreRefused) {
  TestApp app(TestApp::Mode::kEcho);
  auto server = StartProxy("server", InboundConfig(server_files_, app.endpoint(), "PERMISSIVE",
                                                   // Inbound may use the whole overall limit
                                                   // here (by default it gets half of it).
                                                   "limits: {max_connections: 2, "
                                                   "max_inbound_connections: 2}\n"));
  ASSERT_TRUE(server);
  std::vector<Conn> open;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Conn> c = Conn::Dial(server->Address("inbound"));
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->SendAll("x").ok());
    ASSERT_EQ(*c->ReadExactly(1), "x");
    open.push_back(std::move(*c));
  }
  absl::StatusOr<Conn> third = Conn::Dial(server->Address("inbound"));
  ASSERT_TRUE(third.ok());
  (void)third->SendAll("y");
  absl::StatusOr<std::string> reply = third->ReadToEof();
  EXPECT_TRUE(!reply.ok() || reply->empty());
  EXPECT_TRUE(WaitForText(server->log_path(), "max_connections=2 reached"));
  EXPECT_EQ(app.connections(), 2);
}

TEST_F(ProxyLifecycleTest, SigtermDrainsLiveConnectionsThenExits) {
  TestApp app(TestApp::Mode::kEcho);
  auto server = StartProxy("server", InboundConfig(server_files_, app.endpoint(), "PERMISSIVE",
                                                   "limits: {drain_timeout: 20s}\n"));
  ASSERT_TRUE(server);
  const std::string inbound = server->Address("inbound");
  absl::StatusOr<Conn> live = Conn::Dial(inbound);
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(live->SendAll("before").ok());
  ASSERT_EQ(*live->ReadExactly(6), "before");

  server->process().Signal(SIGTERM);
  ASSERT_TRUE(WaitForText(server->log_path(), "draining: stopped accepting"));
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    return !Conn::Dial(inbound, absl::Seconds(1)).ok();
  })) << "the listener should be closed while draining";
  EXPECT_THAT(server->AdminGet("/ready").value_or(""), HasSubstr("503 draining"));

  // The live connection still works, and the proxy exits once it is done.
  ASSERT_TRUE(live->SendAll("after").ok());
  EXPECT_EQ(*live->ReadExactly(5), "after");
  live->ShutdownWrite();
  EXPECT_TRUE(live->ReadToEof().ok());
  absl::StatusOr<int> code = server->process().Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << server->Log();
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(server->Log(), HasSubstr("drained: all connections finished"));
}

TEST_F(ProxyLifecycleTest, DrainTimeoutClosesStragglers) {
  TestApp app(TestApp::Mode::kEcho);
  auto server = StartProxy("server", InboundConfig(server_files_, app.endpoint(), "PERMISSIVE",
                                                   "limits: {drain_timeout: 500ms}\n"));
  ASSERT_TRUE(server);
  absl::StatusOr<Conn> live = Conn::Dial(server->Address("inbound"));
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(live->SendAll("x").ok());
  ASSERT_EQ(*live->ReadExactly(1), "x");
  server->process().Signal(SIGTERM);
  absl::StatusOr<int> code = server->process().Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(server->Log(), HasSubstr("drain timeout reached; closing 1 connection(s)"));
  absl::StatusOr<std::string> rest = live->ReadToEof();
  EXPECT_TRUE(!rest.ok() || rest->empty());
}

TEST_F(ProxyLifecycleTest, NonMeshDestinationPassesThroughOrIsRefusedByPolicy) {
  TestApp app(TestApp::Mode::kEcho);
  const std::string files = absl::StrCat(
      "identity: {cert_file: \"", client_files_.cert, "\", key_file: \"", client_files_.key,
      "\", bundle_file: \"", client_files_.bundle, "\"}\n",
      "listeners:\n  - {name: outbound, direction: outbound, address: \"127.0.0.1:0\", target: \"",
      app.endpoint(), "\"}\nadmin: \"127.0.0.1:0\"\nprometheus: \"off\"\nhealth: \"off\"\n");
  {
    auto pass = StartProxy("pass", files + "outbound: {unknown_destinations: passthrough}\n");
    ASSERT_TRUE(pass);
    absl::StatusOr<Conn> conn = Conn::Dial(pass->Address("outbound"));
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(conn->SendAll("plain").ok());
    conn->ShutdownWrite();
    EXPECT_EQ(*conn->ReadToEof(), "plain");
    EXPECT_EQ(app.received(), "plain");
  }
  auto deny = StartProxy("deny", files + "outbound: {unknown_destinations: deny}\n");
  ASSERT_TRUE(deny);
  absl::StatusOr<Conn> conn = Conn::Dial(deny->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  (void)conn->SendAll("secret");
  absl::StatusOr<std::string> reply = conn->ReadToEof();
  EXPECT_TRUE(!reply.ok() || reply->empty());
  EXPECT_TRUE(WaitForText(deny->log_path(),
                          "destination is not a mesh service and outbound policy is deny"));
  EXPECT_EQ(app.connections(), 1);
}

TEST(ProxyCommandLineTest, BadConfigurationIsRefusedWithTheFieldPath) {
  const std::string dir = TestDir("badconfig");
  const std::string config = dir + "/bad.yaml";
  WriteFileOrDie(config,
                 "identity: {cert_file: a, key_file: b, bundle_file: c}\n"
                 "listeners:\n  - {direction: inbound, address: \"127.0.0.1:99999\"}\n");
  absl::StatusOr<Subprocess> p =
      Subprocess::Start({Runfile("proxy/remora-proxy"), "--config=" + config}, dir + "/bad.log");
  ASSERT_TRUE(p.ok());
  absl::StatusOr<int> code = p->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(p->Log(), HasSubstr("listeners[0].address: \"127.0.0.1:99999\" is not an ip:port "
                                  "endpoint: port must be a number from 0 to 65535"));
}

TEST(ProxyCommandLineTest, HelpDescribesTheProxy) {
  const std::string dir = TestDir("help");
  absl::StatusOr<Subprocess> p =
      Subprocess::Start({Runfile("proxy/remora-proxy"), "--help"}, dir + "/help.log");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p->Wait(absl::Seconds(10)), 0);
  EXPECT_THAT(p->Log(), HasSubstr("usage: remora-proxy --config=FILE"));
  EXPECT_THAT(p->Log(), HasSubstr("--bound-ports-file"));
}

}  // namespace
}  // namespace remora::testing
