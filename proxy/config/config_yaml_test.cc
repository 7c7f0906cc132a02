#include "proxy/config/config_yaml.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/endpoint.h"

namespace remora::proxy {
namespace {

using ::testing::HasSubstr;

constexpr char kIdentity[] = "identity: {cert_file: c.pem, key_file: k.pem, bundle_file: b.pem}\n";

absl::StatusOr<ProxyConfig> Parse(const std::string& rest) {
  return ParseProxyConfigYaml(std::string(kIdentity) + rest);
}

TEST(ConfigYamlTest, MinimalConfigGetsSafeDefaults) {
  absl::StatusOr<ProxyConfig> c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trust_domain, "cluster.local");
  ASSERT_EQ(c->listeners.size(), 3u);
  EXPECT_EQ(net::ToString(c->listeners[0].address), "[::]:15006");
  EXPECT_EQ(net::ToString(c->listeners[2].address), "[::1]:15001");
  EXPECT_TRUE(c->listeners[2].optional);
  EXPECT_TRUE(c->listeners[0].inbound);
  EXPECT_EQ(net::ToString(c->listeners[1].address), "127.0.0.1:15001");
  EXPECT_EQ(net::ToString(*c->admin), "127.0.0.1:15000");
  EXPECT_EQ(net::ToString(*c->prometheus), "0.0.0.0:15090");
  EXPECT_EQ(net::ToString(*c->health), "0.0.0.0:15021");
  EXPECT_EQ(c->default_mode, PeerAuthMode::kStrict);
  EXPECT_EQ(c->unknown_destinations, UnknownDestinationPolicy::kPassthrough);
  EXPECT_EQ(c->limits.max_connections, 20000);
  // Each direction gets half of the overall limit: inbound cannot starve outbound (issue 16).
  EXPECT_EQ(c->limits.max_inbound_connections, 10000);
  EXPECT_EQ(c->limits.max_outbound_connections, 10000);
  EXPECT_EQ(c->limits.max_handshakes_per_source, 1250);  // an eighth of the inbound limit
  EXPECT_EQ(c->inbound_forward, InboundForward::kOriginalDestination);
  EXPECT_EQ(c->limits.idle_timeout, absl::Hours(1));
  EXPECT_EQ(c->limits.request_head_timeout, absl::Seconds(10));
  EXPECT_EQ(c->PortSettings(8080).mode, PeerAuthMode::kStrict);
}

TEST(ConfigYamlTest, ParsesEverySection) {
  absl::StatusOr<ProxyConfig> c = Parse(R"(
trust_domain: example.org
log_level: debug
listeners:
  - {name: in, direction: inbound, address: "127.0.0.1:0", target: "127.0.0.1:8080"}
admin: "off"
inbound:
  mode: PERMISSIVE
  ports:
    - {port: 8080, mode: STRICT, protocol: http}
    - {port: 9000}
outbound:
  unknown_destinations: deny
  services:
    - {name: web, addresses: ["10.0.0.1:80", "[fd00::1]:80"], identities: ["spiffe://example.org/ns/a/sa/web"], protocol: http, sni: web.a}
limits: {workers: 4, max_connections: 10, idle_timeout: 30s, drain_timeout: 0s,
         request_head_timeout: 250ms}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trust_domain, "example.org");
  ASSERT_EQ(c->listeners.size(), 1u);
  EXPECT_EQ(net::ToString(*c->listeners[0].target), "127.0.0.1:8080");
  EXPECT_FALSE(c->admin.has_value());
  EXPECT_EQ(c->PortSettings(8080).mode, PeerAuthMode::kStrict);
  EXPECT_EQ(c->PortSettings(8080).protocol, AppProtocol::kHttp);
  EXPECT_EQ(c->PortSettings(9000).mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(c->PortSettings(1).mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(c->unknown_destinations, UnknownDestinationPolicy::kDeny);
  ASSERT_EQ(c->services.size(), 1u);
  EXPECT_EQ(c->services[0].addresses.size(), 2u);
  EXPECT_EQ(c->services[0].sni, "web.a");
  EXPECT_EQ(c->limits.workers, 4);
  EXPECT_EQ(c->limits.drain_timeout, absl::ZeroDuration());
  EXPECT_EQ(c->limits.request_head_timeout, absl::Milliseconds(250));
}

TEST(ConfigYamlTest, ParsesTheConnectionLimitsAndTheLocalhostOptIn) {
  absl::StatusOr<ProxyConfig> c = Parse(std::string(kIdentity) + R"(
inbound: {forward_to: localhost}
limits: {max_connections: 100, max_inbound_connections: 80, max_handshakes_per_source: 5}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->inbound_forward, InboundForward::kLocalhost);
  EXPECT_EQ(c->limits.max_inbound_connections, 80);
  EXPECT_EQ(c->limits.max_outbound_connections, 50);
  EXPECT_EQ(c->limits.max_handshakes_per_source, 5);
  EXPECT_EQ(DirectionLimit(Limits{}, /*inbound=*/true), 10000);  // unset outside the parser
  EXPECT_EQ(HandshakesPerSourceLimit(Limits{}), 1250);
}

struct BadCase {
  std::string yaml;
  std::string message;
};

class ConfigYamlRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigYamlRejects, WithFieldPath) {
  absl::StatusOr<ProxyConfig> c = ParseProxyConfigYaml(GetParam().yaml);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ConfigYamlRejects,
    ::testing::Values(
        BadCase{"identity: {cert_file: a, key_file: b}\n", "identity.bundle_file: is required"},
        BadCase{std::string(kIdentity) + "typo: 1\n", "unknown field \"typo\""},
        BadCase{std::string(kIdentity) + "limits: {workrs: 2}\n",
                "limits: unknown field \"workrs\""},
        BadCase{std::string(kIdentity) + "trust_domain: Bad.Domain\n",
                "trust_domain: trust domain"},
        BadCase{
            std::string(kIdentity) + "listeners: [{direction: sideways, address: \"1.2.3.4:1\"}]\n",
            "listeners[0].direction: \"sideways\" is not inbound or outbound"},
        BadCase{std::string(kIdentity) +
                    "listeners: [{direction: inbound, address: \"localhost:80\"}]\n",
                "listeners[0].address: \"localhost:80\" is not an ip:port endpoint: host must be "
                "an IP"},
        BadCase{std::string(kIdentity) +
                    "listeners: [{direction: inbound, address: \"1.2.3.4:1\"}, {direction: "
                    "inbound, address: \"1.2.3.4:2\"}]\n",
                "listener name \"inbound\" is used twice"},
        BadCase{std::string(kIdentity) + "inbound: {mode: strict}\n",
                "inbound.mode: \"strict\" is not STRICT, PERMISSIVE or DISABLE"},
        BadCase{std::string(kIdentity) + "inbound: {ports: [{port: 70000}]}\n",
                "inbound.ports[0].port: 70000 is out of range [1, 65535]"},
        BadCase{std::string(kIdentity) + "inbound: {ports: [{port: 80}, {port: 80}]}\n",
                "port 80 is listed twice"},
        BadCase{std::string(kIdentity) + "inbound: {ports: [{port: 80, protocol: grpc}]}\n",
                "\"grpc\" is not tcp or http"},
        BadCase{std::string(kIdentity) + "outbound: {unknown_destinations: allow}\n",
                "\"allow\" is not passthrough or deny"},
        BadCase{std::string(kIdentity) + "outbound: {services: [{name: a, addresses: []}]}\n",
                "outbound.services[0].addresses: must list at least one ip:port"},
        BadCase{std::string(kIdentity) +
                    "outbound: {services: [{name: a, addresses: [\"1.2.3.4:80\"]}]}\n",
                "outbound.services[0].identities: must list the SPIFFE identities"},
        BadCase{std::string(kIdentity) +
                    "outbound: {services: [{name: a, addresses: [\"1.2.3.4:80\"], identities: "
                    "[\"spiffe://other.org/ns/a/sa/b\"]}]}\n",
                "outbound.services[0].identities[0]: identity is in trust domain \"other.org\""},
        BadCase{std::string(kIdentity) + "limits: {idle_timeout: forever}\n",
                "limits.idle_timeout: \"forever\" is not a duration"},
        BadCase{std::string(kIdentity) + "limits: {connect_timeout: 0s}\n",
                "limits.connect_timeout: must be greater than zero"},
        BadCase{std::string(kIdentity) + "limits: {request_head_timeout: 0s}\n",
                "limits.request_head_timeout: must be greater than zero"},
        BadCase{std::string(kIdentity) + "limits: {workers: 0}\n",
                "limits.workers: 0 is out of range [1, 256]"},
        BadCase{std::string(kIdentity) + "log_level: loud\n", "log_level: must be debug"},
        BadCase{std::string(kIdentity) + "inbound: {forward_to: pod_ip}\n",
                "inbound.forward_to: \"pod_ip\" is not original_destination or localhost"},
        BadCase{std::string(kIdentity) +
                    "limits: {max_connections: 10, max_outbound_connections: 11}\n",
                "limits.max_outbound_connections: must not exceed max_connections (10)"},
        BadCase{std::string(kIdentity) + "limits: {max_handshakes_per_source: 0}\n",
                "limits.max_handshakes_per_source: 0 is out of range"},
        BadCase{"- a\n- b\n", "the configuration must be a YAML map"},
        BadCase{"a: [\n", "YAML syntax error at line"},
        BadCase{std::string(kIdentity) + "---\n" + kIdentity,
                "expected exactly one YAML document"}));

}  // namespace
}  // namespace remora::proxy
