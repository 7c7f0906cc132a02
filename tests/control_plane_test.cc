// The mesh with its control plane, real processes on loopback: certificates from the CA, xDS
// pushes, `remoractl apply --wait`, per-resource NACKs in proxy-status, a control-plane restart,
// and simulated proxies alongside the real ones.
#include <signal.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/token_authority.h"
#include "common/file.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "istio/v1/auth/ca.grpc.pb.h"
#include "proxy/control/channel.h"
#include "proxy/control/xds_client.h"
#include "proxy/tls/identity.h"
#include "remora/v1/operator.grpc.pb.h"
#include "tests/support/control_plane_harness.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;

std::string Mesh(uint16_t port) {
  return absl::StrCat(R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: remora.io/v1
kind: Workload
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec:
  serviceAccount: web
  addresses: [127.0.0.2]
  ports: [{name: http, port: )",
                      port, R"(, protocol: http}]
---
apiVersion: remora.io/v1
kind: Workload
metadata: {name: frontend-0, namespace: shop, labels: {app: frontend}}
spec: {serviceAccount: frontend, addresses: [127.0.0.3]}
---
apiVersion: remora.io/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: )",
                      port, ", targetPort: ", port, R"(, protocol: http}]
)");
}

std::string DenyPath(const std::string& name, const std::string& path) {
  return absl::StrCat(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: )",
                      name, R"(, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {paths: [")",
                      path, R"("]}}]}]
)");
}

std::string Get(Conn& conn, const std::string& path) {
  if (!conn.SendAll(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: web\r\n\r\n")).ok())
    return "send failed";
  std::string response;
  while (true) {
    size_t end = response.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t cl = absl::AsciiStrToLower(response).find("content-length: ");
      size_t length = cl == std::string::npos ? 0 : std::stoul(response.substr(cl + 16));
      if (response.size() >= end + 4 + length) return response.substr(0, 12);
    }
    absl::StatusOr<std::string> more = conn.ReadExactly(1);
    if (!more.ok()) return response.empty() ? "closed" : response.substr(0, 12);
    response += *more;
  }
}

std::string GetOnce(const std::string& address, const std::string& path) {
  absl::StatusOr<Conn> conn = Conn::Dial(address);
  if (!conn.ok()) return "connect failed";
  return Get(*conn, path);
}

class MeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    port_ = FreePort();
    StartControl();
    WriteFileOrDie(dir_ + "/mesh.yaml", Mesh(app_.port()));
    CommandResult applied = Remoractl(*control_, {"apply", "-f", dir_ + "/mesh.yaml"});
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    for (const char* sa : {"web", "frontend"}) {
      CommandResult token = Remoractl(
          *control_,
          {"token", "create", "--namespace=shop", absl::StrCat("--service-account=", sa),
           absl::StrCat("--workload=", sa, "-0"), absl::StrCat("--out=", dir_, "/", sa, ".token")});
      ASSERT_EQ(token.exit_code, 0) << token.output;
    }
    const std::string app_port = absl::StrCat(app_.port());
    absl::StatusOr<std::unique_ptr<ProxyProcess>> web = ProxyProcess::Start(
        dir_, "web",
        MeshProxyConfig(
            *control_, dir_ + "/web.token", "shop", "web-0", "web",
            absl::StrCat("  - {name: inbound, direction: inbound, address: \"127.0.0.2:", app_port,
                         "\", target: \"", app_.endpoint(), "\"}\n"),
            // One worker, so a test can tell when the new configuration has reached it; silent
            // clients wait long, so a test can change policy while a connection is still sniffed.
            "limits: {max_policies: 1, workers: 1, sniff_timeout: 300s, handshake_timeout: "
            "300s}\n"));
    ASSERT_TRUE(web.ok()) << web.status();
    web_ = std::move(*web);
    absl::StatusOr<std::unique_ptr<ProxyProcess>> frontend = ProxyProcess::Start(
        dir_, "frontend",
        MeshProxyConfig(*control_, dir_ + "/frontend.token", "shop", "frontend-0", "frontend",
                        absl::StrCat("  - {name: outbound, direction: outbound, address: "
                                     "\"127.0.0.1:0\", target: \"127.0.0.2:",
                                     app_port, "\"}\n")));
    ASSERT_TRUE(frontend.ok()) << frontend.status();
    frontend_ = std::move(*frontend);
    for (ProxyProcess* p : {web_.get(), frontend_.get()}) {
      ASSERT_TRUE(WaitFor(absl::Seconds(30),
                          [&] { return p->AdminGet("/ready").value_or("") == "200 ready\n"; }))
          << p->AdminGet("/ready").value_or("") << p->Log();
    }
  }

  // Extra flags for remora-control.
  virtual std::vector<std::string> ControlArgs() const { return {}; }

  void StartControl() {
    absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> control =
        ControlPlaneProcess::Start(dir_, port_, ControlArgs());
    ASSERT_TRUE(control.ok()) << control.status();
    control_ = std::move(*control);
  }

  std::string Outbound() { return frontend_->Address("outbound"); }
  // Web's inbound listener, dialled directly (a plaintext client outside the mesh).
  std::string WebInbound() { return web_->Address("inbound"); }

  void Apply(const std::string& name, const std::string& yaml, int expected_exit = 0) {
    WriteFileOrDie(dir_ + "/" + name, yaml);
    CommandResult applied = Remoractl(*control_, {"apply", "-f", dir_ + "/" + name, "--wait"});
    ASSERT_EQ(applied.exit_code, expected_exit) << applied.output;
  }

  std::string dir_;
  int port_ = 0;
  TestApp app_{TestApp::Mode::kHttp};
  std::unique_ptr<ControlPlaneProcess> control_;
  std::unique_ptr<ProxyProcess> web_;
  std::unique_ptr<ProxyProcess> frontend_;
};

TEST_F(MeshTest, CallsCrossTheMeshWithCertificatesFromTheCa) {
  EXPECT_EQ(GetOnce(Outbound(), "/"), "HTTP/1.1 200");
  EXPECT_THAT(*web_->AdminGet("/certs"),
              HasSubstr("\"identity\": \"spiffe://cluster.local/ns/shop/sa/web\""));
  EXPECT_THAT(*web_->AdminGet("/certs"), HasSubstr("\"source\": \"CA 127.0.0.1:"));
  CommandResult status = Remoractl(*control_, {"proxy-status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.output, HasSubstr("shop/web-0"));
  EXPECT_THAT(status.output, HasSubstr("shop/frontend-0"));
  EXPECT_THAT(status.output, HasSubstr("SYNCED"));
}

TEST_F(MeshTest, ApplyWaitChangesWhatTheProxiesAllowOnLiveConnections) {
  absl::StatusOr<Conn> live = Conn::Dial(Outbound());
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(Get(*live, "/secret"), "HTTP/1.1 200");
  WriteFileOrDie(dir_ + "/deny.yaml", DenyPath("deny-secret", "/secret*"));
  CommandResult applied = Remoractl(*control_, {"apply", "-f", dir_ + "/deny.yaml", "--wait"});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_THAT(applied.output, HasSubstr("authorizationpolicy shop/deny-secret created"));
  EXPECT_THAT(applied.output, HasSubstr("active on 1/1 affected proxy"));
  // The same connection, opened before the change: the next request meets the new policy.
  EXPECT_EQ(Get(*live, "/secret"), "HTTP/1.1 403");
  EXPECT_EQ(Get(*live, "/"), "HTTP/1.1 200");
  CommandResult removed = Remoractl(*control_, {"delete", "-f", dir_ + "/deny.yaml", "--wait"});
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_EQ(Get(*live, "/secret"), "HTTP/1.1 200");
  // No restart happened: both proxies kept their process and their stream.
  EXPECT_TRUE(web_->process().Running());
  EXPECT_TRUE(frontend_->process().Running());
}

TEST_F(MeshTest, InvalidDocumentsAreRefusedOnApplyWithTheFieldPath) {
  WriteFileOrDie(dir_ + "/bad.yaml", DenyPath("fine", "/x") + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: shop}
spec:
  rules: [{from: [{source: {ipBlocks: ["10.0.0.0/33"]}}]}]
)");
  CommandResult applied = Remoractl(*control_, {"apply", "-f", dir_ + "/bad.yaml"});
  EXPECT_EQ(applied.exit_code, 2);
  EXPECT_THAT(applied.output, HasSubstr("document 2 (AuthorizationPolicy shop/broken): "
                                        "spec.rules[0].from[0].source.ipBlocks[0]"));
  // Nothing half-applied: the valid first document is not stored either.
  CommandResult got = Remoractl(*control_, {"get", "authorizationpolicy"});
  EXPECT_THAT(got.output, HasSubstr("(none)"));
}

TEST_F(MeshTest, ARefusedResourceIsNackedAndTheOldVersionStaysInForce) {
  WriteFileOrDie(dir_ + "/a.yaml", DenyPath("deny-a", "/a"));
  ASSERT_EQ(Remoractl(*control_, {"apply", "-f", dir_ + "/a.yaml", "--wait"}).exit_code, 0);
  EXPECT_EQ(GetOnce(Outbound(), "/a"), "HTTP/1.1 403");
  // The web proxy accepts at most one policy (limits.max_policies: 1): the second is refused.
  WriteFileOrDie(dir_ + "/b.yaml", DenyPath("deny-b", "/b"));
  CommandResult applied = Remoractl(*control_, {"apply", "-f", dir_ + "/b.yaml", "--wait"});
  EXPECT_EQ(applied.exit_code, 1) << applied.output;
  EXPECT_THAT(applied.output, HasSubstr("shop/web-0: nacked"));
  EXPECT_THAT(applied.output, HasSubstr("limits.max_policies"));
  CommandResult status = Remoractl(*control_, {"proxy-status", "shop/web-0"});
  EXPECT_THAT(status.output, HasSubstr("refused AuthorizationPolicy/shop/deny-b"));
  EXPECT_THAT(status.output, HasSubstr("limits.max_policies"));
  // The accepted policy still holds. The refused one has no accepted version: rather than leave
  // the workload open to what it may have denied, it is enforced as allowing nothing (issue 16
  // item 5; fail closed).
  EXPECT_THAT(status.output, HasSubstr("fail closed"));
  EXPECT_EQ(GetOnce(Outbound(), "/a"), "HTTP/1.1 403");
  EXPECT_EQ(GetOnce(Outbound(), "/b"), "HTTP/1.1 403");
  EXPECT_EQ(GetOnce(Outbound(), "/"), "HTTP/1.1 403");
  // Withdrawing the refused policy restores what was accepted.
  CommandResult removed = Remoractl(*control_, {"delete", "-f", dir_ + "/b.yaml", "--wait"});
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_EQ(GetOnce(Outbound(), "/b"), "HTTP/1.1 200");
  EXPECT_EQ(GetOnce(Outbound(), "/a"), "HTTP/1.1 403");
}

TEST_F(MeshTest, ProxiesKeepEnforcingWhileTheControlPlaneIsDownAndReconnect) {
  WriteFileOrDie(dir_ + "/a.yaml", DenyPath("deny-a", "/a"));
  ASSERT_EQ(Remoractl(*control_, {"apply", "-f", dir_ + "/a.yaml", "--wait"}).exit_code, 0);
  control_->process().Signal(SIGKILL);
  ASSERT_TRUE(control_->process().Wait(absl::Seconds(10)).ok());
  // Meanwhile: the last accepted configuration is enforced.
  EXPECT_EQ(GetOnce(Outbound(), "/a"), "HTTP/1.1 403");
  EXPECT_EQ(GetOnce(Outbound(), "/"), "HTTP/1.1 200");
  EXPECT_TRUE(WaitForText(web_->log_path(), "keeping the last accepted configuration"));
  StartControl();
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    CommandResult s = Remoractl(*control_, {"proxy-status"});
    return s.output.find("shop/web-0") != std::string::npos &&
           s.output.find("shop/frontend-0") != std::string::npos;
  }));
  CommandResult got = Remoractl(*control_, {"get", "ap", "deny-a", "-n", "shop", "-o", "yaml"});
  EXPECT_EQ(got.exit_code, 0) << got.output;
  EXPECT_THAT(got.output, HasSubstr("name: deny-a"));
  EXPECT_EQ(GetOnce(Outbound(), "/a"), "HTTP/1.1 403");
}

// A simulated proxy: its own certificate from the CA, then an xDS stream that accepts everything.
class SimulatedProxy {
 public:
  SimulatedProxy(const ControlPlaneProcess& control, const std::string& token,
                 const std::string& name, const std::string& ns = "sim")
      : name_(name) {
    proxy::ControlPlaneConfig config;
    config.address = control.address();
    config.retry_initial = absl::Milliseconds(100);
    config.retry_max = absl::Seconds(1);
    const std::string roots = ReadFileOrEmpty(control.ca_bundle());
    certs::EvpPkeyPtr key = *certs::GenerateEcKey();
    auto stub = istio::v1::auth::IstioCertificateService::NewStub(
        proxy::control::ControlPlaneChannel(config, roots, nullptr));
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    istio::v1::auth::IstioCertificateRequest request;
    request.set_csr(certs::ToPem(certs::CreateCsr(key.get(), "")->get()));
    istio::v1::auth::IstioCertificateResponse response;
    grpc::Status status = stub->CreateCertificate(&context, request, &response);
    if (!status.ok()) {
      error_ = status.error_message();
      return;
    }
    absl::StatusOr<std::shared_ptr<const proxy::tls::Identity>> identity = proxy::tls::MakeIdentity(
        *certs::ParseCertificates(response.cert_chain(0), "leaf"), std::move(key),
        *certs::TrustBundle::FromPem(roots, "roots"), "cluster.local", absl::Now(), "CA");
    if (!identity.ok()) {
      error_ = std::string(identity.status().message());
      return;
    }
    identity_ = *identity;
    envoy::config::core::v3::Node node;
    node.set_id(ns + "/" + name);
    client_ = std::make_unique<proxy::control::XdsClient>(
        config, node,
        std::vector<std::string>{"type.googleapis.com/remora.v1.WorkloadSettings",
                                 "type.googleapis.com/remora.v1.AuthorizationPolicy"},
        [config, roots, this] {
          return proxy::control::ControlPlaneChannel(config, roots, identity_.get());
        },
        [this](const proxy::control::ReceivedUpdate&) {
          updates_.fetch_add(1);
          return std::vector<remora::v1::ResourceError>{};
        });
    client_->Start();
  }
  const std::string& error() const { return error_; }
  int updates() const { return updates_.load(); }

 private:
  std::string name_;
  std::string error_;
  std::shared_ptr<const proxy::tls::Identity> identity_;
  std::atomic<int> updates_{0};
  std::unique_ptr<proxy::control::XdsClient> client_;
};

TEST_F(MeshTest, FiftySimulatedProxiesAndTwoRealOnesAllAcknowledgeAChange) {
  constexpr int kSimulated = 50;
  std::string workloads = "apiVersion: v1\nkind: Namespace\nmetadata: {name: sim}\n";
  for (int i = 0; i < kSimulated; ++i) {
    absl::StrAppend(
        &workloads, "---\napiVersion: remora.io/v1\nkind: Workload\nmetadata: {name: sim-", i,
        ", namespace: sim, labels: {app: sim}}\nspec: {serviceAccount: sim, addresses: [10.9.0.",
        i + 1, "]}\n");
  }
  WriteFileOrDie(dir_ + "/sim.yaml", workloads);
  ASSERT_EQ(Remoractl(*control_, {"apply", "-f", dir_ + "/sim.yaml"}).exit_code, 0);
  // One token per workload (each certificate is bound to its workload), minted with the control
  // plane's own signing key: remoractl token create fifty times would only make this slower.
  absl::StatusOr<std::unique_ptr<certs::TokenAuthority>> tokens =
      certs::TokenAuthority::Open(control_->state_dir());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  std::vector<std::unique_ptr<SimulatedProxy>> simulated;
  for (int i = 0; i < kSimulated; ++i) {
    const std::string name = absl::StrCat("sim-", i);
    absl::StatusOr<std::string> token =
        (*tokens)->Mint("sim", "sim", name, absl::Hours(1), absl::Now());
    ASSERT_TRUE(token.ok()) << token.status();
    simulated.push_back(std::make_unique<SimulatedProxy>(*control_, *token, name));
    ASSERT_EQ(simulated.back()->error(), "") << i;
  }
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] {
    CommandResult s = Remoractl(*control_, {"proxy-status"});
    size_t count = 0;
    for (size_t at = s.output.find("SYNCED"); at != std::string::npos;
         at = s.output.find("SYNCED", at + 1))
      ++count;
    return count == kSimulated + 2;
  }));
  // A mesh-wide policy (root namespace, no selector) affects every proxy.
  WriteFileOrDie(dir_ + "/audit.yaml", R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-everything, namespace: remora-system}
spec:
  action: AUDIT
  rules: [{}]
)");
  CommandResult applied = Remoractl(*control_, {"apply", "-f", dir_ + "/audit.yaml", "--wait"});
  EXPECT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_THAT(applied.output, HasSubstr(absl::StrCat("active on ", kSimulated + 2, "/",
                                                     kSimulated + 2, " affected proxies")));
}

constexpr char kStrictShop[] = R"(
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
)";

// Waits until web's (single) worker runs the newest configuration: a new plaintext connection is
// refused once STRICT is in force there.
bool WaitUntilPlaintextIsRefused(const std::string& address) {
  return WaitFor(absl::Seconds(30), [&] { return GetOnce(address, "/") == "closed"; });
}

// Issue 16 item 12: PERMISSIVE -> STRICT closes plaintext connections already established, like
// connections a new policy no longer allows.
TEST_F(MeshTest, SwitchingAPortToStrictClosesItsLivePlaintextConnections) {
  absl::StatusOr<Conn> live = Conn::Dial(WebInbound());
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(Get(*live, "/"), "HTTP/1.1 200");
  Apply("strict.yaml", kStrictShop);
  ASSERT_TRUE(WaitUntilPlaintextIsRefused(WebInbound()));
  EXPECT_EQ(Get(*live, "/"), "closed");
  EXPECT_TRUE(WaitForText(web_->log_path(), "requires mTLS (STRICT)"));
  // Mesh traffic (mTLS) is unaffected.
  EXPECT_EQ(GetOnce(Outbound(), "/"), "HTTP/1.1 200");
}

// Issue 16 item 11: a connection still being sniffed when the configuration changes is admitted
// (or not) by the configuration in force when admission happens, not the one it was accepted with.
TEST_F(MeshTest, AConnectionStillBeingSniffedIsAdmittedByTheConfigurationInForceThen) {
  absl::StatusOr<Conn> waiting = Conn::Dial(WebInbound());
  ASSERT_TRUE(waiting.ok());
  // Accepted under PERMISSIVE; the proxy waits for its first byte (sniff_timeout 300s).
  Apply("strict.yaml", kStrictShop);
  ASSERT_TRUE(WaitUntilPlaintextIsRefused(WebInbound()));
  EXPECT_EQ(Get(*waiting, "/"), "closed");
}

// Issue 16 item 5(a): an xDS-managed proxy serves nothing before its first complete configuration:
// here its stream is refused for good (its workload is not registered), yet it holds a valid
// certificate.
TEST_F(MeshTest, AProxyServesNothingUntilItsFirstConfigurationIsApplied) {
  const std::string app_port = absl::StrCat(app_.port());
  CommandResult token =
      Remoractl(*control_, {"token", "create", "--namespace=shop", "--service-account=web",
                            "--workload=ghost-0", absl::StrCat("--out=", dir_, "/ghost.token")});
  ASSERT_EQ(token.exit_code, 0) << token.output;
  absl::StatusOr<std::unique_ptr<ProxyProcess>> ghost = ProxyProcess::Start(
      dir_, "ghost",
      MeshProxyConfig(*control_, dir_ + "/ghost.token", "shop", "ghost-0", "web",
                      absl::StrCat("  - {name: inbound, direction: inbound, address: \"127.0.0.4:",
                                   app_port, "\", target: \"", app_.endpoint(), "\"}\n",
                                   "  - {name: outbound, direction: outbound, address: "
                                   "\"127.0.0.4:0\", target: \"",
                                   app_.endpoint(), "\"}\n"),
                      "inbound: {mode: PERMISSIVE}\n"));
  ASSERT_TRUE(ghost.ok()) << ghost.status();
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return (*ghost)->AdminGet("/certs").value_or("").find(
               "spiffe://cluster.local/ns/shop/sa/web") != std::string::npos;
  })) << (*ghost)->Log();
  ASSERT_TRUE(WaitForText((*ghost)->log_path(), "is not registered")) << (*ghost)->Log();
  EXPECT_EQ(GetOnce((*ghost)->Address("inbound"), "/"), "closed");
  // Nor outbound: not knowing the mesh's services yet, it would pass the app's calls through in
  // plaintext where mTLS belongs.
  EXPECT_EQ(GetOnce((*ghost)->Address("outbound"), "/"), "closed");
  EXPECT_THAT((*ghost)->AdminGet("/ready").value_or(""), HasSubstr("503"));
  EXPECT_TRUE(WaitForText((*ghost)->log_path(), "no configuration from the control plane yet"));
}

// Issue 16 item 5(b): a new ALLOW policy the proxy refuses (here: over limits.max_policies) must
// not leave the workload open: it is enforced as if it allowed nothing, and proxy-status says so.
TEST_F(MeshTest, ARefusedAllowPolicyMakesTheWorkloadDenyInsteadOfStayingOpen) {
  Apply("a.yaml", DenyPath("deny-a", "/a"));
  ASSERT_EQ(GetOnce(Outbound(), "/"), "HTTP/1.1 200");
  Apply("allow.yaml", R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nobody, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/nobody"]}}]}]
)",
        1);
  EXPECT_EQ(GetOnce(Outbound(), "/"), "HTTP/1.1 403");
  CommandResult status = Remoractl(*control_, {"proxy-status", "shop/web-0"});
  EXPECT_THAT(status.output, HasSubstr("refused AuthorizationPolicy/shop/allow-nobody"));
  EXPECT_THAT(status.output, HasSubstr("fail closed"));
  EXPECT_TRUE(WaitForText(web_->log_path(), "fail closed"));
}

// Issue 16 item 17: workloads sharing a service account must not claim each other's xDS node id
// (and so read each other's configuration): the certificate is bound to the workload its token
// was minted for.
TEST_F(MeshTest, AProxyCannotClaimAnotherWorkloadOfItsServiceAccount) {
  Apply("web-1.yaml", R"(
apiVersion: remora.io/v1
kind: Workload
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {serviceAccount: web, addresses: [127.0.0.5]}
)");
  // web-0's token, web-0's certificate, but the node id of web-1.
  const std::string token(absl::StripAsciiWhitespace(ReadFileOrEmpty(dir_ + "/web.token")));
  SimulatedProxy impostor(*control_, token, "web-1", "shop");
  ASSERT_EQ(impostor.error(), "");
  EXPECT_TRUE(WaitForText(control_->process().log_path(), "node=\"shop/web-1\""))
      << control_->Log();
  EXPECT_EQ(impostor.updates(), 0);
  EXPECT_THAT(ReadFileOrEmpty(control_->process().log_path()),
              HasSubstr("was issued for workload shop/web-0"));
}

// Issue 16 item 4: the root namespace is the control plane's (--root-namespace), not a constant
// the proxy assumes.
class RootNamespaceTest : public MeshTest {
 protected:
  std::vector<std::string> ControlArgs() const override { return {"--root-namespace=mesh-root"}; }
};

TEST_F(RootNamespaceTest, MeshWidePoliciesFollowTheControlPlanesRootNamespace) {
  Apply("mesh-deny.yaml", R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-x, namespace: mesh-root}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/x"]}}]}]
)");
  EXPECT_EQ(GetOnce(Outbound(), "/x"), "HTTP/1.1 403");
  EXPECT_EQ(GetOnce(Outbound(), "/"), "HTTP/1.1 200");
}

// Issues 16 items 10 and 18: the plaintext development port.
class DevPortTest : public MeshTest {
 protected:
  std::vector<std::string> ControlArgs() const override { return {"--dev-listen=127.0.0.1:0"}; }

  std::shared_ptr<grpc::Channel> DevChannel() {
    return grpc::CreateChannel(control_->dev(), grpc::InsecureChannelCredentials());
  }
};

TEST_F(DevPortTest, TheDevelopmentPortServesXdsOnlyAndSaysItIsForDevelopment) {
  ASSERT_FALSE(control_->dev().empty());
  std::shared_ptr<grpc::Channel> channel = DevChannel();
  // The CA: even a valid bootstrap token buys no certificate over plaintext.
  const std::string token(absl::StripAsciiWhitespace(ReadFileOrEmpty(dir_ + "/web.token")));
  auto ca = istio::v1::auth::IstioCertificateService::NewStub(channel);
  grpc::ClientContext ca_context;
  ca_context.AddMetadata("authorization", "Bearer " + token);
  certs::EvpPkeyPtr key = *certs::GenerateEcKey();
  istio::v1::auth::IstioCertificateRequest csr;
  csr.set_csr(certs::ToPem(certs::CreateCsr(key.get(), "")->get()));
  istio::v1::auth::IstioCertificateResponse issued;
  grpc::Status ca_status = ca->CreateCertificate(&ca_context, csr, &issued);
  EXPECT_EQ(ca_status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << ca_status.error_message();
  // The operator API: not even with the operator token.
  auto op = remora::v1::Operator::NewStub(channel);
  grpc::ClientContext op_context;
  op_context.AddMetadata("authorization",
                         "Bearer " + std::string(absl::StripAsciiWhitespace(ReadFileOrEmpty(
                                         control_->state_dir() + "/operator.token"))));
  remora::v1::ProxyStatusResponse proxies;
  grpc::Status op_status = op->ProxyStatus(&op_context, remora::v1::ProxyStatusRequest(), &proxies);
  EXPECT_EQ(op_status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << op_status.error_message();
  // xDS still answers there.
  auto ads = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  grpc::ClientContext ads_context;
  auto stream = ads->StreamAggregatedResources(&ads_context);
  envoy::service::discovery::v3::DiscoveryRequest request;
  request.mutable_node()->set_id("shop/web-0");
  request.set_type_url("type.googleapis.com/remora.v1.WorkloadSettings");
  ASSERT_TRUE(stream->Write(request));
  envoy::service::discovery::v3::DiscoveryResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.resources_size(), 1);
  ads_context.TryCancel();
  (void)stream->Finish();
  EXPECT_TRUE(WaitForText(control_->process().log_path(), "for development only"));
}

TEST_F(DevPortTest, AnUnknownResourceTypeEndsTheStreamWithAnError) {
  auto ads = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(DevChannel());
  grpc::ClientContext context;
  auto stream = ads->StreamAggregatedResources(&context);
  envoy::service::discovery::v3::DiscoveryRequest request;
  request.mutable_node()->set_id("shop/web-0");
  request.set_type_url("type.googleapis.com/remora.v1.NoSuchType");
  ASSERT_TRUE(stream->Write(request));
  envoy::service::discovery::v3::DiscoveryResponse response;
  const bool answered = stream->Read(&response);
  EXPECT_FALSE(answered) << "the control plane answered and kept state: "
                         << response.ShortDebugString();
  if (answered) context.TryCancel();
  grpc::Status status = stream->Finish();
  if (!answered) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("NoSuchType"));
  }
}

}  // namespace
}  // namespace remora::testing
