// The injection webhook in Kubernetes mode, real processes on loopback (issue 18): remora-control
// issues the webhook's serving certificate from its own CA and keeps the caBundle of
// MutatingWebhookConfiguration remora-sidecar-injector (examples/kubernetes/30-webhook.yaml, as
// shipped) equal to its roots. The fake API server calls the webhook as kube-apiserver does,
// verifying its certificate for remora-control.remora-system.svc against caBundle, so a pod that
// comes back injected proves the API server trusted the certificate through that caBundle. Every
// wait polls an observable condition.
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kube/fake_apiserver_process.h"
#include "tests/support/control_plane_harness.h"
#include "tests/support/process.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kWebhookHost[] = "remora-control.remora-system.svc:15017";

std::string InjectedNamespace() {
  return R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {remora-injection: enabled}}
)";
}

std::string Pod(const std::string& name) {
  return absl::StrCat(R"(
apiVersion: v1
kind: Pod
metadata: {name: )",
                      name, R"(, namespace: shop, labels: {app: web}}
spec:
  containers:
  - {name: app, image: web:1, ports: [{containerPort: 8080}]}
)");
}

class KubeWebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartKube();
    absl::StatusOr<std::string> webhook = ReadFile(Runfile("examples/kubernetes/30-webhook.yaml"));
    ASSERT_TRUE(webhook.ok()) << webhook.status();
    Install(*webhook, {}, kWebhookHost, "remora-sidecar-injector");
  }

  void StartKube() {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    absl::StatusOr<std::unique_ptr<FakeApiServer>> kube = FakeApiServer::Start();
    ASSERT_TRUE(kube.ok()) << kube.status();
    kube_ = std::move(*kube);
  }

  // Applies the webhook configuration `webhook_yaml` (named `config_name`), the injected
  // namespace and the control plane's, starts remora-control in Kubernetes mode with `args`, and
  // has the API server dial `host` (the configuration's Service, host:port) at the control plane's
  // webhook port.
  void Install(const std::string& webhook_yaml, std::vector<std::string> args,
               const std::string& host, const std::string& config_name) {
    config_name_ = config_name;
    // The control plane's own namespace (examples/kubernetes/00-namespace.yaml): its CA Secret
    // lives there.
    std::string own_namespace = "remora-system";
    for (const std::string& arg : args) {
      if (absl::StartsWith(arg, "--namespace=")) own_namespace = arg.substr(12);
    }
    KubectlResult applied = kube_->KubectlApply(absl::StrCat(
        webhook_yaml, "---\n", InjectedNamespace(),
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ", own_namespace, "}\n"));
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    args.push_back(absl::StrCat("--kubeconfig=", kube_->kubeconfig_path()));
    args.push_back("--webhook-listen=127.0.0.1:0");
    absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> control =
        ControlPlaneProcess::Start(dir_, 0, args);
    ASSERT_TRUE(control.ok()) << control.status();
    control_ = std::move(*control);
    ASSERT_FALSE(control_->webhook().empty());
    ASSERT_TRUE(kube_->MapWebhookHost(host, control_->webhook()).ok());
  }

  // The caBundle of each webhook of the configuration, decoded ("" for an empty one).
  std::vector<std::string> CaBundles() {
    KubectlResult got =
        kube_->Kubectl({"get", "mutatingwebhookconfiguration", config_name_, "-o",
                        "jsonpath={range .webhooks[*]}[{.clientConfig.caBundle}]{end}"});
    std::vector<std::string> out;
    if (got.exit_code != 0) return out;
    for (absl::string_view b64 : absl::StrSplit(got.output, ']', absl::SkipEmpty())) {
      b64 = absl::StripPrefix(b64, "[");
      std::string pem;
      if (!absl::Base64Unescape(b64, &pem)) pem = "(not base64)";
      out.push_back(pem);
    }
    return out;
  }

  std::string ControlBundle() { return ReadFile(control_->ca_bundle()).value_or(""); }

  // Waits until every webhook's caBundle is the control plane's current bundle.
  bool WaitForCaBundleCurrent() {
    return WaitFor(absl::Seconds(60), [&] {
      const std::string bundle = ControlBundle();
      std::vector<std::string> bundles = CaBundles();
      return bundles.size() == 2 && bundles[0] == bundle && bundles[1] == bundle;
    });
  }

  // Creates the pod with kubectl and returns its containers and init containers by name.
  void ExpectCreatedInjected(const std::string& name) {
    KubectlResult applied = kube_->KubectlApply(Pod(name));
    ASSERT_EQ(applied.exit_code, 0) << applied.output << "\n" << control_->Log();
    KubectlResult got =
        kube_->Kubectl({"get", "pod", name, "-n", "shop", "-o",
                        "jsonpath={.metadata.annotations.sidecar\\.remora\\.io/status} "
                        "{.spec.initContainers[*].name} {.spec.containers[*].name}"});
    ASSERT_EQ(got.exit_code, 0) << got.output;
    EXPECT_THAT(got.output, HasSubstr("remora-proxy"));
    EXPECT_THAT(got.output, HasSubstr("remora-init"));
  }

  std::string dir_;
  std::string config_name_;
  std::unique_ptr<FakeApiServer> kube_;
  std::unique_ptr<ControlPlaneProcess> control_;
};

TEST_F(KubeWebhookTest, CaBundleIsFilledInAndTheApiServerTrustsTheWebhookThroughIt) {
  ASSERT_TRUE(WaitForCaBundleCurrent()) << ::testing::PrintToString(CaBundles()) << "\n"
                                        << control_->Log();
  EXPECT_THAT(ControlBundle(), HasSubstr("BEGIN CERTIFICATE"));
  ExpectCreatedInjected("web-0");
}

TEST_F(KubeWebhookTest, ABlankedCaBundleIsRepaired) {
  ASSERT_TRUE(WaitForCaBundleCurrent()) << control_->Log();
  // What a `kubectl apply` of manifests carrying `caBundle: ""` does to the live object.
  KubectlResult blanked = kube_->Kubectl(
      {"patch", "mutatingwebhookconfiguration", "remora-sidecar-injector", "--type=json", "-p",
       R"([{"op":"replace","path":"/webhooks/0/clientConfig/caBundle","value":""},)"
       R"({"op":"remove","path":"/webhooks/1/clientConfig/caBundle"}])"});
  ASSERT_EQ(blanked.exit_code, 0) << blanked.output;
  ASSERT_TRUE(WaitForCaBundleCurrent()) << ::testing::PrintToString(CaBundles()) << "\n"
                                        << control_->Log();
  ExpectCreatedInjected("web-1");
}

TEST_F(KubeWebhookTest, CaBundleFollowsARootRotationAndTheWebhookStaysTrusted) {
  ASSERT_TRUE(WaitForCaBundleCurrent()) << control_->Log();
  const std::string before = ControlBundle();
  // add: the new root joins the bundle (the old one still signs).
  CommandResult add = Remoractl(*control_, {"ca", "rotate", "--step=add", "--wait"});
  ASSERT_EQ(add.exit_code, 0) << add.output;
  // The control plane rewrites its bundle file just after answering.
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return ControlBundle() != before; }));
  const std::string both = ControlBundle();
  ASSERT_TRUE(WaitForCaBundleCurrent()) << control_->Log();
  // switch: the webhook's certificate is reissued from the new root, which caBundle holds.
  CommandResult sw = Remoractl(*control_, {"ca", "rotate", "--step=switch", "--wait"});
  ASSERT_EQ(sw.exit_code, 0) << sw.output;
  ExpectCreatedInjected("web-2");
  // retire: the old root leaves the bundle and caBundle; a webhook still serving a certificate
  // from it would now be refused.
  CommandResult retire = Remoractl(*control_, {"ca", "rotate", "--step=retire", "--wait"});
  ASSERT_EQ(retire.exit_code, 0) << retire.output;
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return ControlBundle() != both; }));
  ASSERT_TRUE(WaitForCaBundleCurrent()) << control_->Log();
  EXPECT_EQ(CaBundles()[0].find("BEGIN CERTIFICATE", 6), std::string::npos);  // one root left
  ExpectCreatedInjected("web-3");
}

// The names are flags: another namespace, Service and configuration name reach the certificate's
// DNS names and the configuration that is kept.
class KubeWebhookNamesTest : public KubeWebhookTest {
 protected:
  void SetUp() override {
    StartKube();
    absl::StatusOr<std::string> webhook = ReadFile(Runfile("examples/kubernetes/30-webhook.yaml"));
    ASSERT_TRUE(webhook.ok()) << webhook.status();
    const std::string renamed =
        absl::StrReplaceAll(*webhook, {{"name: remora-sidecar-injector", "name: mesh-injector"},
                                       {"name: remora-control", "name: injector"},
                                       {"namespace: remora-system", "namespace: mesh"}});
    ASSERT_NE(renamed, *webhook);
    Install(renamed,
            {"--namespace=mesh", "--service-name=injector", "--webhook-config-name=mesh-injector"},
            "injector.mesh.svc:15017", "mesh-injector");
  }
};

TEST_F(KubeWebhookNamesTest, ServesTheNamesOfItsFlagsAndKeepsThatConfiguration) {
  ASSERT_TRUE(WaitForCaBundleCurrent()) << ::testing::PrintToString(CaBundles()) << "\n"
                                        << control_->Log();
  ExpectCreatedInjected("web-0");
}

}  // namespace
}  // namespace remora::testing
