// The C++ harness of the fake API server: starts it, reaches it with kubectl and over TLS with
// the CA it wrote, drives the admin hooks, and leaves no process behind.
#include "tests/kube/fake_apiserver_process.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"

namespace remora::testing {
namespace {

constexpr char kPolicy[] = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress-from-frontend, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
)";

TEST(FakeApiServerProcessTest, ServesKubectlThroughItsKubeconfig) {
  auto server = FakeApiServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  KubectlResult applied = (*server)->KubectlApply(kPolicy);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_NE(applied.output.find("networkpolicy.networking.k8s.io/web-ingress-from-frontend "
                                "created"),
            std::string::npos)
      << applied.output;
  KubectlResult got = (*server)->Kubectl({"get", "netpol", "-o", "name"});
  EXPECT_EQ(got.output, "networkpolicy.networking.k8s.io/web-ingress-from-frontend\n");
  auto counters = (*server)->Counters();
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_EQ((*counters)["requests"]["create networkpolicies"], 1) << counters->dump();
}

TEST(FakeApiServerProcessTest, AnswersTlsClientsThatTrustItsCa) {
  auto server = FakeApiServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto tls = TlsTestClient::Connect(absl::StrCat("127.0.0.1:", (*server)->port()), "", "",
                                    ReadFileOrEmpty((*server)->ca_file()));
  ASSERT_TRUE(tls.ok()) << tls.status();
  ASSERT_TRUE(tls->Write(absl::StrCat("GET /api/v1/namespaces/default HTTP/1.1\r\nHost: x\r\n"
                                      "Authorization: Bearer ",
                                      (*server)->admin_token(), "\r\nConnection: close\r\n\r\n"))
                  .ok());
  std::string error;
  const std::string response = tls->ReadAll(&error);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response << error;
  EXPECT_NE(response.find(R"("kind":"Namespace")"), std::string::npos) << response;
}

TEST(FakeApiServerProcessTest, HooksInjectFaultsAndTheServerComesBackWithItsState) {
  auto server = FakeApiServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->InjectFault(500, 1, "/api/v1/namespaces").ok());
  KubectlResult failed = (*server)->Kubectl({"get", "ns", "default"});
  EXPECT_NE(failed.exit_code, 0);
  ASSERT_TRUE((*server)->Down().ok());
  EXPECT_FALSE(Conn::Dial(absl::StrCat("127.0.0.1:", (*server)->port())).ok());
  ASSERT_TRUE((*server)->Up().ok());
  KubectlResult ok = (*server)->Kubectl({"get", "ns", "default", "-o", "name"});
  EXPECT_EQ(ok.output, "namespace/default\n");
  auto rv = (*server)->ExpireHistory();
  ASSERT_TRUE(rv.ok()) << rv.status();
  EXPECT_FALSE(rv->empty());
  EXPECT_TRUE((*server)->DropWatches().ok());
  EXPECT_TRUE((*server)->SetBookmarkInterval(absl::Milliseconds(200)).ok());
  EXPECT_TRUE((*server)->ClearFaults().ok());
}

TEST(FakeApiServerProcessTest, StopsCleanlyOnSigterm) {
  auto server = FakeApiServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto status = (*server)->Stop();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0) << (*server)->process().Log();
}

}  // namespace
}  // namespace remora::testing
