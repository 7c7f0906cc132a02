// `remoractl install` and `uninstall` against the fake API server (issue 18), checked with the
// real kubectl: what install creates is there, a second install changes nothing and keeps the
// caBundle remora-control filled in, uninstall removes what install and the control plane
// created, leaves the workloads' pods alone, and says so; running it again is harmless.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kube/fake_apiserver_process.h"
#include "tests/support/process.h"

namespace remora::testing {
namespace {

using ::testing::AllOf;
using ::testing::Each;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

struct CtlRun {
  int exit_code = -1;
  std::string out, err;
};

class KubeInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    absl::StatusOr<std::unique_ptr<FakeApiServer>> kube = FakeApiServer::Start();
    ASSERT_TRUE(kube.ok()) << kube.status();
    kube_ = std::move(*kube);
  }

  // `remoractl <args> --kubeconfig=<the fake's>`; stdout and stderr apart.
  CtlRun Remoractl(const std::string& args, bool kubeconfig = true) {
    const std::string stem = absl::StrCat(dir_, "/remoractl-", ++runs_);
    const std::string command =
        absl::StrCat(Runfile("ctl/remoractl"), " ", args,
                     kubeconfig ? absl::StrCat(" --kubeconfig=", kube_->kubeconfig_path()) : "",
                     " >", stem, ".out 2>", stem, ".err");
    absl::StatusOr<Subprocess> p = Subprocess::Start({"/bin/sh", "-c", command}, stem + ".log");
    CtlRun run;
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return run;
    absl::StatusOr<int> code = p->Wait(absl::Seconds(120));
    EXPECT_TRUE(code.ok()) << code.status();
    run.exit_code = code.ok() ? *code : -1;
    run.out = ReadFile(stem + ".out").value_or("");
    run.err = ReadFile(stem + ".err").value_or("");
    return run;
  }

  static std::vector<std::string> Lines(const std::string& text) {
    return absl::StrSplit(text, '\n', absl::SkipEmpty());
  }

  bool Exists(const std::vector<std::string>& what) {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.push_back("-o=name");
    return kube_->Kubectl(args).exit_code == 0;
  }

  std::string dir_;
  int runs_ = 0;
  std::unique_ptr<FakeApiServer> kube_;
};

TEST_F(KubeInstallTest, DryRunPrintsManifestsKubectlApplies) {
  CtlRun dry = Remoractl("install --dry-run --namespace=mesh --tag=1.2.3", false);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("image: remora/remora-control:1.2.3"));
  EXPECT_THAT(dry.out, Not(HasSubstr("remora-system")));
  const std::string file = dir_ + "/install.yaml";
  WriteFileOrDie(file, dry.out);
  KubectlResult applied = kube_->Kubectl({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_TRUE(Exists({"deployment", "remora-control", "-n", "mesh"}));
  EXPECT_TRUE(Exists({"mutatingwebhookconfiguration", "remora-sidecar-injector"}));
}

TEST_F(KubeInstallTest, InstallCreatesEveryObjectAndAgainChangesNothing) {
  CtlRun first = Remoractl("install");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(Lines(first.out), Each(EndsWith(" created")));
  EXPECT_THAT(first.out, HasSubstr("namespace/remora-system created"));
  EXPECT_THAT(first.out, HasSubstr("deployment.apps/remora-control created"));
  EXPECT_TRUE(Exists({"namespace", "remora-system"}));
  EXPECT_TRUE(Exists({"serviceaccount", "remora-control", "-n", "remora-system"}));
  EXPECT_TRUE(Exists({"clusterrolebinding", "remora-control"}));
  EXPECT_TRUE(Exists({"configmap", "remora-injector", "-n", "remora-system"}));
  EXPECT_TRUE(Exists({"deployment", "remora-control", "-n", "remora-system"}));
  EXPECT_TRUE(Exists({"service", "remora-control", "-n", "remora-system"}));
  EXPECT_TRUE(Exists({"mutatingwebhookconfiguration", "remora-sidecar-injector"}));

  // remora-control fills in caBundle; a later install must keep it.
  KubectlResult filled = kube_->Kubectl(
      {"patch", "mutatingwebhookconfiguration", "remora-sidecar-injector", "--type=json", "-p",
       R"([{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":"Q0E="}])"});
  ASSERT_EQ(filled.exit_code, 0) << filled.output;
  CtlRun again = Remoractl("install");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Lines(again.out).size(), Lines(first.out).size());
  EXPECT_THAT(Lines(again.out), Each(EndsWith(" unchanged"))) << again.out;
  KubectlResult bundle =
      kube_->Kubectl({"get", "mutatingwebhookconfiguration", "remora-sidecar-injector", "-o",
                      "jsonpath={.webhooks[0].clientConfig.caBundle}"});
  EXPECT_EQ(bundle.output, "Q0E=");

  // A change made around install is put back, and said.
  KubectlResult edited =
      kube_->Kubectl({"patch", "configmap", "remora-injector", "-n", "remora-system",
                      "--type=merge", "-p", R"({"data":{"settings.yaml":"log_level: debug\n"}})"});
  ASSERT_EQ(edited.exit_code, 0) << edited.output;
  CtlRun repaired = Remoractl("install");
  ASSERT_EQ(repaired.exit_code, 0) << repaired.err;
  EXPECT_THAT(repaired.out, HasSubstr("configmap/remora-injector configured"));
  KubectlResult settings = kube_->Kubectl(
      {"get", "configmap", "remora-injector", "-n", "remora-system", "-o", "jsonpath={.data}"});
  EXPECT_THAT(settings.output, HasSubstr("proxy_image"));
}

TEST_F(KubeInstallTest, UninstallRemovesWhatRemoraCreatedAndLeavesPodsRunning) {
  // A workload from before the install (so no webhook call), in a namespace of its own.
  KubectlResult app = kube_->KubectlApply(R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop}
spec:
  containers: [{name: app, image: web:1}]
)");
  ASSERT_EQ(app.exit_code, 0) << app.output;
  CtlRun installed = Remoractl("install");
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  // What remora-control creates once running: the roots in each mesh namespace, the CA Secret.
  for (const char* ns : {"shop", "default"}) {
    KubectlResult cm = kube_->Kubectl(
        {"create", "configmap", "remora-ca-root-cert", "-n", ns, "--from-literal=root-cert.pem=x"});
    ASSERT_EQ(cm.exit_code, 0) << cm.output;
  }
  KubectlResult secret = kube_->Kubectl(
      {"create", "secret", "generic", "remora-ca", "-n", "remora-system", "--from-literal=k=v"});
  ASSERT_EQ(secret.exit_code, 0) << secret.output;

  CtlRun removed = Remoractl("uninstall");
  ASSERT_EQ(removed.exit_code, 0) << removed.out << removed.err;
  const std::vector<std::string> lines = Lines(removed.out);
  ASSERT_FALSE(lines.empty());
  // The webhook goes first: no pod creation may wait on a control plane being removed.
  EXPECT_EQ(lines[0],
            "mutatingwebhookconfiguration.admissionregistration.k8s.io/remora-sidecar-injector "
            "deleted");
  EXPECT_THAT(removed.out, HasSubstr("configmap/remora-ca-root-cert (namespace shop) deleted"));
  EXPECT_THAT(removed.out, HasSubstr("configmap/remora-ca-root-cert (namespace default) deleted"));
  EXPECT_THAT(removed.out, HasSubstr("secret/remora-ca (namespace remora-system) deleted"));
  EXPECT_THAT(removed.out,
              HasSubstr("clusterrole.rbac.authorization.k8s.io/remora-control deleted"));
  EXPECT_THAT(removed.out, HasSubstr("namespace/remora-system deleted"));
  EXPECT_THAT(removed.out, HasSubstr("pods keep running"));

  EXPECT_FALSE(Exists({"mutatingwebhookconfiguration", "remora-sidecar-injector"}));
  EXPECT_FALSE(Exists({"configmap", "remora-ca-root-cert", "-n", "shop"}));
  EXPECT_FALSE(Exists({"configmap", "remora-ca-root-cert", "-n", "default"}));
  EXPECT_FALSE(Exists({"clusterrole", "remora-control"}));
  EXPECT_FALSE(Exists({"clusterrolebinding", "remora-control"}));
  EXPECT_FALSE(Exists({"namespace", "remora-system"}));
  EXPECT_FALSE(Exists({"secret", "remora-ca", "-n", "remora-system"}));
  // The workload is untouched.
  EXPECT_TRUE(Exists({"pod", "web-0", "-n", "shop"}));
  EXPECT_TRUE(Exists({"namespace", "shop"}));

  CtlRun again = Remoractl("uninstall");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("nothing to remove"));
  EXPECT_THAT(again.out, Not(HasSubstr("deleted")));
}

TEST_F(KubeInstallTest, UninstallNeverDeletesASystemNamespaceItWasInstalledInto) {
  CtlRun installed = Remoractl("install --namespace=default");
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  EXPECT_THAT(installed.out, HasSubstr("namespace/default configured"));  // its label
  CtlRun removed = Remoractl("uninstall --namespace=default");
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_THAT(removed.out, HasSubstr("deployment.apps/remora-control (namespace default) deleted"));
  EXPECT_THAT(removed.out, HasSubstr("namespace/default kept"));
  EXPECT_TRUE(Exists({"namespace", "default"}));
  EXPECT_TRUE(Exists({"service", "kubernetes", "-n", "default"}));
}

TEST_F(KubeInstallTest, AnUnreachableClusterFailsSayingWhat) {
  const std::string kubeconfig = dir_ + "/missing.kubeconfig";
  CtlRun run = Remoractl(absl::StrCat("install --kubeconfig=", kubeconfig), false);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, AllOf(HasSubstr("remoractl: install:"), HasSubstr(kubeconfig)));
}

}  // namespace
}  // namespace remora::testing
