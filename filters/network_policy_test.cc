#include "filters/network_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "filters/engine_test_util.h"

namespace remora::filters {
namespace {

using ::remora::filters::testing::Req;
using ::testing::HasSubstr;

NetworkPolicy Policy() {
  NetworkPolicy p;
  p.meta.ns = "shop";
  p.meta.name = "np";
  return p;
}

TEST(NetworkPolicyTest, PolicyTypesDefaultAsKubernetesDoes) {
  NetworkPolicy p = Policy();
  absl::StatusOr<CompiledNetworkPolicy> c = CompiledNetworkPolicy::Compile(p);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->affects(PolicyType::kIngress));
  EXPECT_FALSE(c->affects(PolicyType::kEgress));

  p.egress.push_back({});  // an egress section makes it an egress policy too
  c = CompiledNetworkPolicy::Compile(p);
  EXPECT_TRUE(c->affects(PolicyType::kIngress));
  EXPECT_TRUE(c->affects(PolicyType::kEgress));

  p.policy_types = {PolicyType::kEgress};  // explicit types win
  c = CompiledNetworkPolicy::Compile(p);
  EXPECT_FALSE(c->affects(PolicyType::kIngress));
  EXPECT_TRUE(c->affects(PolicyType::kEgress));
}

TEST(NetworkPolicyTest, PeerKinds) {
  NetworkPolicy p = Policy();
  NetworkPolicyRule rule;
  NetworkPolicyPeer pods;
  pods.pod_selector = LabelSelector{{{"app", "client"}}, {}};
  NetworkPolicyPeer namespaces;
  namespaces.namespace_selector = LabelSelector{{{"team", "a"}}, {}};
  NetworkPolicyPeer block;
  block.ip_block = IpBlock{"192.0.2.0/24", {"192.0.2.128/25"}};
  rule.peers = {pods, namespaces, block};
  p.ingress = {rule};
  absl::StatusOr<CompiledNetworkPolicy> c = CompiledNetworkPolicy::Compile(p);
  ASSERT_TRUE(c.ok()) << c.status();
  auto matches = [&](const Req& r) { return c->RuleMatches(PolicyType::kIngress, 0, r.Build()); };
  EXPECT_TRUE(matches(Req().SourceNs("shop").SourceLabels({{"app", "client"}})));
  EXPECT_FALSE(matches(Req().SourceNs("other").SourceLabels({{"app", "client"}})));
  EXPECT_TRUE(matches(Req().SourceNs("other").SourceNsLabels({{"team", "a"}})));
  EXPECT_FALSE(matches(Req().SourceNs("other").SourceNsLabels({{"team", "b"}})));
  EXPECT_TRUE(matches(Req().SourceIp("192.0.2.1")));
  EXPECT_FALSE(matches(Req().SourceIp("192.0.2.200")));
  EXPECT_FALSE(matches(Req().SourceIp("2001:db8::1")));
  EXPECT_EQ(c->ExplainMiss(PolicyType::kIngress, 0, Req().SourceIp("198.51.100.1").Build()),
            "from expected [pods app=client in namespace shop | any pod in namespaces team=a | "
            "ipBlock 192.0.2.0/24 except [192.0.2.128/25]] got 198.51.100.1 (not a known pod)");
  EXPECT_EQ(NetworkPolicyRuleName(PolicyType::kEgress, 3), "egress[3]");
}

TEST(NetworkPolicyTest, CompileErrorsNameTheField) {
  NetworkPolicy p = Policy();
  NetworkPolicyRule rule;
  NetworkPolicyPort port;
  port.port = 80;
  port.port_name = "http";
  rule.ports = {port};
  p.egress = {rule};
  absl::StatusOr<CompiledNetworkPolicy> c = CompiledNetworkPolicy::Compile(p);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("spec.egress[0].ports[0].port: is either a number or a name, not both"));

  p = Policy();
  p.pod_selector.match_expressions.push_back({"a", LabelRequirement::Operator::kIn, {}});
  EXPECT_THAT(std::string(CompiledNetworkPolicy::Compile(p).status().message()),
              HasSubstr("spec.podSelector.matchExpressions[0].values: must be non-empty"));
}

}  // namespace
}  // namespace remora::filters
