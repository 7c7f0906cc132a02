// Several remora-control replicas in Kubernetes mode (issue 18), real processes on loopback: two
// replicas on one fake API server (tests/kube, driven by the real kubectl) share the CA through
// Secret remora-ca and serve the same root; a `ca rotate` through one is seen through the other;
// a pair of real proxies, given both replicas' addresses, carries requests while one replica is
// SIGKILLed: no request fails, the policy keeps being enforced, and the proxies reconnect to the
// survivor. Every wait polls an observable condition.
#include <atomic>
#include <csignal>
#include <iostream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
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

// The roots as `remoractl ca status` prints them through `control`.
std::string CaStatus(const ControlPlaneProcess& control) {
  CommandResult status = Remoractl(control, {"ca", "status"});
  return status.exit_code == 0 ? status.output : "";
}

class KubeReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = TestDir(name_);
    FakeApiServerOptions options;
    options.extra_args = {"--bookmark-interval=1"};
    absl::StatusOr<std::unique_ptr<FakeApiServer>> kube = FakeApiServer::Start(options);
    ASSERT_TRUE(kube.ok()) << kube.status();
    kube_ = std::move(*kube);
    KubectlResult applied = kube_->KubectlApply(ShopCluster(app_.port()));
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    MarkRunning("web-0", "127.0.0.2");
    MarkRunning("frontend-0", "127.0.0.3");

    // Both replicas start together: whichever creates Secret remora-ca first, the other adopts.
    std::thread other([&] { b_ = StartReplica("b"); });
    a_ = StartReplica("a");
    other.join();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    for (ControlPlaneProcess* control : {a_.get(), b_.get()}) {
      ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] {
        return Remoractl(*control, {"get", "workload"}).output.find("frontend-0") !=
               std::string::npos;
      })) << control->Log();
    }

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

  std::unique_ptr<ControlPlaneProcess> StartReplica(const std::string& name) {
    absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> control =
        ControlPlaneProcess::Start(TestDir(absl::StrCat(name_, "-", name)), 0,
                                   {absl::StrCat("--kubeconfig=", kube_->kubeconfig_path())});
    EXPECT_TRUE(control.ok()) << control.status();
    return control.ok() ? std::move(*control) : nullptr;
  }

  void MarkRunning(const std::string& pod, const std::string& ip) {
    KubectlResult patched = MarkShopPodRunning(*kube_, pod, ip);
    ASSERT_EQ(patched.exit_code, 0) << patched.output;
  }

  std::string Token(const std::string& sa, const std::string& pod) {
    absl::StatusOr<std::string> path = ShopPodToken(*kube_, dir_, sa, pod);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.value_or("");
  }

  // A proxy given both replicas, as a gRPC target list: pick_first connects to A, and to B when
  // A is gone (in a cluster, the Service's name spreads proxies over the replicas instead).
  void StartProxy(std::unique_ptr<ProxyProcess>* out, const std::string& sa, const std::string& pod,
                  const std::string& listeners, const std::string& extra) {
    std::string config = MeshProxyConfig(*a_, Token(sa, pod), "shop", pod, sa, listeners, extra);
    config = absl::StrReplaceAll(
        config, {{absl::StrCat("address: \"", a_->address(), "\""),
                  absl::StrCat("address: \"ipv4:", a_->address(), ",", b_->address(), "\"")}});
    ASSERT_THAT(config, HasSubstr("ipv4:"));
    absl::StatusOr<std::unique_ptr<ProxyProcess>> proxy = ProxyProcess::Start(dir_, sa, config);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    *out = std::move(*proxy);
    ASSERT_TRUE(WaitFor(absl::Seconds(60),
                        [&] { return (*out)->AdminGet("/ready").value_or("") == "200 ready\n"; }))
        << (*out)->AdminGet("/ready").value_or("") << (*out)->Log() << a_->Log();
  }

  // Both proxies are connected to `control` and in sync with it.
  bool ServesBothProxies(const ControlPlaneProcess& control, std::string* status) {
    *status = Remoractl(control, {"proxy-status"}).output;
    return absl::StrContains(*status, "shop/web-0") &&
           absl::StrContains(*status, "shop/frontend-0") && !absl::StrContains(*status, "STALE") &&
           !absl::StrContains(*status, "NOT SENT") && absl::StrContains(*status, "SYNCED");
  }

  std::string Outbound() { return frontend_->Address("outbound"); }

  // The proxy's log lines at warn and above, other than the xDS stream's reconnection attempts.
  static std::string Warnings(const ProxyProcess& proxy) {
    std::string out;
    for (absl::string_view line : absl::StrSplit(proxy.Log(), '\n')) {
      if ((absl::StrContains(line, " warn ") || absl::StrContains(line, " error ")) &&
          !absl::StrContains(line, "xDS stream")) {
        absl::StrAppend(&out, line, "\n");
      }
    }
    return out;
  }

  std::string name_;
  std::string dir_;
  TestApp app_{TestApp::Mode::kHttp};
  std::unique_ptr<FakeApiServer> kube_;
  std::unique_ptr<ControlPlaneProcess> a_;
  std::unique_ptr<ControlPlaneProcess> b_;
  std::unique_ptr<ProxyProcess> web_;
  std::unique_ptr<ProxyProcess> frontend_;
};

TEST_F(KubeReplicasTest, BothReplicasServeTheSameRootAndOperatorToken) {
  const std::string bundle = ReadFileOrEmpty(a_->ca_bundle());
  EXPECT_THAT(bundle, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_EQ(bundle, ReadFileOrEmpty(b_->ca_bundle()));
  EXPECT_EQ(ReadFileOrEmpty(a_->state_dir() + "/operator.token"),
            ReadFileOrEmpty(b_->state_dir() + "/operator.token"));
  EXPECT_EQ(CaStatus(*a_), CaStatus(*b_));
  // A certificate signed through A is trusted through B: the proxies got theirs from A.
  std::string status;
  EXPECT_TRUE(ServesBothProxies(*a_, &status)) << status;
  KubectlResult secret = kube_->Kubectl({"get", "secret", "remora-ca", "-n", "remora-system"});
  EXPECT_EQ(secret.exit_code, 0) << secret.output;
}

TEST_F(KubeReplicasTest, ARotationThroughOneReplicaIsSeenThroughTheOther) {
  const std::string before = ReadFileOrEmpty(b_->ca_bundle());
  CommandResult add = Remoractl(*a_, {"ca", "rotate", "--step=add"});
  ASSERT_EQ(add.exit_code, 0) << add.output << a_->Log();
  // B installs the new state from the Secret: its bundle, its roots, and the root ConfigMap.
  std::string status;
  EXPECT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        status = CaStatus(*b_);
                        return absl::StrContains(status, "phase: added") &&
                               ReadFileOrEmpty(b_->ca_bundle()) == ReadFileOrEmpty(a_->ca_bundle());
                      }))
      << status << b_->Log();
  EXPECT_NE(ReadFileOrEmpty(b_->ca_bundle()), before);
  // The next step through B: A follows, and the new root signs on both.
  CommandResult next = Remoractl(*b_, {"ca", "rotate", "--step=switch"});
  ASSERT_EQ(next.exit_code, 0) << next.output << b_->Log();
  EXPECT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        status = CaStatus(*a_);
                        return absl::StrContains(status, "phase: switched");
                      }))
      << status << a_->Log();
  EXPECT_EQ(CaStatus(*a_), CaStatus(*b_));
  std::string published;
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    published = kube_
                    ->Kubectl({"get", "configmap", "remora-ca-root-cert", "-n", "shop", "-o",
                               "jsonpath={.data.root-cert\\.pem}"})
                    .output;
    return published == ReadFileOrEmpty(b_->ca_bundle());
  })) << published;
}

TEST_F(KubeReplicasTest, KillingOneReplicaUnderLoadFailsNoRequest) {
  ASSERT_EQ(kube_->KubectlApply(kDenySecretPolicy).exit_code, 0);
  ASSERT_TRUE(WaitFor(absl::Seconds(60),
                      [&] { return HttpStatusLine(Outbound(), "/secret") == "HTTP/1.1 403"; }));
  std::string status;
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return ServesBothProxies(*a_, &status); }))
      << status;

  // Load: allowed and denied requests alternate; every answer must be the expected one.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::atomic<int> failed{0};
  std::string first_failure;
  std::thread load([&] {
    // Bounded: stops when told, or after this many requests whatever happens (well below what
    // would exhaust loopback's ephemeral ports with connections in TIME_WAIT).
    for (int i = 0; i < 5000 && !stop.load(); ++i) {
      const bool denied = i % 2 == 1;
      const std::string got = HttpStatusLine(Outbound(), denied ? "/secret" : "/");
      ++sent;
      if (got != (denied ? "HTTP/1.1 403" : "HTTP/1.1 200")) {
        if (failed++ == 0) {
          first_failure = absl::StrCat("request ", i, " ", denied ? "/secret" : "/", ": ", got);
        }
      }
    }
  });
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return sent.load() >= 20; }));
  a_->process().Signal(SIGKILL);
  ASSERT_TRUE(a_->process().Wait(absl::Seconds(30)).ok());
  const int at_kill = sent.load();
  // The proxies find B, get their configuration from it, and keep enforcing meanwhile.
  EXPECT_TRUE(WaitFor(absl::Seconds(120), [&] { return ServesBothProxies(*b_, &status); }))
      << status << frontend_->Log() << b_->Log();
  // And the mesh keeps working for a while after the switch.
  const int after_switch = sent.load();
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return sent.load() >= after_switch + 20; }));
  stop = true;
  load.join();
  EXPECT_GT(sent.load(), at_kill);
  EXPECT_EQ(failed.load(), 0) << "of " << sent.load() << " requests (" << at_kill
                              << " before the kill); first: " << first_failure << "\nweb:\n"
                              << Warnings(*web_) << "frontend:\n"
                              << Warnings(*frontend_);
  std::cout << sent.load() << " requests, " << at_kill << " before the kill, "
            << after_switch - at_kill << " until both proxies were synced with B\n";
  // A policy change made after the kill reaches the proxies through B.
  ASSERT_EQ(
      kube_->Kubectl({"delete", "authorizationpolicy", "deny-secret", "-n", "shop"}).exit_code, 0);
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return HttpStatusLine(Outbound(), "/secret") == "HTTP/1.1 200";
  })) << b_->Log();
}

}  // namespace
}  // namespace remora::testing
