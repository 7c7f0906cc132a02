// Kubernetes mode when Istio's CRDs are installed after remora-control started: the fake API
// server starts without them (discovery has no security.istio.io), remora-control reads the
// cluster's NetworkPolicies alone, then the CRDs appear (as after `kubectl apply` of Istio's CRDs)
// and a kubectl-applied AuthorizationPolicy reaches the store without restarting the control
// plane. Every wait polls an observable condition.
#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kube/fake_apiserver_process.h"
#include "tests/kube_shop_cluster.h"
#include "tests/support/control_plane_harness.h"
#include "tests/support/net.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The control plane's namespace holds its CA Secret, as after an install.
constexpr char kCluster[] = R"(
apiVersion: v1
kind: Namespace
metadata: {name: remora-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-admin, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: admin}}}]}]
)";

TEST(KubeCrdLaterTest, AuthorizationPolicyIsReadOnceTheCrdsAreInstalledWithoutARestart) {
  const std::string dir = TestDir("kube_crd_later");
  FakeApiServerOptions options;
  options.extra_args = {"--without-istio-crds", "--bookmark-interval=1"};
  absl::StatusOr<std::unique_ptr<FakeApiServer>> kube = FakeApiServer::Start(options);
  ASSERT_TRUE(kube.ok()) << kube.status();
  KubectlResult applied = (*kube)->KubectlApply(kCluster);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;

  // A short period: the test waits for the re-check, not for the 30 s default.
  absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> started = ControlPlaneProcess::Start(
      dir, 0,
      {absl::StrCat("--kubeconfig=", (*kube)->kubeconfig_path()), "--kube-discovery-period=100ms"});
  ASSERT_TRUE(started.ok()) << started.status();
  ControlPlaneProcess& control = **started;

  // Ready with the NetworkPolicies alone, saying why the Istio kinds are not read.
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return absl::StrContains(ControlAdminGet(control, "/ready"), "200 OK");
  })) << control.Log();
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return absl::StrContains(Remoractl(control, {"get", "networkpolicy"}).output, "only-admin");
  })) << control.Log();
  EXPECT_THAT(control.Log(),
              HasSubstr("the cluster does not serve authorizationpolicies.security.istio.io"));
  EXPECT_THAT(control.Log(), Not(HasSubstr("restart remora-control")));
  // Discovery keeps being asked while the kinds are missing.
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    absl::StatusOr<nlohmann::json> counters = (*kube)->Counters();
    return counters.ok() &&
           (*counters)["requests"].value("discovery /apis/security.istio.io/v1", 0) >= 3;
  })) << (*kube)->Counters().value_or(nullptr).dump();

  ASSERT_TRUE((*kube)->InstallIstioCrds().ok());
  applied = (*kube)->KubectlApply(kDenySecretPolicy);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;

  std::string got;
  EXPECT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        got = Remoractl(control, {"get", "authorizationpolicy"}).output;
                        return absl::StrContains(got, "deny-secret");
                      }))
      << got << control.Log();
  EXPECT_THAT(control.Log(),
              HasSubstr("the cluster now serves authorizationpolicies.security.istio.io"));
  // The NetworkPolicy stays published alongside.
  EXPECT_THAT(Remoractl(control, {"get", "networkpolicy"}).output, HasSubstr("only-admin"));
  // Still the same process, which stops cleanly with nothing left waiting.
  control.process().Signal(SIGTERM);
  absl::StatusOr<int> exited = control.process().Wait(absl::Seconds(60));
  ASSERT_TRUE(exited.ok()) << exited.status() << control.Log();
  EXPECT_EQ(*exited, 0) << control.Log();
}

}  // namespace
}  // namespace remora::testing
