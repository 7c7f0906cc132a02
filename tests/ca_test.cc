// The certificate authority in remora-control, as workloads and operators meet it: what an issued
// certificate holds (checked with the openssl tool), every refusal with its gRPC status and nothing
// issued, 10-second certificates rotating under a minute-long transfer, and a full root rotation
// while traffic flows.
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "certs/jwt.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "istio/v1/auth/ca.grpc.pb.h"
#include "proxy/control/channel.h"
#include "tests/support/control_plane_harness.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct CsrResult {
  grpc::Status status;
  std::vector<std::string> chain;
};

CsrResult CreateCertificate(const ControlPlaneProcess& control, const std::string& token,
                            const std::string& csr, int64_t validity = 3600) {
  proxy::ControlPlaneConfig config;
  config.address = control.address();
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(
      proxy::control::ControlPlaneChannel(config, ReadFileOrEmpty(control.ca_bundle()), nullptr));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr(csr);
  request.set_validity_duration(validity);
  istio::v1::auth::IstioCertificateResponse response;
  CsrResult result;
  result.status = stub->CreateCertificate(&context, request, &response);
  result.chain.assign(response.cert_chain().begin(), response.cert_chain().end());
  return result;
}

// Runs a shell command, returning its combined output and exit status.
CommandResult Shell(const std::string& dir, const std::string& command) {
  static int counter = 0;
  const std::string out = absl::StrCat(dir, "/shell-", ++counter, ".out");
  absl::StatusOr<Subprocess> p = Subprocess::Start({"/bin/sh", "-c", command}, out);
  CommandResult r;
  if (!p.ok()) return r;
  absl::StatusOr<int> code = p->Wait(absl::Seconds(30));
  r.exit_code = code.ok() ? *code : -1;
  r.output = ReadFileOrEmpty(out);
  return r;
}

std::string IssuedCount(const ControlPlaneProcess& control) {
  absl::StatusOr<Conn> conn = Conn::Dial(control.admin());
  if (!conn.ok()) return "?";
  (void)conn->SendAll("GET /stats/prometheus HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string body = conn->ReadToEof().value_or("");
  size_t at = body.find("remora_ca_csr_issued_total ");
  return at == std::string::npos ? "?" : body.substr(at + 27, body.find('\n', at) - at - 27);
}

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void StartControl(std::vector<std::string> args = {}) {
    absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> control =
        ControlPlaneProcess::Start(dir_, 0, std::move(args));
    ASSERT_TRUE(control.ok()) << control.status();
    control_ = std::move(*control);
  }
  // A token for workload `workload` (default "<sa>-0"), which its certificate is bound to.
  std::string Token(const std::string& ns, const std::string& sa, const std::string& ttl = "10m",
                    const std::string& workload = "") {
    CommandResult r = Remoractl(
        *control_, {"token", "create", "--namespace=" + ns, "--service-account=" + sa,
                    "--workload=" + (workload.empty() ? sa + "-0" : workload), "--ttl=" + ttl});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return std::string(absl::StripAsciiWhitespace(r.output));
  }

  std::string dir_;
  std::unique_ptr<ControlPlaneProcess> control_;
};

TEST_F(CaTest, IssuedCertificatePassesOpensslVerifyAndHoldsExactlyTheSvidFields) {
  StartControl({"--cert-lifetime=24h"});
  certs::EvpPkeyPtr key = *certs::GenerateEcKey();
  CsrResult r = CreateCertificate(*control_, Token("shop", "web"),
                                  certs::ToPem(certs::CreateCsr(key.get(), "")->get()), 0);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_GE(r.chain.size(), 2u);
  WriteFileOrDie(dir_ + "/leaf.pem", r.chain[0]);
  CommandResult verify = Shell(
      dir_, absl::StrCat("openssl verify -CAfile ", control_->ca_bundle(), " ", dir_, "/leaf.pem"));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr(": OK"));
  CommandResult text =
      Shell(dir_, absl::StrCat("openssl x509 -noout -text -in ", dir_, "/leaf.pem"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("URI:spiffe://cluster.local/ns/shop/sa/web"));
  EXPECT_THAT(text.output, Not(HasSubstr("DNS:")));
  EXPECT_THAT(text.output, HasSubstr("CA:FALSE"));
  EXPECT_THAT(text.output, HasSubstr("Digital Signature, Key Encipherment"));
  EXPECT_THAT(text.output,
              HasSubstr("TLS Web Server Authentication, TLS Web Client Authentication"));
  EXPECT_THAT(text.output, HasSubstr("ASN1 OID: prime256v1"));
  EXPECT_THAT(text.output, Not(HasSubstr("Certificate Sign")));
  // Lifetime: the 24h default, backdated a few minutes for clock skew.
  CommandResult dates =
      Shell(dir_, absl::StrCat("openssl x509 -noout -startdate -enddate -in ", dir_, "/leaf.pem"));
  EXPECT_THAT(dates.output, HasSubstr("notBefore="));
}

TEST_F(CaTest, RefusalsSayWhyAndIssueNothing) {
  StartControl();
  certs::EvpPkeyPtr key = *certs::GenerateEcKey();
  const std::string csr = certs::ToPem(certs::CreateCsr(key.get(), "")->get());
  const std::string before = IssuedCount(*control_);

  // Tokens built by hand: expired, signed by another key, for another audience.
  absl::StatusOr<std::string> signing_pem = ReadFile(control_->state_dir() + "/token/signing.key");
  ASSERT_TRUE(signing_pem.ok());
  certs::EvpPkeyPtr signing = *certs::ParsePrivateKey(*signing_pem, "signing key");
  certs::EvpPkeyPtr stranger = *certs::GenerateEcKey();
  auto token = [&](EVP_PKEY* k, absl::Duration expires_in, const std::string& audience) {
    certs::TokenClaims c;
    c.issuer = "remora-control";
    c.audience = audience;
    c.ns = "shop";
    c.service_account = "web";
    c.issued_at = absl::Now() - absl::Hours(2);
    c.not_before = c.issued_at;
    c.expires = absl::Now() + expires_in;
    return *certs::SignToken(c, k, "k");
  };
  struct Case {
    std::string name;
    std::string token;
    std::string csr;
    grpc::StatusCode code;
    std::string message;
  };
  certs::EvpPkeyPtr weak = *certs::GenerateRsaKey(1024);
  std::vector<Case> cases = {
      {"expired token", token(signing.get(), -absl::Hours(1), "remora-control"), csr,
       grpc::StatusCode::UNAUTHENTICATED, "token expired at"},
      {"token signed by another key", token(stranger.get(), absl::Hours(1), "remora-control"), csr,
       grpc::StatusCode::UNAUTHENTICATED, "signature does not verify"},
      {"wrong audience", token(signing.get(), absl::Hours(1), "kubernetes"), csr,
       grpc::StatusCode::UNAUTHENTICATED, "does not include \"remora-control\""},
      {"no token", "", csr, grpc::StatusCode::UNAUTHENTICATED, "must present a token"},
      {"CSR for another identity", Token("shop", "web"),
       certs::ToPem(
           certs::CreateCsr(key.get(), "spiffe://cluster.local/ns/kube-system/sa/admin")->get()),
       grpc::StatusCode::PERMISSION_DENIED,
       "CSR asks for identity spiffe://cluster.local/ns/kube-system/sa/admin but the bootstrap "
       "token proves spiffe://cluster.local/ns/shop/sa/web"},
      {"not a CSR", Token("shop", "web"), "hello, CA", grpc::StatusCode::INVALID_ARGUMENT,
       "not a PEM \"CERTIFICATE REQUEST\""},
      {"weak key", Token("shop", "web"), certs::ToPem(certs::CreateCsr(weak.get(), "")->get()),
       grpc::StatusCode::INVALID_ARGUMENT, "RSA 1024 is not accepted"},
  };
  for (const Case& c : cases) {
    CsrResult r = CreateCertificate(*control_, c.token, c.csr);
    EXPECT_EQ(r.status.error_code(), c.code) << c.name << ": " << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_TRUE(r.chain.empty()) << c.name;
  }
  EXPECT_EQ(IssuedCount(*control_), before) << "a refused request must not issue anything";
  EXPECT_THAT(control_->Log(), HasSubstr("refused CreateCertificate"));
}

// Two proxies joined through the control plane, the way the mesh tests set them up.
class RotationTest : public CaTest {
 protected:
  void StartMesh(const std::string& lifetime) {
    StartControl({"--cert-lifetime=" + lifetime});
    const std::string port = absl::StrCat(app_.port());
    WriteFileOrDie(
        dir_ + "/mesh.yaml",
        absl::StrCat(
            "apiVersion: remora.io/v1\nkind: Workload\nmetadata: {name: web-0, namespace: shop, "
            "labels: {app: web}}\n"
            "spec: {serviceAccount: web, addresses: [127.0.0.2], ports: [{port: ",
            port,
            "}]}\n---\n"
            "apiVersion: remora.io/v1\nkind: Workload\nmetadata: {name: fe-0, namespace: shop}\n"
            "spec: {serviceAccount: frontend, addresses: [127.0.0.3]}\n---\n"
            "apiVersion: remora.io/v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
            "spec: {selector: {app: web}, ports: [{port: ",
            port, "}]}\n"));
    ASSERT_EQ(Remoractl(*control_, {"apply", "-f", dir_ + "/mesh.yaml"}).exit_code, 0);
    WriteFileOrDie(dir_ + "/web.token", Token("shop", "web", "1h"));
    WriteFileOrDie(dir_ + "/fe.token", Token("shop", "frontend", "1h", "fe-0"));
    auto web = ProxyProcess::Start(
        dir_, "web",
        MeshProxyConfig(
            *control_, dir_ + "/web.token", "shop", "web-0", "web",
            absl::StrCat("  - {name: inbound, direction: inbound, address: \"127.0.0.2:", port,
                         "\", target: \"", app_.endpoint(), "\"}\n")));
    ASSERT_TRUE(web.ok()) << web.status();
    web_ = std::move(*web);
    auto fe = ProxyProcess::Start(
        dir_, "frontend",
        MeshProxyConfig(*control_, dir_ + "/fe.token", "shop", "fe-0", "frontend",
                        absl::StrCat("  - {name: outbound, direction: outbound, address: "
                                     "\"127.0.0.1:0\", target: \"127.0.0.2:",
                                     port, "\"}\n")));
    ASSERT_TRUE(fe.ok()) << fe.status();
    frontend_ = std::move(*fe);
    for (ProxyProcess* p : {web_.get(), frontend_.get()}) {
      ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
        return p->AdminGet("/ready").value_or("") == "200 ready\n";
      })) << p->Log();
    }
  }

  std::string Serial(ProxyProcess& p) {
    std::string certs = p.AdminGet("/certs").value_or("");
    size_t at = certs.find("\"serial\": \"");
    return at == std::string::npos ? "" : certs.substr(at + 11, certs.find('"', at + 11) - at - 11);
  }

  TestApp app_{TestApp::Mode::kEcho};
  std::unique_ptr<ProxyProcess> web_;
  std::unique_ptr<ProxyProcess> frontend_;
};

TEST_F(RotationTest, TenSecondCertificatesRotateUnderAMinuteLongTransfer) {
  StartMesh("10s");
  absl::StatusOr<Conn> conn = Conn::Dial(frontend_->Address("outbound"), absl::Seconds(120));
  ASSERT_TRUE(conn.ok());
  std::set<std::string> web_serials = {Serial(*web_)};
  std::set<std::string> presented;
  std::atomic<bool> sending{true};
  size_t sent = 0;
  absl::Status send_status;
  std::thread sender([&] {
    const std::string chunk(8192, 'm');
    const absl::Time end = absl::Now() + absl::Seconds(60);
    while (absl::Now() < end && send_status.ok()) {
      send_status = conn->SendAll(chunk);
      sent += chunk.size();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    conn->ShutdownWrite();
    sending = false;
  });
  // Meanwhile, each new connection to the web sidecar presents its newest certificate.
  while (sending) {
    const std::string current = Serial(*web_);
    web_serials.insert(current);
    absl::StatusOr<Conn> probe = Conn::Dial(frontend_->Address("outbound"));
    if (probe.ok()) {
      (void)probe->SendAll("probe");
      probe->ShutdownWrite();
      if (probe->ReadToEof().value_or("") == "probe") presented.insert(current);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  absl::StatusOr<std::string> echoed = conn->ReadToEof(sent + 1);
  sender.join();
  ASSERT_TRUE(send_status.ok()) << send_status;
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(echoed->size(), sent) << "the minute-long transfer must survive every rotation";
  EXPECT_GE(web_serials.size(), 5u) << "10-second certificates renew at about half-life";
  // And the web sidecar's handshakes used those certificates: a TLS client sees the newest.
  certs::EvpPkeyPtr key = *certs::GenerateEcKey();
  CsrResult mine = CreateCertificate(*control_, Token("shop", "probe"),
                                     certs::ToPem(certs::CreateCsr(key.get(), "")->get()));
  ASSERT_TRUE(mine.status.ok());
  // A 10-second certificate may renew during the handshake: the one presented is the newest
  // either just before or just after it.
  const std::string before = Serial(*web_);
  absl::StatusOr<TlsTestClient> tls = TlsTestClient::Connect(
      web_->Address("inbound"), mine.chain[0], certs::PrivateKeyToPem(key.get()),
      ReadFileOrEmpty(control_->ca_bundle()));
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_THAT(tls->PeerSerial(), ::testing::AnyOf(before, Serial(*web_)));
}

TEST_F(RotationTest, FullRootRotationWhileTrafficFlowsFailsNoConnection) {
  StartMesh("8s");
  std::atomic<bool> running{true};
  std::atomic<int> ok{0}, failed{0};
  std::string first_failure;
  std::thread traffic([&] {
    while (running) {
      absl::StatusOr<Conn> c = Conn::Dial(frontend_->Address("outbound"));
      bool good = false;
      if (c.ok() && c->SendAll("ping").ok()) {
        c->ShutdownWrite();
        good = c->ReadToEof().value_or("") == "ping";
      }
      if (good) {
        ++ok;
      } else if (failed++ == 0) {
        first_failure = absl::FormatTime(absl::Now());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const std::string old_root = ReadFileOrEmpty(control_->ca_bundle());
  CommandResult add = Remoractl(*control_, {"ca", "rotate", "--step=add", "--wait"});
  ASSERT_EQ(add.exit_code, 0) << add.output;
  EXPECT_THAT(add.output, HasSubstr("phase: added"));
  CommandResult sw = Remoractl(*control_, {"ca", "rotate", "--step=switch", "--wait"});
  ASSERT_EQ(sw.exit_code, 0) << sw.output;
  // Both proxies renew onto the new root (8-second certificates renew within ~5 s).
  const std::string web_before = Serial(*web_), fe_before = Serial(*frontend_);
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return Serial(*web_) != web_before && Serial(*frontend_) != fe_before;
  }));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CommandResult retire = Remoractl(*control_, {"ca", "rotate", "--step=retire", "--wait"});
  ASSERT_EQ(retire.exit_code, 0) << retire.output;
  EXPECT_THAT(retire.output, HasSubstr("phase: steady"));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  running = false;
  traffic.join();
  EXPECT_GT(ok.load(), 50);
  EXPECT_EQ(failed.load(), 0) << "first failure at " << first_failure << "\nweb:\n"
                              << web_->Log() << "\nfrontend:\n"
                              << frontend_->Log();
  EXPECT_NE(ReadFileOrEmpty(control_->ca_bundle()), old_root);
  // Traffic still flows on the new root alone.
  absl::StatusOr<Conn> c = Conn::Dial(frontend_->Address("outbound"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->SendAll("after").ok());
  c->ShutdownWrite();
  EXPECT_EQ(c->ReadToEof().value_or(""), "after");
}

}  // namespace
}  // namespace remora::testing
