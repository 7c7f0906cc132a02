// Kubernetes mode end to end, real processes on loopback (issue 18): the fake API server
// (tests/kube) driven by the real kubectl, remora-control --kubeconfig, and a pair of real
// proxies whose certificates come from a TokenReview of their pods' ServiceAccount tokens.
// Pods, services and policies are created with `kubectl apply -f`; a test-side "kubelet" marks
// the pods Running with their loopback addresses. Every wait polls an observable condition.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kube/fake_apiserver_process.h"
#include "tests/kube_shop_cluster.h"
#include "tests/support/control_plane_harness.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kRefused[] = R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: MAYBE
)";

class KubeModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    FakeApiServerOptions options;
    options.extra_args = {"--bookmark-interval=1"};
    absl::StatusOr<std::unique_ptr<FakeApiServer>> kube = FakeApiServer::Start(options);
    ASSERT_TRUE(kube.ok()) << kube.status();
    kube_ = std::move(*kube);
    KubectlResult applied = kube_->KubectlApply(ShopCluster(app_.port()));
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    MarkRunning("web-0", "127.0.0.2");
    MarkRunning("frontend-0", "127.0.0.3");

    port_ = FreePort();
    StartControl();
    ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] {
      return Remoractl(*control_, {"get", "workload"}).output.find("frontend-0") !=
             std::string::npos;
    })) << control_->Log();

    const std::string app_port = absl::StrCat(app_.port());
    StartProxy(&web_, "web", "web-0",
               absl::StrCat("  - {name: inbound, direction: inbound, address: \"127.0.0.2:",
                            app_port, "\", target: \"", app_.endpoint(), "\"}\n"),
               "limits: {workers: 1}\n");
    StartProxy(&frontend_, "frontend", "frontend-0",
               absl::StrCat("  - {name: outbound, direction: outbound, address: "
                            "\"127.0.0.1:0\", target: \"127.0.0.2:",
                            app_port, "\"}\n"),
               "");
  }

  void StartControl() {
    absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> control = ControlPlaneProcess::Start(
        dir_, port_, {absl::StrCat("--kubeconfig=", kube_->kubeconfig_path())});
    ASSERT_TRUE(control.ok()) << control.status();
    control_ = std::move(*control);
  }

  void MarkRunning(const std::string& pod, const std::string& ip) {
    KubectlResult patched = MarkShopPodRunning(*kube_, pod, ip);
    ASSERT_EQ(patched.exit_code, 0) << patched.output;
  }

  // The pod's projected token, as the kubelet would mount it: audience remora-control, bound to
  // the pod.
  std::string Token(const std::string& sa, const std::string& pod,
                    const std::string& audience = "remora-control") {
    absl::StatusOr<std::string> path = ShopPodToken(*kube_, dir_, sa, pod, audience);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.value_or("");
  }

  void StartProxy(std::unique_ptr<ProxyProcess>* out, const std::string& sa, const std::string& pod,
                  const std::string& listeners, const std::string& extra) {
    absl::StatusOr<std::unique_ptr<ProxyProcess>> proxy = ProxyProcess::Start(
        dir_, sa, MeshProxyConfig(*control_, Token(sa, pod), "shop", pod, sa, listeners, extra));
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    *out = std::move(*proxy);
    ASSERT_TRUE(WaitFor(absl::Seconds(60),
                        [&] { return (*out)->AdminGet("/ready").value_or("") == "200 ready\n"; }))
        << (*out)->AdminGet("/ready").value_or("") << (*out)->Log() << control_->Log();
  }

  std::string Outbound() { return frontend_->Address("outbound"); }

  bool EventuallyGets(const std::string& path, const std::string& status_line) {
    return WaitFor(absl::Seconds(60),
                   [&] { return HttpStatusLine(Outbound(), path) == status_line; });
  }

  std::string dir_;
  int port_ = 0;
  TestApp app_{TestApp::Mode::kHttp};
  std::unique_ptr<FakeApiServer> kube_;
  std::unique_ptr<ControlPlaneProcess> control_;
  std::unique_ptr<ProxyProcess> web_;
  std::unique_ptr<ProxyProcess> frontend_;
};

TEST_F(KubeModeTest, ProxiesGetCertificatesThroughTokenReviewAndCallAcrossTheMesh) {
  EXPECT_TRUE(EventuallyGets("/", "HTTP/1.1 200"));
  EXPECT_THAT(*web_->AdminGet("/certs"),
              HasSubstr("\"identity\": \"spiffe://cluster.local/ns/shop/sa/web\""));
  EXPECT_THAT(control_->Log(), HasSubstr("TokenReview of pod shop/web-0"));
  CommandResult status = Remoractl(*control_, {"proxy-status"});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("shop/web-0"));
  EXPECT_THAT(status.output, HasSubstr("SYNCED"));
  auto counters = kube_->Counters();
  ASSERT_TRUE(counters.ok());
  EXPECT_GE((*counters)["token_reviews_authenticated"].get<int>(), 2) << counters->dump();
}

TEST_F(KubeModeTest, KubectlAppliedAuthorizationPolicyIsEnforcedAndDeleteLiftsIt) {
  ASSERT_TRUE(EventuallyGets("/secret", "HTTP/1.1 200"));
  KubectlResult applied = kube_->KubectlApply(kDenySecretPolicy);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_TRUE(EventuallyGets("/secret", "HTTP/1.1 403")) << control_->Log();
  EXPECT_EQ(HttpStatusLine(Outbound(), "/"), "HTTP/1.1 200");
  KubectlResult deleted =
      kube_->Kubectl({"delete", "authorizationpolicy", "deny-secret", "-n", "shop"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_TRUE(EventuallyGets("/secret", "HTTP/1.1 200")) << control_->Log();
}

TEST_F(KubeModeTest, KubectlAppliedNetworkPolicyRefusesAndDeleteLiftsIt) {
  ASSERT_TRUE(EventuallyGets("/", "HTTP/1.1 200"));
  KubectlResult applied = kube_->KubectlApply(kOnlyAdminPolicy);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  std::string last;
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    last = HttpStatusLine(Outbound(), "/");
    return last == "HTTP/1.1 403" || last == "closed";
  })) << last;
  KubectlResult deleted = kube_->Kubectl({"delete", "networkpolicy", "only-admin", "-n", "shop"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_TRUE(EventuallyGets("/", "HTTP/1.1 200"));
}

// `kubectl apply -f F` then `remoractl wait -f F`: wait returns once the proxies enforce the
// object's current state, so the very next request sees it (no polling after wait).
TEST_F(KubeModeTest, WaitReturnsOnceAKubectlChangeIsEnforced) {
  ASSERT_TRUE(EventuallyGets("/secret", "HTTP/1.1 200"));
  const std::string file = dir_ + "/deny.yaml";
  WriteFileOrDie(file, kDenySecretPolicy);
  const std::vector<std::string> wait = {
      "wait", "-f", file, "--kubeconfig=" + kube_->kubeconfig_path(), "--timeout=60s"};
  KubectlResult applied = kube_->Kubectl({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  CommandResult waited = Remoractl(*control_, wait);
  EXPECT_EQ(waited.exit_code, 0) << waited.output;
  EXPECT_THAT(waited.output,
              HasSubstr("authorizationpolicy shop/deny-secret: applied (resourceVersion "));
  EXPECT_THAT(waited.output, HasSubstr("active on 1/1 affected proxy"));
  EXPECT_EQ(HttpStatusLine(Outbound(), "/secret"), "HTTP/1.1 403");

  KubectlResult deleted = kube_->Kubectl({"delete", "-f", file});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  waited = Remoractl(*control_, wait);
  EXPECT_EQ(waited.exit_code, 0) << waited.output;
  EXPECT_THAT(waited.output, HasSubstr("authorizationpolicy shop/deny-secret: deleted"));
  EXPECT_EQ(HttpStatusLine(Outbound(), "/secret"), "HTTP/1.1 200");
}

TEST_F(KubeModeTest, WaitSaysWhyTheEngineRefusedAPolicy) {
  const std::string file = dir_ + "/broken.yaml";
  WriteFileOrDie(file, kRefused);
  KubectlResult applied = kube_->Kubectl({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  CommandResult waited = Remoractl(
      *control_, {"wait", "-f", file, "--kubeconfig=" + kube_->kubeconfig_path(), "--timeout=60s"});
  EXPECT_EQ(waited.exit_code, 1) << waited.output;
  EXPECT_THAT(waited.output, HasSubstr("authorizationpolicy shop/broken: refused: "));
  EXPECT_THAT(waited.output, HasSubstr("spec.action"));
}

TEST_F(KubeModeTest, ARefusedPolicyIsReportedAsAnEventOnTheObject) {
  KubectlResult applied = kube_->KubectlApply(kRefused);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  std::string events;
  EXPECT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        events = kube_
                                     ->Kubectl({"get", "events", "-n", "shop", "--field-selector",
                                                "involvedObject.name=broken", "-o", "json"})
                                     .output;
                        return events.find("PolicyRejected") != std::string::npos;
                      }))
      << events << control_->Log();
  EXPECT_THAT(events, HasSubstr("AuthorizationPolicy shop/broken: spec.action"));
  EXPECT_THAT(events, HasSubstr("\"type\": \"Warning\""));
  EXPECT_THAT(control_->Log(), HasSubstr("refused AuthorizationPolicy shop/broken"));
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return ControlMetric(*control_, "remora_kube_events_recorded_total") == "1";
  })) << ControlMetric(*control_, "remora_kube_events_recorded_total");
  EXPECT_EQ(ControlMetric(*control_, "remora_kube_refused_objects"), "1");
  EXPECT_EQ(ControlMetric(*control_, "remora_kube_synced"), "1");
  // The rest of the cluster still reaches the proxies.
  EXPECT_TRUE(EventuallyGets("/", "HTTP/1.1 200"));
}

TEST_F(KubeModeTest, RemoractlApplySaysPolicyChangesGoThroughKubectl) {
  WriteFileOrDie(dir_ + "/deny.yaml", kDenySecretPolicy);
  CommandResult applied = Remoractl(*control_, {"apply", "-f", dir_ + "/deny.yaml"});
  EXPECT_NE(applied.exit_code, 0);
  EXPECT_THAT(applied.output, HasSubstr("Kubernetes mode"));
  EXPECT_THAT(applied.output, HasSubstr("kubectl apply -f"));
  CommandResult token =
      Remoractl(*control_, {"token", "create", "--namespace=shop", "--service-account=web",
                            "--workload=web-0", absl::StrCat("--out=", dir_, "/boot.token")});
  EXPECT_NE(token.exit_code, 0);
  EXPECT_THAT(token.output, HasSubstr("projected ServiceAccount tokens"));
  // Reading works: the cluster's objects as the store holds them.
  CommandResult got = Remoractl(*control_, {"get", "service"});
  EXPECT_EQ(got.exit_code, 0) << got.output;
  EXPECT_THAT(got.output, HasSubstr("web"));
}

TEST_F(KubeModeTest, TheRootConfigMapAppearsAndFollowsARootRotation) {
  std::string pem;
  ASSERT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        KubectlResult got =
                            kube_->Kubectl({"get", "configmap", "remora-ca-root-cert", "-n", "shop",
                                            "-o", "jsonpath={.data.root-cert\\.pem}"});
                        pem = got.output;
                        return got.exit_code == 0 && absl::StrContains(pem, "BEGIN CERTIFICATE");
                      }))
      << pem << control_->Log();
  EXPECT_EQ(pem, ReadFileOrEmpty(control_->ca_bundle()));
  CommandResult add = Remoractl(*control_, {"ca", "rotate", "--step=add", "--wait"});
  ASSERT_EQ(add.exit_code, 0) << add.output << control_->Log();
  std::string after;
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    after = kube_
                ->Kubectl({"get", "configmap", "remora-ca-root-cert", "-n", "shop", "-o",
                           "jsonpath={.data.root-cert\\.pem}"})
                .output;
    return after != pem && after == ReadFileOrEmpty(control_->ca_bundle());
  })) << after;
}

TEST_F(KubeModeTest, ATokenForAnotherAudienceIsRefusedSayingSo) {
  std::unique_ptr<ProxyProcess> stranger;
  absl::StatusOr<std::unique_ptr<ProxyProcess>> proxy = ProxyProcess::Start(
      dir_, "stranger",
      MeshProxyConfig(*control_, Token("web", "web-0", "vault"), "shop", "web-0", "web",
                      "  - {name: outbound, direction: outbound, address: \"127.0.0.1:0\", "
                      "target: \"127.0.0.2:1\"}\n"));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return absl::StrContains(control_->Log(), "audience mismatch");
  })) << control_->Log();
  EXPECT_NE((*proxy)->AdminGet("/ready").value_or(""), "200 ready\n");
}

TEST_F(KubeModeTest, TheApiServerGoingDownLeavesTheLastStateServed) {
  ASSERT_EQ(kube_->KubectlApply(kDenySecretPolicy).exit_code, 0);
  ASSERT_TRUE(EventuallyGets("/secret", "HTTP/1.1 403"));
  ASSERT_TRUE(kube_->Down().ok());
  // The control plane keeps serving its last state: proxies stay in sync, policy holds.
  CommandResult status = Remoractl(*control_, {"proxy-status"});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("SYNCED"));
  EXPECT_EQ(HttpStatusLine(Outbound(), "/secret"), "HTTP/1.1 403");
  EXPECT_EQ(HttpStatusLine(Outbound(), "/"), "HTTP/1.1 200");
  CommandResult got = Remoractl(*control_, {"get", "authorizationpolicy"});
  EXPECT_THAT(got.output, HasSubstr("deny-secret"));
  // Back up: the informers resume and a change made meanwhile... arrives.
  ASSERT_TRUE(kube_->Up().ok());
  ASSERT_EQ(
      kube_->Kubectl({"delete", "authorizationpolicy", "deny-secret", "-n", "shop"}).exit_code, 0);
  EXPECT_TRUE(EventuallyGets("/secret", "HTTP/1.1 200")) << control_->Log();
}

TEST_F(KubeModeTest, AControlPlaneRestartedWhileTheApiServerIsDownServesItsLastState) {
  ASSERT_EQ(kube_->KubectlApply(kDenySecretPolicy).exit_code, 0);
  ASSERT_TRUE(EventuallyGets("/secret", "HTTP/1.1 403"));
  ASSERT_TRUE(kube_->Down().ok());
  control_.reset();
  StartControl();
  // The cluster as last read (kept in --state-dir): proxies reconnect and are in sync with it.
  std::string status;
  EXPECT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        status = Remoractl(*control_, {"proxy-status"}).output;
                        return absl::StrContains(status, "shop/web-0") &&
                               absl::StrContains(status, "shop/frontend-0") &&
                               !absl::StrContains(status, "STALE") &&
                               absl::StrContains(status, "SYNCED");
                      }))
      << status << control_->Log();
  EXPECT_THAT(Remoractl(*control_, {"get", "authorizationpolicy"}).output,
              HasSubstr("deny-secret"));
  EXPECT_EQ(HttpStatusLine(Outbound(), "/secret"), "HTTP/1.1 403");
  // The API server comes back: the informers sync and later changes arrive.
  ASSERT_TRUE(kube_->Up().ok());
  ASSERT_EQ(
      kube_->Kubectl({"delete", "authorizationpolicy", "deny-secret", "-n", "shop"}).exit_code, 0);
  EXPECT_TRUE(EventuallyGets("/secret", "HTTP/1.1 200")) << control_->Log();
}

}  // namespace
}  // namespace remora::testing
