#include "filters/authz_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "filters/engine_test_util.h"

namespace remora::filters {
namespace {

using ::remora::filters::testing::kBatch;
using ::remora::filters::testing::kFrontend;
using ::remora::filters::testing::Req;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using Attribute = AuthzClause::Attribute;

AuthorizationPolicy Policy(AuthzAction action = AuthzAction::kAllow) {
  AuthorizationPolicy p;
  p.meta.ns = "shop";
  p.meta.name = "p";
  p.action = action;
  return p;
}

AuthzSource FromPrincipals(std::vector<std::string> principals) {
  AuthzSource s;
  s.principals = std::move(principals);
  return s;
}

TEST(AuthzClauseTest, NegationAndAbsentValues) {
  absl::StatusOr<AuthzClause> not_principals =
      AuthzClause::Make(Attribute::kPrincipal, true, "notPrincipals", {"*"});
  ASSERT_TRUE(not_principals.ok());
  EXPECT_TRUE(not_principals->Matches(Req().Build()));  // plaintext has no principal
  EXPECT_FALSE(not_principals->Matches(Req().Principal(kBatch).Build()));

  absl::StatusOr<AuthzClause> ns =
      AuthzClause::Make(Attribute::kSourceNamespace, false, "namespaces", {"shop"});
  EXPECT_TRUE(ns->Matches(Req().Principal(kFrontend).Build()));
  EXPECT_FALSE(ns->Matches(Req().SourceNs("shop").Build()));
  EXPECT_EQ(ns->Describe(Req().Build()),
            "namespaces expected [shop] got (none: the source is not authenticated by mTLS; the "
            "namespace comes from the peer certificate)");

  absl::StatusOr<AuthzClause> header =
      AuthzClause::Make(Attribute::kHeader, false, "h", {"*"}, "X-Empty");
  EXPECT_EQ(header->header_name(), "x-empty");
  EXPECT_TRUE(header->Matches(Req().Http("GET", "/").Header("x-empty", "").Build()));
  EXPECT_TRUE(header->http_only());

  absl::StatusOr<AuthzClause> port =
      AuthzClause::Make(Attribute::kDestinationPort, false, "ports", {"9090", "8080", "0"});
  EXPECT_TRUE(port->Matches(Req().Build()));
  EXPECT_FALSE(port->Matches(Req().Port(8081).Build()));
  EXPECT_FALSE(port->http_only());
}

TEST(AuthzClauseTest, RefusesBadValuesWithIndex) {
  EXPECT_EQ(AuthzClause::Make(Attribute::kSourceIp, false, "ipBlocks", {"10.0.0.0/8", "nope"})
                .status()
                .message(),
            "[1]: \"nope\" is not an IP address");
  EXPECT_EQ(
      AuthzClause::Make(Attribute::kDestinationPort, false, "ports", {"-1"}).status().message(),
      "[0]: \"-1\" is not a port number (0-65535)");
  EXPECT_EQ(AuthzClause::Make(Attribute::kMethod, false, "methods", {""}).status().message(),
            "[0]: empty value not allowed");
}

TEST(CompiledAuthorizationPolicyTest, IndexKeysAreTheIdentitiesEveryFromRequires) {
  AuthorizationPolicy p = Policy();
  AuthzRule exact;
  exact.from = {FromPrincipals({"td/ns/a/sa/x", "td/ns/a/sa/y"}), FromPrincipals({"td/ns/b/sa/z"})};
  AuthzRule prefix;
  prefix.from = {FromPrincipals({"td/ns/a/*"})};
  AuthzRule mixed;
  AuthzSource ips;
  ips.ip_blocks = {"10.0.0.0/8"};
  mixed.from = {FromPrincipals({"td/ns/a/sa/x"}), ips};
  AuthzRule when;
  when.when = {{"source.principal", {"td/ns/c/sa/w"}, {}}};
  AuthzRule loose;
  loose.from = {FromPrincipals({"td/ns/a*"})};
  AuthzRule namespaces;
  AuthzSource ns;
  ns.namespaces = {"b", "a"};
  namespaces.from = {FromPrincipals({"td/ns/a/sa/x"}), ns};
  p.rules = {exact, prefix, mixed, when, loose, namespaces};
  absl::StatusOr<CompiledAuthorizationPolicy> c = CompiledAuthorizationPolicy::Compile(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->rules()[0].required_principals,
              UnorderedElementsAre("td/ns/a/sa/x", "td/ns/a/sa/y", "td/ns/b/sa/z"));
  EXPECT_TRUE(c->rules()[1].required_principals.empty());
  EXPECT_THAT(c->rules()[1].required_namespaces, ElementsAre("a"));  // the prefix pins ns "a"
  EXPECT_TRUE(c->rules()[2].required_principals.empty());
  EXPECT_TRUE(c->rules()[2].required_namespaces.empty());  // ipBlocks do not pin an identity
  EXPECT_THAT(c->rules()[3].required_principals, ElementsAre("td/ns/c/sa/w"));
  EXPECT_TRUE(c->rules()[4].required_namespaces.empty());  // "td/ns/a*" could be "td/ns/ab/..."
  EXPECT_THAT(c->rules()[5].required_namespaces, ElementsAre("a", "b"));
  EXPECT_FALSE(c->has_http_only_rules());
}

TEST(CompiledAuthorizationPolicyTest, ServiceAccountsPinTheirNamespacesForTheIndex) {
  AuthorizationPolicy p = Policy();
  AuthzRule accounts;
  AuthzSource sa;
  sa.service_accounts = {"web", "batch/job"};  // "web" is shop/web: the policy's namespace
  accounts.from = {sa};
  AuthzRule negated;
  AuthzSource not_sa;
  not_sa.not_service_accounts = {"shop/web"};
  negated.from = {not_sa};
  AuthzRule domains;
  AuthzSource td;
  td.trust_domains = {"cluster.local"};
  domains.from = {td};
  p.rules = {accounts, negated, domains};
  absl::StatusOr<CompiledAuthorizationPolicy> c = CompiledAuthorizationPolicy::Compile(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->rules()[0].required_principals.empty());
  EXPECT_THAT(c->rules()[0].required_namespaces, ElementsAre("batch", "shop"));
  EXPECT_TRUE(c->rules()[1].required_namespaces.empty());  // a negation pins nothing
  EXPECT_TRUE(c->rules()[2].required_namespaces.empty());  // nor does a trust domain
  EXPECT_TRUE(c->RuleMatches(0, Req().Principal("cluster.local/ns/shop/sa/web").Build()));
  EXPECT_TRUE(c->RuleMatches(0, Req().Principal("cluster.local/ns/batch/sa/job").Build()));
  EXPECT_FALSE(c->RuleMatches(0, Req().Principal("cluster.local/ns/batch/sa/web").Build()));
}

TEST(AuthzClauseTest, ServiceAccountsFollowIstiosRegexLiterally) {
  // spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)? with <ns> and <sa> taken literally (Istio before
  // CVE-2026-39350's fix let a '.' in them match any character).
  absl::StatusOr<AuthzClause> sa =
      AuthzClause::Make(Attribute::kServiceAccount, false, "serviceAccounts", {"shop/web.v1"});
  ASSERT_TRUE(sa.ok()) << sa.status();
  for (const char* principal : {"td/ns/shop/sa/web.v1", "td/ns/shop/sa/web.v1/extra",
                                "a.b/c/ns/shop/sa/web.v1", "td/ns/shop/x/y/sa/web.v1"}) {
    EXPECT_TRUE(sa->Matches(Req().Principal(principal).Build())) << principal;
  }
  for (const char* principal :
       {"td/ns/shop/sa/webxv1", "td/ns/shop/sa/web.v1-2", "td/ns/shop/xsa/web.v1",
        "td/ns/shopx/sa/web.v1", "td/ns/other/sa/web.v1"}) {
    EXPECT_FALSE(sa->Matches(Req().Principal(principal).Build())) << principal;
  }
}

TEST(CompiledAuthorizationPolicyTest, HttpOnlyFieldsAndHeadersAreListed) {
  AuthorizationPolicy p = Policy(AuthzAction::kDeny);
  AuthzRule rule;
  AuthzOperation op;
  op.methods = {"DELETE"};
  op.not_paths = {"/public/*"};
  op.ports = {"8080"};
  rule.to = {op};
  rule.when = {{"request.headers[X-Admin]", {"true"}, {}}, {"source.ip", {"10.0.0.0/8"}, {}}};
  p.rules = {rule};
  absl::StatusOr<CompiledAuthorizationPolicy> c = CompiledAuthorizationPolicy::Compile(p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->has_http_only_rules());
  EXPECT_THAT(c->rules()[0].http_only_fields,
              ElementsAre("to[0].operation.methods", "to[0].operation.notPaths",
                          "when[0] request.headers[X-Admin]"));
  EXPECT_THAT(c->headers(), ElementsAre("x-admin"));
  // On TCP the DENY rule keeps its port and source.ip constraints.
  EXPECT_TRUE(c->RuleMatches(0, Req().Build()));
  EXPECT_FALSE(c->RuleMatches(0, Req().Port(9090).Build()));
  EXPECT_FALSE(c->RuleMatches(0, Req().SourceIp("192.0.2.1").Build()));
  // On HTTP it needs them all.
  EXPECT_FALSE(c->RuleMatches(0, Req().Http("DELETE", "/x").Build()));
  EXPECT_TRUE(c->RuleMatches(0, Req().Http("DELETE", "/x").Header("x-admin", "true").Build()));
  EXPECT_FALSE(
      c->RuleMatches(0, Req().Http("DELETE", "/public/a").Header("x-admin", "true").Build()));
}

TEST(CompiledAuthorizationPolicyTest, ExplainsTheEmptyRule) {
  AuthorizationPolicy p = Policy();
  p.rules = {AuthzRule{}};
  absl::StatusOr<CompiledAuthorizationPolicy> c = CompiledAuthorizationPolicy::Compile(p);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->RuleMatches(0, Req().Build()));
  EXPECT_EQ(c->ExplainMatch(0, Req().Build()), "the empty rule {} matches every request");
}

TEST(CompiledAuthorizationPolicyTest, CompileErrorsNameTheField) {
  AuthorizationPolicy p = Policy();
  AuthzRule rule;
  rule.from = {AuthzSource{}};
  p.rules = {AuthzRule{}, rule};
  EXPECT_THAT(std::string(CompiledAuthorizationPolicy::Compile(p).status().message()),
              HasSubstr("spec.rules[1].from[0].source: must not be empty"));
  p.rules = {AuthzRule{}};
  p.rules[0].when = {{"source.ip", {}, {}}};
  EXPECT_THAT(std::string(CompiledAuthorizationPolicy::Compile(p).status().message()),
              HasSubstr("spec.rules[0].when[0]: at least one of values or notValues must be set"));
  p.rules[0].when = {{"", {"a"}, {}}};
  EXPECT_THAT(std::string(CompiledAuthorizationPolicy::Compile(p).status().message()),
              HasSubstr("spec.rules[0].when[0].key: must not be empty"));
  p.rules[0].when = {};
  p.selector = {{"app", "we b"}};
  EXPECT_THAT(std::string(CompiledAuthorizationPolicy::Compile(p).status().message()),
              HasSubstr("spec.selector.matchLabels.app: label value \"we b\""));
}

}  // namespace
}  // namespace remora::filters
