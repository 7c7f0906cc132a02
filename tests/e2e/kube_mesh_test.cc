// The end-to-end mesh of mesh_test in Kubernetes mode (issue 18): pods in network namespaces that
// are created with `kubectl apply`, injected by remora-control's webhook (called by the fake API
// server as kube-apiserver calls it), started as the injected container specs say, with
// certificates from a TokenReview of their projected tokens; policy changes with kubectl.
// See kube_mesh.h for who plays which part of a cluster, and README.md.
#include "tests/e2e/kube_mesh.h"

#include <cstdlib>
#include <iostream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/shop_manifests.h"
#include "tests/support/process.h"

namespace remora::e2e {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kPolicyWait = absl::Seconds(60);

PodSpec Spec(const std::string& name) {
  PodSpec spec;
  spec.name = name;
  return spec;
}

class KubeMeshTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!iptables_init::testing::IsRoot()) return;
    setup_ = new absl::Status(StartMesh());
  }

  static absl::Status StartMesh() {
    absl::StatusOr<Binaries> binaries = Binaries::FromRunfiles();
    if (!binaries.ok()) return binaries.status();
    MeshOptions options;
    options.tag = "rmkube";
    options.binaries = *binaries;
    if (const char* out = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR"); out != nullptr) {
      options.save_logs_to = out;
    }
    absl::StatusOr<std::unique_ptr<KubeMesh>> kube = KubeMesh::Start(std::move(options));
    if (!kube.ok()) return kube.status();
    kube_ = kube->release();
    PodSpec web = Spec("web");
    web.http_body = "hello from web\n";
    web.tcp_echo = true;
    absl::StatusOr<Pod*> added = kube_->AddPod(web);
    if (!added.ok()) return added.status();
    if (absl::StatusOr<std::string> s = kube_->Apply("web-service", kKubeWebService); !s.ok()) {
      return s.status();
    }
    if (absl::Status s = kube_->PublishEndpoints("web", {*added}); !s.ok()) return s;
    for (const char* name : {"frontend", "batch"}) {
      if (absl::StatusOr<Pod*> pod = kube_->AddPod(Spec(name)); !pod.ok()) return pod.status();
    }
    return kube_->mesh().WaitForSync(absl::Seconds(60));
  }

  static void TearDownTestSuite() {
    delete kube_;
    kube_ = nullptr;
    delete setup_;
    setup_ = nullptr;
  }

  void SetUp() override {
    if (!iptables_init::testing::IsRoot()) {
      GTEST_SKIP() << "needs root: it creates network namespaces, a bridge and capture rules";
    }
    ASSERT_TRUE(setup_ != nullptr && setup_->ok())
        << "the mesh did not start: " << (setup_ ? *setup_ : absl::UnknownError("?"))
        << (kube_ ? "\n" + kube_->LogTails(30) : "");
  }

  void TearDown() override {
    if (HasFailure() && kube_ != nullptr) std::cerr << kube_->LogTails(30);
  }

  static Pod& pod(absl::string_view name) { return *kube_->mesh().pod(name); }
  static std::string WebUrl() {
    return absl::StrCat("http://", pod("web").ip(), ":", kHttpPort, "/");
  }
  static int Status(absl::string_view from) {
    absl::StatusOr<HttpReply> reply = pod(from).HttpGet(WebUrl());
    return reply.ok() ? reply->status : -1;
  }
  // What came back of a line sent to web's TCP echo: the line, or "" when the connection closed.
  static std::string Echo(absl::string_view from, const std::string& line) {
    return pod(from).TcpExchange(pod("web").ip(), kEchoPort, line).out;
  }
  static bool Eventually(const std::function<bool()>& condition) {
    return testing::WaitFor(kPolicyWait, condition);
  }

  static KubeMesh* kube_;
  static absl::Status* setup_;
};

KubeMesh* KubeMeshTest::kube_ = nullptr;
absl::Status* KubeMeshTest::setup_ = nullptr;

TEST_F(KubeMeshTest, KubectlCreatedPodsAreInjectedAndGetCertificatesByTokenReview) {
  for (const char* name : {"web", "frontend", "batch"}) {
    SCOPED_TRACE(name);
    const nlohmann::json& stored = kube_->admitted(pod(name));
    ASSERT_TRUE(stored.is_object());
    EXPECT_THAT(stored["metadata"]["annotations"].dump(), HasSubstr("sidecar.remora.io/status"));
    EXPECT_THAT(stored["spec"]["initContainers"].dump(), HasSubstr("\"name\":\"remora-proxy\""));
    EXPECT_THAT(stored["spec"]["initContainers"].dump(), HasSubstr("\"name\":\"remora-init\""));
    EXPECT_THAT(kube_->mesh().control_log(),
                HasSubstr(absl::StrCat("TokenReview of pod shop/", name)));
  }
  // The token the proxy presented was the kubelet's (TokenRequest), reviewed by the API server.
  absl::StatusOr<nlohmann::json> counters = kube_->api_server().Counters();
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_GE((*counters)["token_reviews_authenticated"].get<int>(), 3) << counters->dump();
  // A call across the mesh, as mesh_test's, with mutual TLS between the two proxies.
  const int64_t handshakes = pod("web").ListenerStat("tls_handshake_ok", "inbound");
  absl::StatusOr<HttpReply> reply = pod("frontend").HttpGet(WebUrl());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello from web\n");
  EXPECT_EQ(pod("web").ListenerStat("tls_handshake_ok", "inbound"), handshakes + 1);
}

TEST_F(KubeMeshTest, AKubectlAppliedAuthorizationPolicyAnswers403AndKubectlDeleteLiftsIt) {
  ASSERT_EQ(Status("batch"), 200);
  ASSERT_TRUE(kube_->Apply("allow-frontend", kAllowFrontend).ok());
  int batch = 0;
  EXPECT_TRUE(Eventually([&] { return (batch = Status("batch")) == 403; }))
      << "batch got " << batch << "\n"
      << kube_->LogTails();
  EXPECT_EQ(Status("frontend"), 200);
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(pod("web").proxy_log(), pod("batch").identity());
  })) << pod("web").proxy_log();

  ASSERT_TRUE(kube_->Delete("allow-frontend").ok());
  EXPECT_TRUE(Eventually([&] { return (batch = Status("batch")) == 200; })) << batch;
}

TEST_F(KubeMeshTest, AKubectlAppliedNetworkPolicyRefusesConnectionsAndKubectlDeleteLiftsIt) {
  ASSERT_EQ(Echo("batch", "before"), "before\n");
  ASSERT_TRUE(kube_->Apply("ingress-from-frontend", kIngressFromFrontend).ok());
  // Until web's proxy has the policy and refuses a new connection from batch (a connection
  // accepted before it arrived is closed too, with "policy changed").
  const std::string refused = "refused connection from=" + pod("batch").ip();
  std::string got;
  EXPECT_TRUE(Eventually([&] {
    got = Echo("batch", "during");
    return got.empty() && absl::StrContains(pod("web").proxy_log(), refused);
  })) << "batch's line: "
      << got << "\n"
      << kube_->LogTails();
  EXPECT_EQ(Echo("batch", "again"), "");
  EXPECT_EQ(Echo("frontend", "allowed"), "allowed\n");

  ASSERT_TRUE(kube_->Delete("ingress-from-frontend").ok());
  EXPECT_TRUE(Eventually([&] { return (got = Echo("batch", "after")) == "after\n"; })) << got;
}

TEST_F(KubeMeshTest, TheRootConfigMapAppearsInThePodsNamespace) {
  std::string pem;
  EXPECT_TRUE(Eventually([&] {
    CommandResult got = kube_->Kubectl({"get", "configmap", "remora-ca-root-cert", "-n", "shop",
                                        "-o", "jsonpath={.data.root-cert\\.pem}"});
    pem = got.out;
    return got.ok() && absl::StrContains(pem, "BEGIN CERTIFICATE");
  })) << pem;
  EXPECT_EQ(pem, testing::ReadFileOrEmpty(kube_->mesh().state_dir() + "/ca-bundle.pem"));
}

// The harness's kubelet expands the injected env as Kubernetes does (the proxy's configuration
// names $(POD_NAME), $(POD_IP)... declared before it).
TEST(ExpandKubernetesVarsTest, ReplacesEarlierVariablesOnlyAndUnescapesDollars) {
  const std::vector<std::pair<std::string, std::string>> vars = {{"POD_IP", "10.0.0.2"},
                                                                 {"POD_NAME", "web"}};
  EXPECT_EQ(ExpandKubernetesVars("ip: $(POD_IP), name: $(POD_NAME)", vars),
            "ip: 10.0.0.2, name: web");
  EXPECT_EQ(ExpandKubernetesVars("$(LATER) $$(POD_IP) $$HOME $", vars),
            "$(LATER) $(POD_IP) $HOME $");
}

}  // namespace
}  // namespace remora::e2e
