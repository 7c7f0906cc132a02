// Every peer the inbound sidecar must refuse, each with one clear log line and no byte reaching
// the app. The misbehaving client is an in-test TLS client presenting the certificate under test.
#include "absl/strings/str_cat.h"
#include "certs/cert_builder.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using certs::CertBuilder;
using certs::testing::MakeCustom;
using certs::testing::MakeRoot;
using certs::testing::MakeWorkload;
using certs::testing::Workload;

class ProxyRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    bundle_ = certs::ToPem(root_.anchor());
    auto files = certs::testing::WriteFiles(dir_, "web", MakeWorkload(root_, "b", "web"), bundle_);
    absl::StatusOr<std::unique_ptr<ProxyProcess>> server =
        ProxyProcess::Start(dir_, "server", InboundConfig(files, app_.endpoint(), "STRICT"));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // Connects with `client` (or no certificate), sends a request, and expects the sidecar to refuse
  // with a log line holding `reason`, the app seeing nothing.
  void ExpectRefused(const Workload* client, const std::string& reason) {
    std::string chain = client ? certs::ToPem(client->chain) : "";
    std::string key = client ? certs::PrivateKeyToPem(client->key.get()) : "";
    absl::StatusOr<TlsTestClient> tls =
        TlsTestClient::Connect(server_->Address("inbound"), chain, key, bundle_);
    if (tls.ok()) {
      // TLS 1.3: the client finishes first; the server's verdict arrives as an alert.
      (void)tls->Write("GET /secret HTTP/1.1\r\n\r\n");
      std::string error;
      EXPECT_EQ(tls->ReadAll(&error), "");
    }
    EXPECT_TRUE(WaitForText(server_->log_path(), absl::StrCat("reason=\"", reason)))
        << "want reason " << reason << "\nlog:\n"
        << server_->Log();
    EXPECT_THAT(server_->Log(), ::testing::HasSubstr("refused connection from=127.0.0.1:"));
    EXPECT_EQ(app_.connections(), 0);
    EXPECT_EQ(app_.bytes_received(), 0);
  }

  std::string dir_;
  TestApp app_{TestApp::Mode::kEcho};
  certs::Authority root_ = MakeRoot();
  std::string bundle_;
  std::unique_ptr<ProxyProcess> server_;
};

TEST_F(ProxyRefusalTest, ExpiredClientCertificate) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/old")
      .Validity(absl::Now() - absl::Hours(48), absl::Now() - absl::Hours(24));
  Workload w = MakeCustom(root_, b);
  ExpectRefused(&w, "certificate has expired");
}

TEST_F(ProxyRefusalTest, ClientFromUnknownCa) {
  certs::Authority stranger = MakeRoot();
  Workload w = MakeWorkload(stranger, "a", "client");
  ExpectRefused(&w, "unknown CA");
}

TEST_F(ProxyRefusalTest, ClientFromAnotherTrustDomain) {
  // Same CA key material trusted, but the identity names another trust domain.
  CertBuilder b;
  b.AddUriSan("spiffe://evil.example/ns/a/sa/client");
  Workload w = MakeCustom(root_, b);
  // The log quotes reasons logfmt-style, so the inner quotes appear escaped.
  ExpectRefused(&w,
                "identity spiffe://evil.example/ns/a/sa/client is in trust domain "
                "\\\"evil.example\\\", not the mesh's \\\"cluster.local\\\"");
}

TEST_F(ProxyRefusalTest, ClientWithTwoUriSans) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/one").AddUriSan("spiffe://cluster.local/ns/a/sa/two");
  Workload w = MakeCustom(root_, b);
  ExpectRefused(&w, "certificate has 2 URI SANs; an X.509-SVID has exactly one");
}

TEST_F(ProxyRefusalTest, ClientWithoutCertificateUnderStrict) {
  ExpectRefused(nullptr, "client presented no certificate");
}

TEST_F(ProxyRefusalTest, ClientWithCaCertificateAsLeaf) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/ca").Ca(true).KeyUsage("critical,digitalSignature");
  Workload w = MakeCustom(root_, b);
  ExpectRefused(&w, "certificate for spiffe://cluster.local/ns/a/sa/ca is a CA certificate");
}

TEST_F(ProxyRefusalTest, ValidClientIsServed) {
  // The control case: the same client path with a good certificate reaches the app.
  Workload w = MakeWorkload(root_, "a", "client");
  absl::StatusOr<TlsTestClient> tls =
      TlsTestClient::Connect(server_->Address("inbound"), certs::ToPem(w.chain),
                             certs::PrivateKeyToPem(w.key.get()), bundle_);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->PeerUri(), "spiffe://cluster.local/ns/b/sa/web");
  ASSERT_TRUE(tls->Write("ping").ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(10), [&] { return app_.bytes_received() == 4; }));
}

TEST(ProxyFailClosedTest, SidecarRefusesMtlsOnceItsOwnCertificateExpires) {
  const std::string dir = TestDir("expired_server");
  certs::Authority root = MakeRoot();
  const std::string bundle = certs::ToPem(root.anchor());
  TestApp app(TestApp::Mode::kEcho);
  // The server sidecar's certificate runs out three seconds in and nothing replaces it.
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/b/sa/web")
      .Validity(absl::Now() - absl::Minutes(10), absl::Now() + absl::Seconds(3));
  auto server_files = certs::testing::WriteFiles(dir, "web", MakeCustom(root, b), bundle);
  auto client_files =
      certs::testing::WriteFiles(dir, "client", MakeWorkload(root, "a", "client"), bundle);
  absl::StatusOr<std::unique_ptr<ProxyProcess>> server =
      ProxyProcess::Start(dir, "server", InboundConfig(server_files, app.endpoint(), "STRICT"));
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::unique_ptr<ProxyProcess>> client =
      ProxyProcess::Start(dir, "client",
                          OutboundConfig(client_files, (*server)->Address("inbound"),
                                         {"spiffe://cluster.local/ns/b/sa/web"}));
  ASSERT_TRUE(client.ok()) << client.status();
  // Once the server's certificate has expired, the server sidecar fails closed itself.
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
    return (*server)->AdminGet("/ready").value_or("").rfind("503", 0) == 0;
  }));
  EXPECT_THAT(*(*server)->AdminGet("/ready"), ::testing::HasSubstr("expired"));
  absl::StatusOr<Conn> conn = Conn::Dial((*client)->Address("outbound"));
  ASSERT_TRUE(conn.ok());
  (void)conn->SendAll("hello");
  absl::StatusOr<std::string> reply = conn->ReadToEof();
  EXPECT_TRUE(!reply.ok() || reply->empty());
  EXPECT_TRUE(WaitForText((*server)->log_path(), "own certificate has expired; refusing mTLS"))
      << (*server)->Log();
  EXPECT_EQ(app.connections(), 0);
}

}  // namespace
}  // namespace remora::testing
