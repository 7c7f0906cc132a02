#include "inject/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace remora::inject {
namespace {

using ::testing::HasSubstr;

TEST(SettingsTest, EmptyFileKeepsTheDefaults) {
  absl::StatusOr<InjectorSettings> s = ParseSettingsYaml("# nothing here\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->control_plane_address, "remora-control.remora-system.svc:15012");
  EXPECT_EQ(s->trust_domain, "cluster.local");
  EXPECT_TRUE(s->native_sidecar);
  EXPECT_EQ(s->proxy_resources.memory_limit, "1Gi");
  EXPECT_EQ(s->proxy_ready_timeout, absl::Seconds(60));
}

TEST(SettingsTest, EveryFieldIsRead) {
  absl::StatusOr<InjectorSettings> s = ParseSettingsYaml(R"(
proxy_image: registry.example/remora-proxy:1.0
init_image: registry.example/remora-init:1.0
image_pull_policy: IfNotPresent
control_plane_address: "[fd00::10]:15012"
trust_domain: prod.example
log_level: warn
native_sidecar: false
forward_inbound_to_localhost: true
proxy_ready_timeout: 2m
proxy_resources:
  requests: {cpu: 200m, memory: 256Mi}
  limits: {memory: 512Mi}
init_resources:
  requests: {cpu: 5m}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->proxy_image, "registry.example/remora-proxy:1.0");
  EXPECT_EQ(s->init_image, "registry.example/remora-init:1.0");
  EXPECT_EQ(s->image_pull_policy, "IfNotPresent");
  EXPECT_EQ(s->control_plane_address, "[fd00::10]:15012");
  EXPECT_EQ(s->trust_domain, "prod.example");
  EXPECT_EQ(s->log_level, "warn");
  EXPECT_FALSE(s->native_sidecar);
  EXPECT_TRUE(s->forward_inbound_to_localhost);
  EXPECT_EQ(s->proxy_ready_timeout, absl::Minutes(2));
  EXPECT_EQ(s->proxy_resources.cpu_request, "200m");
  EXPECT_EQ(s->proxy_resources.memory_request, "256Mi");
  EXPECT_EQ(s->proxy_resources.cpu_limit, "");  // a block replaces the defaults as a whole
  EXPECT_EQ(s->proxy_resources.memory_limit, "512Mi");
  EXPECT_EQ(s->init_resources.cpu_request, "5m");
  EXPECT_EQ(s->init_resources.memory_limit, "");
}

TEST(SettingsTest, MistakesNameTheField) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  for (const Case& c : {
           Case{"proxy_imag: x\n", "unknown field \"proxy_imag\""},
           Case{"proxy_image: \"\"\n", "proxy_image: must name a container image"},
           Case{"init_image: a b\n", "init_image: \"a b\" is not an image reference"},
           Case{"image_pull_policy: Sometimes\n", "image_pull_policy: \"Sometimes\" is not Always"},
           Case{"control_plane_address: remora-control\n",
                "control_plane_address: \"remora-control\" is not host:port"},
           Case{"control_plane_address: cp:0\n", "has no valid port"},
           Case{"trust_domain: Bad_Domain!\n", "trust_domain: "},
           Case{"log_level: loud\n", "log_level: \"loud\" is not debug, info, warn or error"},
           Case{"native_sidecar: maybe\n", "native_sidecar: \"maybe\" is not true or false"},
           Case{"proxy_ready_timeout: 1500ms\n", "proxy_ready_timeout: must be a whole number"},
           Case{"proxy_resources: {requests: {cpu: lots}}\n",
                "proxy_resources.requests.cpu: \"lots\" is not a Kubernetes quantity"},
           Case{"proxy_resources: {requests: {gpu: 1}}\n", "unknown field \"gpu\""},
           Case{"proxy_resources: {requests: {cpu: \"2\"}, limits: {cpu: 1}}\n",
                "proxy_resources.requests.cpu: the CPU request 2 is more than the CPU limit 1 "
                "(proxy_resources.limits.cpu)"},
           Case{"- a\n- b\n", "the document must be a map"},
           Case{"a: 1\n---\nb: 2\n", "expected one YAML document"},
           Case{"proxy_image: [\n", "YAML syntax error"},
       }) {
    absl::StatusOr<InjectorSettings> s = ParseSettingsYaml(c.yaml);
    ASSERT_FALSE(s.ok()) << c.yaml;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(s.status().message(), HasSubstr(c.message)) << c.yaml;
  }
}

TEST(SettingsTest, MissingFileIsNamed) {
  absl::StatusOr<InjectorSettings> s = LoadSettingsFile("/nonexistent/remora-settings.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("/nonexistent/remora-settings.yaml"));
}

}  // namespace
}  // namespace remora::inject
