// remora-control serves the sidecar injection webhook over HTTPS with its own certificate (from
// the mesh CA, named remora-control.remora-system.svc), as the example manifests deploy it.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/control_plane_harness.h"
#include "tests/support/net.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;

TEST(WebhookControlTest, ControlPlaneAnswersAdmissionReviewsOverHttps) {
  const std::string dir = TestDir("webhook");
  absl::StatusOr<std::unique_ptr<ControlPlaneProcess>> control =
      ControlPlaneProcess::Start(dir, 0, {"--webhook-listen=127.0.0.1:0"});
  ASSERT_TRUE(control.ok()) << control.status();
  ASSERT_FALSE((*control)->webhook().empty());
  const std::string review =
      ReadFileOrEmpty(Runfile("inject/testdata/reviews/replicaset_pod.json"));
  ASSERT_FALSE(review.empty());
  absl::StatusOr<TlsTestClient> tls = TlsTestClient::Connect(
      (*control)->webhook(), "", "", ReadFileOrEmpty((*control)->ca_bundle()));
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->PeerUri(), "spiffe://cluster.local/ns/remora-system/sa/remora-control");
  ASSERT_TRUE(
      tls->Write(absl::StrCat("POST /inject?timeout=10s HTTP/1.1\r\nHost: remora-control\r\n"
                              "Content-Type: application/json\r\nConnection: close\r\n"
                              "Content-Length: ",
                              review.size(), "\r\n\r\n", review))
          .ok());
  std::string error;
  std::string response = tls->ReadAll(&error);
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("\"allowed\":true"));
  EXPECT_THAT(response, HasSubstr("\"patchType\":\"JSONPatch\""));
}

}  // namespace
}  // namespace remora::testing
