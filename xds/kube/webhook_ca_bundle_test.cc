#include "xds/kube/webhook_ca_bundle.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::xds {
namespace {

using ::testing::HasSubstr;

nlohmann::json Config() {
  return nlohmann::json::parse(R"({
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "remora-sidecar-injector"},
    "webhooks": [
      {"name": "a", "clientConfig": {"service": {"name": "remora-control"}, "caBundle": ""}},
      {"name": "b", "clientConfig": {"service": {"name": "remora-control"}}}
    ]})");
}

TEST(SetWebhookCaBundlesTest, FillsEveryWebhooksCaBundle) {
  nlohmann::json config = Config();
  absl::StatusOr<bool> changed = SetWebhookCaBundles(config, "Q0E=");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(config["webhooks"][0]["clientConfig"]["caBundle"], "Q0E=");
  EXPECT_EQ(config["webhooks"][1]["clientConfig"]["caBundle"], "Q0E=");
  EXPECT_EQ(config["webhooks"][0]["clientConfig"]["service"]["name"], "remora-control");
}

TEST(SetWebhookCaBundlesTest, ReportsNoChangeWhenAlreadyCurrent) {
  nlohmann::json config = Config();
  ASSERT_TRUE(SetWebhookCaBundles(config, "Q0E=").ok());
  const nlohmann::json before = config;
  absl::StatusOr<bool> changed = SetWebhookCaBundles(config, "Q0E=");
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(config, before);
}

TEST(SetWebhookCaBundlesTest, ReplacesAStaleBundleInOneWebhook) {
  nlohmann::json config = Config();
  ASSERT_TRUE(SetWebhookCaBundles(config, "Q0E=").ok());
  config["webhooks"][1]["clientConfig"]["caBundle"] = "b2xk";
  absl::StatusOr<bool> changed = SetWebhookCaBundles(config, "Q0E=");
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(config["webhooks"][1]["clientConfig"]["caBundle"], "Q0E=");
}

TEST(SetWebhookCaBundlesTest, ConfigurationWithoutWebhooksIsLeftAlone) {
  nlohmann::json config = {{"metadata", {{"name", "x"}}}};
  absl::StatusOr<bool> changed = SetWebhookCaBundles(config, "Q0E=");
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
}

TEST(SetWebhookCaBundlesTest, RefusesMalformedWebhooksNamingTheField) {
  nlohmann::json config = {{"webhooks", {{{"name", "a"}, {"clientConfig", "x"}}}}};
  absl::StatusOr<bool> changed = SetWebhookCaBundles(config, "Q0E=");
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(changed.status().message(), HasSubstr("webhooks[0].clientConfig is not an object"));
  nlohmann::json not_list = {{"webhooks", "x"}};
  EXPECT_FALSE(SetWebhookCaBundles(not_list, "Q0E=").ok());
}

}  // namespace
}  // namespace remora::xds
