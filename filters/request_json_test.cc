#include "filters/request_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "filters/authz_cases.h"

namespace remora::filters {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(RequestJsonTest, ReadsTheDocumentedShape) {
  absl::StatusOr<RequestAttributes> r = ParseRequestJson(R"({
    "source": {"principal": "spiffe://cluster.local/ns/a/sa/b", "namespace": "a",
               "ip": "10.0.0.5", "remote_ip": "203.0.113.9", "labels": {"app": "x"},
               "namespace_labels": {"team": "y"}},
    "destination": {"namespace": "b", "labels": {"app": "web"}, "namespace_labels": {},
                    "ip": "10.0.1.7", "port": 8080, "port_name": "http", "protocol": "http"},
    "request": {"method": "GET", "path": "/api", "host": "web.b.svc",
                "headers": {"X-Token": "t", "x-multi": ["1", "2"], "X-MULTI": "3"}},
    "connection": {"sni": "web.b.svc"},
    "direction": "inbound"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->direction, Direction::kInbound);
  EXPECT_EQ(r->source.principal, "cluster.local/ns/a/sa/b");
  EXPECT_EQ(r->source.ns, "a");
  EXPECT_EQ(r->source.ip->ToString(), "10.0.0.5");
  EXPECT_EQ(r->source.remote_ip->ToString(), "203.0.113.9");
  EXPECT_THAT(r->source.labels, ElementsAre(Pair("app", "x")));
  EXPECT_THAT(r->source.namespace_labels, ElementsAre(Pair("team", "y")));
  EXPECT_EQ(r->destination.ns, "b");
  EXPECT_EQ(r->destination.ip->ToString(), "10.0.1.7");
  EXPECT_EQ(r->destination.port, 8080);
  EXPECT_EQ(r->destination.port_name, "http");
  EXPECT_EQ(r->destination.protocol, Protocol::kHttp);
  EXPECT_EQ(r->http.method, "GET");
  EXPECT_EQ(r->http.path, "/api");
  EXPECT_EQ(r->http.host, "web.b.svc");
  EXPECT_EQ(r->http.headers.at("x-token"), "t");
  EXPECT_EQ(r->http.headers.at("x-multi").size(), 5u);  // "1,2,3" in document order
  EXPECT_EQ(r->sni, "web.b.svc");
}

TEST(RequestJsonTest, DefaultsProtocolAndDirection) {
  absl::StatusOr<RequestAttributes> tcp =
      ParseRequestJson(R"({"destination": {"namespace": "b"}})");
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_EQ(tcp->direction, Direction::kInbound);
  EXPECT_EQ(tcp->destination.protocol, Protocol::kTcp);
  EXPECT_TRUE(tcp->source.principal.empty());
  EXPECT_FALSE(tcp->source.ip.has_value());
  absl::StatusOr<RequestAttributes> http =
      ParseRequestJson(R"({"destination": {"namespace": "b"}, "request": {"method": "GET"}})");
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->destination.protocol, Protocol::kHttp);
  absl::StatusOr<RequestAttributes> nulls = ParseRequestJson(
      R"({"destination": {"namespace": "b", "port": null}, "source": null, "request": null})");
  ASSERT_TRUE(nulls.ok()) << nulls.status();
  EXPECT_EQ(nulls->destination.port, 0);
}

TEST(RequestJsonTest, AcceptsIstioFormPrincipalAndDerivesOutboundWorkload) {
  absl::StatusOr<RequestAttributes> r = ParseRequestJson(
      R"({"direction": "outbound", "source": {"principal": "cluster.local/ns/a/sa/b"},
          "destination": {"ip": "192.0.2.1", "port": 443}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->direction, Direction::kOutbound);
  EXPECT_EQ(r->source.principal, "cluster.local/ns/a/sa/b");
  EXPECT_EQ(r->source.ns, "a");
}

struct ErrorCase {
  std::string name;
  std::string json;
  std::string fragment;
};
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class RequestJsonErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(RequestJsonErrorTest, RefusesWithFieldPath) {
  absl::StatusOr<RequestAttributes> r = ParseRequestJson(GetParam().json);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(GetParam().fragment));
}

std::vector<ErrorCase> ErrorCases() {
  const std::string dest = R"("destination": {"namespace": "b"})";
  return {
      {"NotJson", "{", "request: not valid JSON: "},
      {"NotAnObject", "[1]", "(request): must be an object, not a list"},
      {"UnknownTopField", "{" + dest + R"(, "src": {}})",
       "src: unknown field (known fields: source, "},
      {"UnknownNestedField", R"({"destination": {"namespace": "b", "prot": "tcp"}})",
       "destination.prot: unknown field"},
      {"SectionNotAnObject", R"({"destination": "b"})",
       "destination: must be an object, not the string \"b\""},
      {"PortAsString", R"({"destination": {"namespace": "b", "port": "80"}})",
       "destination.port: must be an integer from 1 to 65535, not the string \"80\""},
      {"PortZero", R"({"destination": {"namespace": "b", "port": 0}})",
       "destination.port: must be an integer from 1 to 65535, not the number 0"},
      {"PortTooLarge", R"({"destination": {"namespace": "b", "port": 70000}})",
       "not the number 70000"},
      {"PortFloat", R"({"destination": {"namespace": "b", "port": 80.5}})", "not the number 80.5"},
      {"BadIp", R"({"destination": {"namespace": "b", "ip": "10.0.0.300"}})",
       "destination.ip: \"10.0.0.300\" is not an IP address"},
      {"BadSourceIp", "{" + dest + R"(, "source": {"ip": 10}})",
       "source.ip: must be a string, not the number 10"},
      {"BadRemoteIp", "{" + dest + R"(, "source": {"remote_ip": "x"}})",
       "source.remote_ip: \"x\" is not an IP address"},
      {"BadPrincipal", "{" + dest + R"(, "source": {"principal": "spiffe://Cluster/ns/a"}})",
       "source.principal: \"spiffe://Cluster/ns/a\" is not a SPIFFE ID"},
      {"NamespaceDisagreesWithPrincipal",
       "{" + dest + R"(, "source": {"principal": "cluster.local/ns/a/sa/b", "namespace": "c"}})",
       "source.namespace: \"c\" disagrees with the namespace \"a\" of source.principal"},
      {"BadProtocol", R"({"destination": {"namespace": "b", "protocol": "udp"}})",
       "destination.protocol: \"udp\" is not \"http\" or \"tcp\""},
      {"TcpWithHttpFields",
       R"({"destination": {"namespace": "b", "protocol": "tcp"}, "request": {"method": "GET"}})",
       "destination.protocol: is \"tcp\" but the request has HTTP attributes"},
      {"LabelNotAString", R"({"destination": {"namespace": "b", "labels": {"app": 1}}})",
       "destination.labels.app: must be a string, not the number 1"},
      {"LabelsNotAnObject", R"({"destination": {"namespace": "b", "labels": ["a"]}})",
       "destination.labels: must be an object of strings, not a list"},
      {"HeaderWrongType", "{" + dest + R"(, "request": {"headers": {"x": true}}})",
       "request.headers.x: must be a string or a list of strings, not the boolean true"},
      {"HeaderListWrongType", "{" + dest + R"(, "request": {"headers": {"x": ["a", 2]}}})",
       "request.headers.x[1]: must be a string, not the number 2"},
      {"HeadersNotAnObject", "{" + dest + R"(, "request": {"headers": "x"}})",
       "request.headers: must be an object of header: value"},
      {"MethodNotAString", "{" + dest + R"(, "request": {"method": ["GET"]}})",
       "request.method: must be a string, not a list"},
      {"SniNotAString", "{" + dest + R"(, "connection": {"sni": 1}})",
       "connection.sni: must be a string, not the number 1"},
      {"BadDirection", "{" + dest + R"(, "direction": "in"})",
       "direction: \"in\" is not \"inbound\" or \"outbound\""},
      {"InboundWithoutDestinationNamespace", R"({"destination": {"port": 80}})",
       "destination.namespace: is required for an inbound request"},
      {"OutboundWithoutSourceNamespace", R"({"direction": "outbound"})",
       "source.namespace: is required for an outbound request"},
      {"TooDeep", std::string(40, '[') + std::string(40, ']'),
       "request: JSON nested deeper than 32 levels"},
      {"TooLarge", "\"" + std::string(1 << 20, 'a') + "\"", "bytes is over the limit of 1048576"},
      {"NotUtf8",
       R"({"destination": {"namespace": "caf)"
       "\xe9"
       R"("}})",
       "request: not UTF-8 JSON: byte 0xE9 at offset 34 is not valid UTF-8"},
  };
}

INSTANTIATE_TEST_SUITE_P(Fields, RequestJsonErrorTest, ::testing::ValuesIn(ErrorCases()),
                         [](const auto& info) { return info.param.name; });

TEST(AuthzCasesTest, ReadsCasesWithTypedYamlRequests) {
  absl::StatusOr<std::vector<AuthzTestCase>> cases = ParseAuthzTestCases(R"(
cases:
- name: frontend reads
  request:
    source: {principal: cluster.local/ns/shop/sa/frontend}
    destination: {namespace: shop, labels: {app: web}, port: 8080}
    request: {method: GET, path: /api}
  decision: ALLOW
  policy: shop/allow
  rule: 0
- name: plaintext refused
  request: {destination: {namespace: shop, port: 8080, labels: {version: "2"}}}
  decision: DENY
  policy: null
)",
                                                                         "cases.yaml");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[0].name, "frontend reads");
  EXPECT_TRUE((*cases)[0].expect_allow);
  EXPECT_TRUE((*cases)[0].check_policy);
  EXPECT_EQ((*cases)[0].expect_policy, "shop/allow");
  EXPECT_EQ((*cases)[0].expect_rule, 0);
  EXPECT_EQ((*cases)[0].request.destination.port, 8080);
  EXPECT_EQ((*cases)[0].request.destination.protocol, Protocol::kHttp);
  EXPECT_FALSE((*cases)[1].expect_allow);
  EXPECT_TRUE((*cases)[1].check_policy);
  EXPECT_EQ((*cases)[1].expect_policy, "");
  EXPECT_FALSE((*cases)[1].expect_rule.has_value());
  EXPECT_EQ((*cases)[1].request.destination.labels.at("version"), "2");
}

TEST(AuthzCasesTest, RefusesBadCasesWithPaths) {
  struct Case {
    const char* yaml;
    const char* fragment;
  };
  for (const Case& c : std::vector<Case>{
           {"cases: []", "cases.yaml: cases: must be a non-empty list of cases"},
           {"- name: a\n  request: {destination: {namespace: b, port: \"80\"}}\n  decision: ALLOW",
            "cases.yaml: [0].request.destination.port: must be an integer from 1 to 65535, not "
            "the string \"80\""},
           {"cases:\n- name: a\n  request: {destination: {namespace: b}}\n  decision: allow",
            "cases[0].decision: \"allow\" is not ALLOW or DENY"},
           {"cases:\n- name: a\n  decision: ALLOW", "cases[0].request: is required"},
           {"cases:\n- name: a\n  request: {destination: {namespace: b}}\n  decision: DENY\n  "
            "expect: x",
            "cases[0]: unknown field \"expect\""},
           {"cases:\n- {name: a, request: {destination: {namespace: b}}, decision: DENY}\n- {name: "
            "a, request: {destination: {namespace: b}}, decision: DENY}",
            "cases[1].name: \"a\" names two cases"},
           {"a: 1\n---\nb: 2", "expected one YAML document"},
           {"cases:\n- name: caf\xe9",
            "cases.yaml: line 2, column 12: byte 0xE9 is not valid UTF-8"},
       }) {
    absl::StatusOr<std::vector<AuthzTestCase>> cases = ParseAuthzTestCases(c.yaml, "cases.yaml");
    EXPECT_EQ(cases.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(std::string(cases.status().message()), HasSubstr(c.fragment));
  }
}

}  // namespace
}  // namespace remora::filters
