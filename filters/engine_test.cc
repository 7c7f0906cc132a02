// Table-driven semantics of the decision engine, one case per documented rule (Istio's
// AuthorizationPolicy and PeerAuthentication reference, Kubernetes' NetworkPolicy concepts page),
// with the combinations that surprise people.
#include "filters/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "filters/engine_test_util.h"

namespace remora::filters {
namespace {

using ::remora::filters::testing::EngineFrom;
using ::remora::filters::testing::kBatch;
using ::remora::filters::testing::kFrontend;
using ::remora::filters::testing::Req;
using ::testing::Contains;
using ::testing::HasSubstr;

struct Case {
  std::string name;
  std::string policies;
  Req request;
  bool allow;
  std::string policy = "";  // the deciding policy, "" for none
  int rule = -1;
  Layer layer = Layer::kNone;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class DecisionTest : public ::testing::TestWithParam<Case> {};

TEST_P(DecisionTest, Decides) {
  const Case& c = GetParam();
  std::shared_ptr<const PolicyEngine> engine = EngineFrom(c.policies);
  ASSERT_NE(engine, nullptr);
  const RequestAttributes request = c.request.Build();
  Evaluation e = engine->Evaluate(request);
  const std::string why = absl::StrJoin(e.workload->Explain(request, e.decision), "\n");
  EXPECT_EQ(e.decision.allowed(), c.allow) << DescribeOutcome(e.decision.final) << "\n" << why;
  EXPECT_EQ(e.decision.final.policy, c.policy) << DescribeOutcome(e.decision.final);
  EXPECT_EQ(e.decision.final.rule, c.rule) << DescribeOutcome(e.decision.final);
  EXPECT_EQ(e.decision.final.layer, c.layer) << DescribeOutcome(e.decision.final);
  // The per-workload path the proxy takes gives the same answer.
  const bool inbound = request.direction == Direction::kInbound;
  Decision again = engine
                       ->ForWorkload(inbound ? request.destination.ns : request.source.ns,
                                     inbound ? request.destination.labels : request.source.labels)
                       ->Evaluate(request);
  EXPECT_EQ(again.allowed(), c.allow);
  EXPECT_EQ(again.final.policy, c.policy);
}

std::string Doc(const std::string& kind, const std::string& ns, const std::string& name,
                const std::string& spec, const std::string& annotations = "") {
  const std::string api = kind == "NetworkPolicy" ? "networking.k8s.io/v1" : "security.istio.io/v1";
  return absl::StrCat("---\napiVersion: ", api, "\nkind: ", kind, "\nmetadata:\n  name: ", name,
                      "\n  namespace: ", ns, "\n", annotations, "spec:\n", spec, "\n");
}
std::string Ap(const std::string& ns, const std::string& name, const std::string& spec,
               const std::string& annotations = "") {
  return Doc("AuthorizationPolicy", ns, name, spec, annotations);
}
std::string Np(const std::string& ns, const std::string& name, const std::string& spec,
               const std::string& annotations = "") {
  return Doc("NetworkPolicy", ns, name, spec, annotations);
}
std::string Pa(const std::string& ns, const std::string& name, const std::string& spec) {
  return Doc("PeerAuthentication", ns, name, spec);
}
const char kDryRun[] = "  annotations:\n    remora.io/dry-run: \"true\"\n";

const std::string kAllowFrontend = Ap("shop", "allow-frontend", R"(  selector:
    matchLabels: {app: web}
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"])");
const std::string kDenyBatchNs = Ap("shop", "deny-batch", R"(  action: DENY
  rules:
  - from:
    - source:
        namespaces: ["batch"])");

constexpr Layer kAp = Layer::kAuthorizationPolicy;
constexpr Layer kNp = Layer::kNetworkPolicy;
constexpr Layer kPa = Layer::kPeerAuthentication;

std::vector<Case> AuthorizationPolicyCases() {
  return {
      {"NoPolicyAllows", "", Req().Principal(kBatch), true},
      {"AllowRuleMatches", kAllowFrontend, Req().Principal(kFrontend), true, "shop/allow-frontend",
       0, kAp},
      {"AllowPolicyWithoutMatchDenies", kAllowFrontend, Req().Principal(kBatch), false, "", -1,
       kAp},
      {"SelectorNotMatchingDoesNotApply", kAllowFrontend,
       Req().Principal(kBatch).DestLabels({{"app", "api"}}), true},
      {"NamespaceWidePolicyOfAnotherNamespaceDoesNotApply", Ap("batch", "allow-nothing", "  {}"),
       Req().Principal(kBatch), true},
      {"EmptySpecAllowsNothing", Ap("shop", "allow-nothing", "  {}"), Req().Principal(kFrontend),
       false, "", -1, kAp},
      {"EmptyRuleListAllowsNothing", Ap("shop", "allow-nothing", "  rules: []"),
       Req().Principal(kFrontend), false, "", -1, kAp},
      {"EmptyRuleAllowsEverything", Ap("shop", "allow-all", "  rules:\n  - {}"),
       Req().SourceIp("192.0.2.1"), true, "shop/allow-all", 0, kAp},
      {"DenyEmptyRuleDeniesEverything", Ap("shop", "deny-all", "  action: DENY\n  rules:\n  - {}"),
       Req().Principal(kFrontend), false, "shop/deny-all", 0, kAp},
      {"DenyBeatsAllow", kAllowFrontend + Ap("shop", "deny-frontend", R"(  action: DENY
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"])"),
       Req().Principal(kFrontend), false, "shop/deny-frontend", 0, kAp},
      {"DenyNotMatchingWithoutAllowPoliciesAllows", kDenyBatchNs, Req().Principal(kFrontend), true,
       "", -1, kAp},
      {"DenyMatchesNamespaceFromCertificate", kDenyBatchNs, Req().Principal(kBatch), false,
       "shop/deny-batch", 0, kAp},
      {"AuditAloneAllows", Ap("shop", "audit-all", "  action: AUDIT\n  rules:\n  - {}"),
       Req().Principal(kBatch), true, "", -1, kAp},
      {"SecondAllowPolicyMatches", kAllowFrontend + Ap("shop", "allow-batch", R"(  rules:
  - to:
    - operation:
        ports: ["9090"]
  - from:
    - source:
        namespaces: ["batch"])"),
       Req().Principal(kBatch), true, "shop/allow-batch", 1, kAp},
      {"RootNamespacePolicyAppliesMeshWide", Ap("remora-system", "allow-nothing", "  {}"),
       Req().Principal(kFrontend).DestNs("anywhere"), false, "", -1, kAp},
      {"RootNamespaceSelectorMatchesWorkloadsOfEveryNamespace",
       Ap("remora-system", "deny-web",
          "  selector:\n    matchLabels: {app: web}\n  action: "
          "DENY\n  rules:\n  - {}"),
       Req().Principal(kFrontend).DestNs("other"), false, "remora-system/deny-web", 0, kAp},
      {"RootAllowPlusNamespaceAllowIsAUnion", Ap("remora-system", "allow-mesh-ports", R"(  rules:
  - to:
    - operation:
        ports: ["15020"])") + kAllowFrontend,
       Req().Principal(kFrontend), true, "shop/allow-frontend", 0, kAp},
      {"RootAllowPlusNamespaceAllowNeitherMatches",
       Ap("remora-system", "allow-mesh-ports", R"(  rules:
  - to:
    - operation:
        ports: ["15020"])") +
           kAllowFrontend,
       Req().Principal(kBatch), false, "", -1, kAp},
      {"RootDenyBeatsNamespaceAllow", Ap("remora-system", "deny-plaintext", R"(  action: DENY
  rules:
  - from:
    - source:
        notPrincipals: ["*"])") + Ap("shop", "allow-all", "  rules:\n  - {}"),
       Req(), false, "remora-system/deny-plaintext", 0, kAp},
      {"FromEntriesAreOred", Ap("shop", "allow", R"(  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/x/sa/y"]
    - source:
        ipBlocks: ["10.0.0.0/24"])"),
       Req().SourceIp("10.0.0.9"), true, "shop/allow", 0, kAp},
      {"FieldsOfOneSourceAreAnded", Ap("shop", "allow", R"(  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"]
        ipBlocks: ["10.9.0.0/16"])"),
       Req().Principal(kFrontend), false, "", -1, kAp},
      {"FromToAndWhenAreAnded", Ap("shop", "allow", R"(  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"]
    to:
    - operation:
        ports: ["8080"]
    when:
    - key: source.ip
      values: ["10.0.0.0/8"])"),
       Req().Principal(kFrontend), true, "shop/allow", 0, kAp},
      {"NotPrincipalsMatchesPlaintextSource", Ap("shop", "allow-not-batch", R"(  rules:
  - from:
    - source:
        notPrincipals: ["cluster.local/ns/batch/sa/job"])"),
       Req(), true, "shop/allow-not-batch", 0, kAp},
      {"PrincipalsPresenceNeedsAnAuthenticatedSource", Ap("shop", "allow-mtls", R"(  rules:
  - from:
    - source:
        principals: ["*"])"),
       Req(), false, "", -1, kAp},
      {"PrincipalsPresenceMatchesAnyAuthenticatedSource", Ap("shop", "allow-mtls", R"(  rules:
  - from:
    - source:
        principals: ["*"])"),
       Req().Principal(kBatch), true, "shop/allow-mtls", 0, kAp},
      {"DenyNotPrincipalsStarDeniesPlaintext", Ap("shop", "require-mtls", R"(  action: DENY
  rules:
  - from:
    - source:
        notPrincipals: ["*"])"),
       Req(), false, "shop/require-mtls", 0, kAp},
      {"DenyNotPrincipalsStarAllowsMtls", Ap("shop", "require-mtls", R"(  action: DENY
  rules:
  - from:
    - source:
        notPrincipals: ["*"])"),
       Req().Principal(kBatch), true, "", -1, kAp},
      {"NamespacesComeFromTheCertificateNotTheRegistry", Ap("shop", "allow-shop", R"(  rules:
  - from:
    - source:
        namespaces: ["shop"])"),
       Req().SourceNs("shop"), false, "", -1, kAp},
      {"NotNamespacesMatchesPlaintext", Ap("shop", "allow", R"(  rules:
  - from:
    - source:
        notNamespaces: ["batch"])"),
       Req(), true, "shop/allow", 0, kAp},
      {"NamespacePrefix", Ap("shop", "allow", R"(  rules:
  - from:
    - source:
        namespaces: ["ba*"])"),
       Req().Principal(kBatch), true, "shop/allow", 0, kAp},
      {"NamespaceGlob",  // Istio turns namespaces into a regex: every '*' is a wildcard
       Ap("shop", "allow", R"(  rules:
  - from:
    - source:
        namespaces: ["*-prod-*"])"),
       Req().Principal("cluster.local/ns/eu-prod-1/sa/x"), true, "shop/allow", 0, kAp},
      {"PrincipalSuffix", Ap("shop", "allow", R"(  rules:
  - from:
    - source:
        principals: ["*/sa/frontend"])"),
       Req().Principal(kFrontend), true, "shop/allow", 0, kAp},
      {"PrincipalGivenAsSpiffeUriIsNormalized", kAllowFrontend,
       Req().Principal("spiffe://cluster.local/ns/shop/sa/frontend"), true, "shop/allow-frontend",
       0, kAp},
      {"PrincipalPrefixIsNotAnExactMatch", kAllowFrontend,
       Req().Principal("cluster.local/ns/shop/sa/frontend-v2"), false, "", -1, kAp},
      {"IpBlocksSingleAddress",
       Ap("shop", "allow", "  rules:\n  - from:\n    - source:\n        ipBlocks: [\"10.0.0.5\"]"),
       Req(), true, "shop/allow", 0, kAp},
      {"NotIpBlocks",
       Ap("shop", "allow",
          "  rules:\n  - from:\n    - source:\n        notIpBlocks: [\"10.0.0.0/8\"]"),
       Req(), false, "", -1, kAp},
      {"RemoteIpBlocksUseTheOriginalClient",
       Ap("shop", "allow",
          "  rules:\n  - from:\n    - source:\n        remoteIpBlocks: [\"203.0.113.0/24\"]"),
       Req().RemoteIp("203.0.113.7"), true, "shop/allow", 0, kAp},
      {"RemoteIpBlocksFallBackToSourceIp",
       Ap("shop", "allow",
          "  rules:\n  - from:\n    - source:\n        remoteIpBlocks: [\"10.0.0.0/24\"]"),
       Req(), true, "shop/allow", 0, kAp},
      {"HostsAreCaseInsensitive",
       Ap("shop", "allow",
          "  rules:\n  - to:\n    - operation:\n        hosts: [\"web.shop.svc*\"]"),
       Req().Http("GET", "/").Host("WEB.Shop.svc:8080"), true, "shop/allow", 0, kAp},
      {"NotHostsMatchesAMissingHost",
       Ap("shop", "allow", "  rules:\n  - to:\n    - operation:\n        notHosts: [\"evil.com\"]"),
       Req().Http("GET", "/"), true, "shop/allow", 0, kAp},
      {"PortsAndNotPorts", Ap("shop", "allow", R"(  rules:
  - to:
    - operation:
        ports: ["8080", "8443"]
        notPorts: ["8443"])"),
       Req(), true, "shop/allow", 0, kAp},
      {"NotPortsExcludes",
       Ap("shop", "allow", "  rules:\n  - to:\n    - operation:\n        notPorts: [\"8080\"]"),
       Req(), false, "", -1, kAp},
      {"MethodsAndPaths", Ap("shop", "allow", R"(  rules:
  - to:
    - operation:
        methods: ["GET", "HEAD"]
        paths: ["/api/*", "*.css", "/healthz"])"),
       Req().Http("GET", "/static/site.css"), true, "shop/allow", 0, kAp},
      {"MethodsAreCaseSensitive",
       Ap("shop", "allow", "  rules:\n  - to:\n    - operation:\n        methods: [\"GET\"]"),
       Req().Http("get", "/"), false, "", -1, kAp},
      {"PathsIgnoreTheQueryString",
       Ap("shop", "allow", "  rules:\n  - to:\n    - operation:\n        paths: [\"/healthz\"]"),
       Req().Http("GET", "/healthz?verbose=1"), true, "shop/allow", 0, kAp},
      {"NotPathsDenyAdmin",
       Ap("shop", "allow", "  rules:\n  - to:\n    - operation:\n        notPaths: [\"/admin*\"]"),
       Req().Http("GET", "/admin/users"), false, "", -1, kAp},
      {"PathTemplate",
       Ap("shop", "allow",
          "  rules:\n  - to:\n    - operation:\n        paths: [\"/users/{*}/orders/{**}\"]"),
       Req().Http("GET", "/users/42/orders/7/items"), true, "shop/allow", 0, kAp},
      {"PathTemplateOneSegmentOnly",
       Ap("shop", "allow", "  rules:\n  - to:\n    - operation:\n        paths: [\"/users/{*}\"]"),
       Req().Http("GET", "/users/42/orders"), false, "", -1, kAp},
      {"WhenHeaderExact", Ap("shop", "allow", R"(  rules:
  - when:
    - key: request.headers[X-Token]
      values: ["secret"])"),
       Req().Http("GET", "/").Header("x-token", "secret"), true, "shop/allow", 0, kAp},
      {"WhenHeaderNamesAreCaseInsensitive", Ap("shop", "allow", R"(  rules:
  - when:
    - key: request.headers[x-token]
      values: ["secret"])"),
       Req().Http("GET", "/").Header("X-TOKEN", "secret"), true, "shop/allow", 0, kAp},
      {"WhenHeaderPresence", Ap("shop", "allow", R"(  rules:
  - when:
    - key: request.headers[x-token]
      values: ["*"])"),
       Req().Http("GET", "/"), false, "", -1, kAp},
      {"WhenHeaderNotValuesMatchesAbsentHeader", Ap("shop", "allow", R"(  rules:
  - when:
    - key: request.headers[x-debug]
      notValues: ["*"])"),
       Req().Http("GET", "/"), true, "shop/allow", 0, kAp},
      {"WhenHeaderValuesAndNotValues", Ap("shop", "allow", R"(  rules:
  - when:
    - key: request.headers[user-agent]
      values: ["curl/*"]
      notValues: ["curl/7.0*"])"),
       Req().Http("GET", "/").Header("user-agent", "curl/7.01"), false, "", -1, kAp},
      {"WhenConnectionAttributes", Ap("shop", "allow", R"(  rules:
  - when:
    - key: destination.port
      values: ["8080"]
    - key: destination.ip
      values: ["10.1.0.0/16"]
    - key: connection.sni
      values: ["*.shop.svc"]
    - key: source.principal
      values: ["cluster.local/ns/shop/*"]
    - key: source.namespace
      values: ["shop"]
    - key: remote.ip
      notValues: ["192.0.2.0/24"])"),
       Req().Principal(kFrontend).Sni("web.shop.svc"), true, "shop/allow", 0, kAp},
      {"WhenSniAbsent",
       Ap("shop", "allow", "  rules:\n  - when:\n    - key: connection.sni\n      values: [\"*\"]"),
       Req(), false, "", -1, kAp},
      // HTTP-only fields on TCP (Istio: an ALLOW rule with them never matches; DENY and AUDIT
      // rules match on their other fields).
      {"AllowWithHttpFieldsNeverMatchesTcp",
       Ap("shop", "allow-get", "  rules:\n  - to:\n    - operation:\n        methods: [\"GET\"]"),
       Req().Principal(kFrontend), false, "", -1, kAp},
      {"AllowWithHttpFieldsMatchesHttp",
       Ap("shop", "allow-get", "  rules:\n  - to:\n    - operation:\n        methods: [\"GET\"]"),
       Req().Principal(kFrontend).Http("GET", "/"), true, "shop/allow-get", 0, kAp},
      {"AllowWithNotMethodsNeverMatchesTcp",
       Ap("shop", "allow", "  rules:\n  - to:\n    - operation:\n        notMethods: [\"DELETE\"]"),
       Req(), false, "", -1, kAp},
      {"AllowRuleWithoutHttpFieldsStillMatchesTcp", Ap("shop", "allow", R"(  rules:
  - to:
    - operation:
        methods: ["GET"]
  - to:
    - operation:
        ports: ["8080"])"),
       Req(), true, "shop/allow", 1, kAp},
      {"DenyWithOnlyHttpFieldsDeniesAllTcp", Ap("shop", "deny-delete", R"(  action: DENY
  rules:
  - to:
    - operation:
        methods: ["DELETE"])"),
       Req().Principal(kFrontend), false, "shop/deny-delete", 0, kAp},
      {"DenyWithHttpFieldsMatchesTcpOnItsOtherFields", Ap("shop", "deny-delete", R"(  action: DENY
  rules:
  - to:
    - operation:
        methods: ["DELETE"]
        ports: ["9090"])"),
       Req().Principal(kFrontend), true, "", -1, kAp},
      {"DenyWithHeaderConditionMatchesTcp", Ap("shop", "deny", R"(  action: DENY
  rules:
  - from:
    - source:
        namespaces: ["batch"]
    when:
    - key: request.headers[x-admin]
      values: ["true"])"),
       Req().Principal(kBatch), false, "shop/deny", 0, kAp},
      {"DenyWithHttpFieldsOnHttpUsesThem", Ap("shop", "deny-delete", R"(  action: DENY
  rules:
  - to:
    - operation:
        methods: ["DELETE"])"),
       Req().Principal(kFrontend).Http("GET", "/"), true, "", -1, kAp},
      {"AuthorizationPolicyDoesNotApplyOutbound", Ap("shop", "allow-nothing", "  {}"),
       Req().Outbound().SourceNs("shop").SourceLabels({{"app", "web"}}).DestNs("other"), true},
      {"CustomRootNamespaceViaDefaultIsRemoraSystem", Ap("istio-system", "allow-nothing", "  {}"),
       Req().Principal(kFrontend), true},
  };
}

INSTANTIATE_TEST_SUITE_P(AuthorizationPolicy, DecisionTest,
                         ::testing::ValuesIn(AuthorizationPolicyCases()),
                         [](const auto& info) { return info.param.name; });

// ---- source.serviceAccounts and source.trustDomains ---------------------------------------------
// istio.io/latest/docs/reference/config/security/authorization-policy, Source:
//  serviceAccounts: "A list of Kubernetes service accounts derived from the peer certificate. This
//    field requires mTLS enabled ... This takes the format <namespace>/<serviceaccount>.
//    <serviceaccount> may also be used to use the same namespace as the AuthorizationPolicy."
//  trustDomains: "A list of trust domains derived from the peer certificate. Can be exact,
//    prefix, suffix and presence. This field requires mTLS enabled."
// Istio matches a service account with the regex spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?
// (pilot/pkg/security/authz/model/generator.go, serviceAccountRegex).

std::string AllowFrom(const std::string& source_fields, const std::string& ns = "shop") {
  return Ap(
      ns, "allow-sa",
      "  selector:\n    matchLabels: {app: web}\n  rules:\n  - from:\n    - source:\n        " +
          source_fields);
}
std::string DenyFrom(const std::string& source_fields) {
  return Ap("shop", "deny-sa",
            "  action: DENY\n  rules:\n  - from:\n    - source:\n        " + source_fields);
}

std::vector<Case> ServiceAccountAndTrustDomainCases() {
  const std::string qualified = AllowFrom("serviceAccounts: [shop/frontend]");
  const std::string bare = AllowFrom("serviceAccounts: [frontend]");
  return {
      {"ServiceAccountMatchesThePeerCertificate", qualified, Req().Principal(kFrontend), true,
       "shop/allow-sa", 0, kAp},
      {"ServiceAccountOtherAccountIsDenied", qualified, Req().Principal(kBatch), false, "", -1,
       kAp},
      {"ServiceAccountSameNameInAnotherNamespaceIsDenied", qualified,
       Req().Principal("cluster.local/ns/batch/sa/frontend"), false, "", -1, kAp},
      {"ServiceAccountBareNameMeansThePolicysNamespace", bare, Req().Principal(kFrontend), true,
       "shop/allow-sa", 0, kAp},
      {"ServiceAccountBareNameIsNotAnyNamespace", bare,
       Req().Principal("cluster.local/ns/batch/sa/frontend"), false, "", -1, kAp},
      {"ServiceAccountRequiresMtls", qualified, Req().SourceNs("shop"), false, "", -1, kAp},
      {"ServiceAccountMatchesInAnyTrustDomain", qualified,
       Req().Principal("east.example.com/ns/shop/sa/frontend"), true, "shop/allow-sa", 0, kAp},
      {"ServiceAccountIsNotAPrefix", qualified,
       Req().Principal("cluster.local/ns/shop/sa/frontend-v2"), false, "", -1, kAp},
      {"ServiceAccountDotsAreLiteral", AllowFrom("serviceAccounts: [shop/my.sa]"),
       Req().Principal("cluster.local/ns/shop/sa/myxsa"), false, "", -1, kAp},
      {"ServiceAccountAppliesToTcp", qualified, Req().Principal(kFrontend).Tcp(), true,
       "shop/allow-sa", 0, kAp},
      {"ServiceAccountOneOfSeveral", AllowFrom("serviceAccounts: [batch/job, shop/frontend]"),
       Req().Principal(kBatch), true, "shop/allow-sa", 0, kAp},
      {"ServiceAccountAndedWithIpBlocks",
       AllowFrom("serviceAccounts: [shop/frontend]\n        ipBlocks: [192.0.2.0/24]"),
       Req().Principal(kFrontend), false, "", -1, kAp},
      {"NotServiceAccountsDeniesEveryOtherPeer", DenyFrom("notServiceAccounts: [shop/frontend]"),
       Req().Principal(kBatch), false, "shop/deny-sa", 0, kAp},
      {"NotServiceAccountsLetsTheListedPeerThrough", DenyFrom("notServiceAccounts: [frontend]"),
       Req().Principal(kFrontend), true, "", -1, kAp},
      {"NotServiceAccountsMatchesPlaintext", DenyFrom("notServiceAccounts: [shop/frontend]"), Req(),
       false, "shop/deny-sa", 0, kAp},
      {"TrustDomainExact", AllowFrom("trustDomains: [cluster.local]"), Req().Principal(kFrontend),
       true, "shop/allow-sa", 0, kAp},
      {"TrustDomainOtherIsDenied", AllowFrom("trustDomains: [cluster.local]"),
       Req().Principal("east.example.com/ns/shop/sa/frontend"), false, "", -1, kAp},
      {"TrustDomainSuffix", AllowFrom("trustDomains: [\"*.example.com\"]"),
       Req().Principal("east.example.com/ns/shop/sa/frontend"), true, "shop/allow-sa", 0, kAp},
      {"TrustDomainPrefix", AllowFrom("trustDomains: [\"cluster.*\"]"), Req().Principal(kBatch),
       true, "shop/allow-sa", 0, kAp},
      {"TrustDomainIsNotAPrincipalPrefix", AllowFrom("trustDomains: [\"cluster.local/ns/shop*\"]"),
       Req().Principal(kFrontend), false, "", -1, kAp},
      {"TrustDomainPresenceRequiresMtls", AllowFrom("trustDomains: [\"*\"]"), Req(), false, "", -1,
       kAp},
      {"TrustDomainPresenceMatchesAnyPeer", AllowFrom("trustDomains: [\"*\"]"),
       Req().Principal(kBatch), true, "shop/allow-sa", 0, kAp},
      {"NotTrustDomainsDeniesForeignPeers", DenyFrom("notTrustDomains: [cluster.local]"),
       Req().Principal("east.example.com/ns/shop/sa/frontend"), false, "shop/deny-sa", 0, kAp},
      {"NotTrustDomainsLetsLocalPeersThrough", DenyFrom("notTrustDomains: [cluster.local]"),
       Req().Principal(kFrontend), true, "", -1, kAp},
      {"ServiceAccountAndTrustDomainTogether",
       AllowFrom("serviceAccounts: [shop/frontend]\n        trustDomains: [cluster.local]"),
       Req().Principal("east.example.com/ns/shop/sa/frontend"), false, "", -1, kAp},
  };
}

INSTANTIATE_TEST_SUITE_P(ServiceAccountsAndTrustDomains, DecisionTest,
                         ::testing::ValuesIn(ServiceAccountAndTrustDomainCases()),
                         [](const auto& info) { return info.param.name; });

const std::string kIsolateWeb = Np("shop", "allow-from-frontend", R"(  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - podSelector:
        matchLabels: {app: frontend})");

std::vector<Case> NetworkPolicyCases() {
  Req from_frontend = Req().SourceNs("shop").SourceLabels({{"app", "frontend"}});
  return {
      {"NoNetworkPolicyAllows", "", from_frontend, true},
      {"IngressRuleAllows", kIsolateWeb, from_frontend, true, "shop/allow-from-frontend", 0, kNp},
      {"IsolatedPodDeniesOthers", kIsolateWeb,
       Req().SourceNs("shop").SourceLabels({{"app", "batch"}}), false, "", -1, kNp},
      {"PodSelectorPeerIsTheSameNamespaceOnly", kIsolateWeb,
       Req().SourceNs("other").SourceLabels({{"app", "frontend"}}), false, "", -1, kNp},
      {"UnknownSourceMatchesNoSelector", kIsolateWeb, Req(), false, "", -1, kNp},
      {"SourceNamespaceFromCertificateWhenRegistryIsSilent", kIsolateWeb,
       Req().Principal(kFrontend).SourceLabels({{"app", "frontend"}}), true,
       "shop/allow-from-frontend", 0, kNp},
      {"PolicyNotSelectingThePodDoesNotIsolate", kIsolateWeb,
       Req().DestLabels({{"app", "api"}}).SourceNs("x"), true},
      {"EmptyIngressDeniesAll",
       Np("shop", "deny-all", "  podSelector: {}\n  policyTypes: [Ingress]"), from_frontend, false,
       "", -1, kNp},
      {"MissingPolicyTypesDefaultsToIngress", Np("shop", "deny-all", "  podSelector: {}"),
       from_frontend, false, "", -1, kNp},
      {"EmptyRuleAllowsAll", Np("shop", "allow-all", "  podSelector: {}\n  ingress:\n  - {}"),
       Req(), true, "shop/allow-all", 0, kNp},
      {"EgressOnlyPolicyDoesNotIsolateIngress",
       Np("shop", "egress", "  podSelector: {}\n  policyTypes: [Egress]"), from_frontend, true},
      {"IsolationByAnyPolicyAllowsTheUnion",
       kIsolateWeb + Np("shop", "deny-all", "  podSelector: {}\n  policyTypes: [Ingress]"),
       from_frontend, true, "shop/allow-from-frontend", 0, kNp},
      {"IsolationByAnyPolicyDeniesTheRest",
       kIsolateWeb + Np("shop", "other-rules", R"(  podSelector: {}
  ingress:
  - from:
    - podSelector:
        matchLabels: {app: api})"),
       Req().SourceNs("shop").SourceLabels({{"app", "batch"}}), false, "", -1, kNp},
      {"NamespaceSelectorAloneAllowsEveryPodThere", Np("shop", "from-team-a", R"(  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {team: a})"),
       Req().SourceNs("payments").SourceNsLabels({{"team", "a"}}).SourceLabels({{"app", "x"}}),
       true, "shop/from-team-a", 0, kNp},
      {"NamespaceAndPodSelectorInOnePeerAreAnded", Np("shop", "and", R"(  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {team: a}
      podSelector:
        matchLabels: {app: client})"),
       Req().SourceNs("payments").SourceNsLabels({{"team", "a"}}).SourceLabels({{"app", "x"}}),
       false, "", -1, kNp},
      {"NamespaceAndPodSelectorAsTwoPeersAreOred", Np("shop", "or", R"(  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {team: a}
    - podSelector:
        matchLabels: {app: client})"),
       Req().SourceNs("payments").SourceNsLabels({{"team", "a"}}).SourceLabels({{"app", "x"}}),
       true, "shop/or", 0, kNp},
      {"NamespaceNameLabelIsImplicit", Np("shop", "from-payments", R"(  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: payments})"),
       Req().SourceNs("payments"), true, "shop/from-payments", 0, kNp},
      {"MatchExpressions", Np("shop", "exprs", R"(  podSelector:
    matchExpressions:
    - {key: app, operator: In, values: [web, api]}
  ingress:
  - from:
    - podSelector:
        matchExpressions:
        - {key: tier, operator: NotIn, values: [batch]}
        - {key: trusted, operator: Exists}
        - {key: legacy, operator: DoesNotExist})"),
       Req().SourceNs("shop").SourceLabels({{"trusted", "yes"}}), true, "shop/exprs", 0, kNp},
      {"IpBlockAllows", Np("shop", "cidr", R"(  podSelector: {}
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/16
        except: [10.0.1.0/24])"),
       Req(), true, "shop/cidr", 0, kNp},
      {"IpBlockExceptDenies", Np("shop", "cidr", R"(  podSelector: {}
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/16
        except: [10.0.1.0/24])"),
       Req().SourceIp("10.0.1.9"), false, "", -1, kNp},
      {"NumericPort", Np("shop", "port", R"(  podSelector: {}
  ingress:
  - ports:
    - port: 8080)"),
       Req(), true, "shop/port", 0, kNp},
      {"OtherPortDenied", Np("shop", "port", R"(  podSelector: {}
  ingress:
  - ports:
    - port: 9090)"),
       Req(), false, "", -1, kNp},
      {"UdpRuleNeverMatchesTcp", Np("shop", "udp", R"(  podSelector: {}
  ingress:
  - ports:
    - protocol: UDP
      port: 8080)"),
       Req(), false, "", -1, kNp},
      {"ProtocolOnlyMatchesEveryTcpPort", Np("shop", "tcp", R"(  podSelector: {}
  ingress:
  - ports:
    - protocol: TCP)"),
       Req().Port(31000), true, "shop/tcp", 0, kNp},
      {"NamedPort", Np("shop", "named", R"(  podSelector: {}
  ingress:
  - ports:
    - port: http)"),
       Req().PortName("http"), true, "shop/named", 0, kNp},
      {"NamedPortOtherName", Np("shop", "named", R"(  podSelector: {}
  ingress:
  - ports:
    - port: http)"),
       Req().PortName("metrics"), false, "", -1, kNp},
      {"EndPortRange", Np("shop", "range", R"(  podSelector: {}
  ingress:
  - ports:
    - port: 8000
      endPort: 8100)"),
       Req().Port(8100), true, "shop/range", 0, kNp},
      {"EndPortRangeOutside", Np("shop", "range", R"(  podSelector: {}
  ingress:
  - ports:
    - port: 8000
      endPort: 8100)"),
       Req().Port(8101), false, "", -1, kNp},
      {"PeersAndPortsAreAnded", Np("shop", "both", R"(  podSelector: {}
  ingress:
  - from:
    - podSelector: {}
    ports:
    - port: 9090)"),
       from_frontend, false, "", -1, kNp},
      {"EgressAllowsExternalCidr", Np("shop", "egress", R"(  podSelector:
    matchLabels: {app: web}
  egress:
  - to:
    - ipBlock:
        cidr: 192.0.2.0/24
    ports:
    - port: 443)"),
       Req()
           .Outbound()
           .SourceNs("shop")
           .SourceLabels({{"app", "web"}})
           .DestNs("")
           .DestLabels({})
           .DestIp("192.0.2.10")
           .Port(443),
       true, "shop/egress", 0, kNp},
      {"EgressDeniesOtherDestinations", Np("shop", "egress", R"(  podSelector:
    matchLabels: {app: web}
  egress:
  - to:
    - ipBlock:
        cidr: 192.0.2.0/24)"),
       Req()
           .Outbound()
           .SourceNs("shop")
           .SourceLabels({{"app", "web"}})
           .DestNs("")
           .DestLabels({})
           .DestIp("198.51.100.1"),
       false, "", -1, kNp},
      {"EgressToPodsOfANamespace", Np("shop", "egress", R"(  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: payments}
      podSelector:
        matchLabels: {app: api})"),
       Req().Outbound().SourceNs("shop").DestNs("payments").DestLabels({{"app", "api"}}), true,
       "shop/egress", 0, kNp},
      {"IngressOnlyPolicyDoesNotIsolateEgress", kIsolateWeb,
       Req().Outbound().SourceNs("shop").DestNs("").DestIp("198.51.100.1"), true},
  };
}

INSTANTIATE_TEST_SUITE_P(NetworkPolicy, DecisionTest, ::testing::ValuesIn(NetworkPolicyCases()),
                         [](const auto& info) { return info.param.name; });

std::vector<Case> LayerCases() {
  const std::string np_frontend_only = kIsolateWeb;
  return {
      {"BothLayersRequiredNetworkPolicyDenies", kAllowFrontend + np_frontend_only,
       Req().Principal(kFrontend).SourceLabels({{"app", "other"}}), false, "", -1, kNp},
      {"BothLayersRequiredAuthorizationDenies", kAllowFrontend + np_frontend_only,
       Req().Principal("cluster.local/ns/shop/sa/other").SourceLabels({{"app", "frontend"}}), false,
       "", -1, kAp},
      {"BothLayersAllowReportsTheAuthorizationRule", kAllowFrontend + np_frontend_only,
       Req().Principal(kFrontend).SourceLabels({{"app", "frontend"}}), true, "shop/allow-frontend",
       0, kAp},
      {"NetworkPolicyRuleReportedWhenNoAllowPolicy", kDenyBatchNs + np_frontend_only,
       Req().Principal(kFrontend).SourceLabels({{"app", "frontend"}}), true,
       "shop/allow-from-frontend", 0, kNp},
      {"StrictRefusesPlaintext", Pa("shop", "strict", "  mtls:\n    mode: STRICT"), Req(), false,
       "shop/strict", -1, kPa},
      {"StrictAcceptsMtls", Pa("shop", "strict", "  mtls:\n    mode: STRICT"),
       Req().Principal(kFrontend), true},
      {"PermissivePortOverridesStrict",
       Pa("shop", "strict", "  mtls:\n    mode: STRICT") + Pa("shop", "web-metrics", R"(  selector:
    matchLabels: {app: web}
  portLevelMtls:
    9090:
      mode: PERMISSIVE)"),
       Req().Port(9090), true},
      {"StrictBeforeAuthorization",
       Pa("remora-system", "mesh", "  mtls:\n    mode: STRICT") +
           Ap("shop", "allow-all", "  rules:\n  - {}"),
       Req(), false, "remora-system/mesh", -1, kPa},
  };
}

INSTANTIATE_TEST_SUITE_P(Layers, DecisionTest, ::testing::ValuesIn(LayerCases()),
                         [](const auto& info) { return info.param.name; });

// ---- Audit, dry-run, explanations --------------------------------------------------------------

Evaluation Evaluate(const std::shared_ptr<const PolicyEngine>& engine, const RequestAttributes& r) {
  return engine->Evaluate(r);
}

TEST(EngineTest, AuditMatchesAreReportedAndDoNotChangeTheDecision) {
  auto engine =
      EngineFrom(Ap("shop", "audit-batch", R"(  action: AUDIT
  rules:
  - to:
    - operation:
        ports: ["9090"]
  - from:
    - source:
        namespaces: ["batch"])") +
                 kDenyBatchNs + Ap("shop", "audit-all", "  action: AUDIT\n  rules:\n  - {}"));
  const RequestAttributes r = Req().Principal(kBatch).Build();
  Evaluation e = Evaluate(engine, r);
  EXPECT_FALSE(e.decision.allowed());
  ASSERT_EQ(e.decision.audits.size(), 2u);
  EXPECT_EQ(e.decision.audits[0].policy, "shop/audit-all");
  EXPECT_EQ(e.decision.audits[0].rule, 0);
  EXPECT_EQ(e.decision.audits[1].policy, "shop/audit-batch");
  EXPECT_EQ(e.decision.audits[1].rule, 1);
  EXPECT_THAT(e.workload->Explain(r, e.decision),
              Contains("audit: AuthorizationPolicy shop/audit-batch rule 1 matched (logged, not "
                       "enforced)"));
}

TEST(EngineTest, DryRunDenyIsReportedNotEnforced) {
  auto engine = EngineFrom(Ap("shop", "deny-batch", R"(  action: DENY
  rules:
  - from:
    - source:
        namespaces: ["batch"])",
                              kDryRun));
  const RequestAttributes r = Req().Principal(kBatch).Build();
  Evaluation e = Evaluate(engine, r);
  EXPECT_TRUE(e.decision.allowed());
  EXPECT_EQ(e.decision.final.layer, Layer::kNone);
  ASSERT_TRUE(e.decision.dry_run.has_value());
  EXPECT_FALSE(e.decision.dry_run->allowed);
  EXPECT_EQ(e.decision.dry_run->policy, "shop/deny-batch");
  EXPECT_EQ(e.decision.dry_run->rule, 0);
  EXPECT_THAT(absl::StrJoin(e.workload->Explain(r, e.decision), "\n"),
              HasSubstr("dry-run: with dry-run policies enforced the decision would be DENY: "
                        "denied by AuthorizationPolicy shop/deny-batch rule 0 (DENY)"));
}

TEST(EngineTest, DryRunAllowPolicyDoesNotTurnOnDefaultDeny) {
  auto engine = EngineFrom(Ap("shop", "allow-frontend", R"(  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"])",
                              kDryRun));
  Evaluation batch = Evaluate(engine, Req().Principal(kBatch).Build());
  EXPECT_TRUE(batch.decision.allowed());
  ASSERT_TRUE(batch.decision.dry_run.has_value());
  EXPECT_FALSE(batch.decision.dry_run->allowed);
  EXPECT_EQ(batch.decision.dry_run->reason, Reason::kDefaultDeny);
  Evaluation frontend = Evaluate(engine, Req().Principal(kFrontend).Build());
  ASSERT_TRUE(frontend.decision.dry_run.has_value());
  EXPECT_TRUE(frontend.decision.dry_run->allowed);
  EXPECT_EQ(frontend.decision.dry_run->policy, "shop/allow-frontend");
}

TEST(EngineTest, DryRunNetworkPolicy) {
  auto engine =
      EngineFrom(Np("shop", "deny-all", "  podSelector: {}\n  policyTypes: [Ingress]", kDryRun));
  Evaluation e = Evaluate(engine, Req().SourceNs("shop").Build());
  EXPECT_TRUE(e.decision.allowed());
  ASSERT_TRUE(e.decision.dry_run.has_value());
  EXPECT_FALSE(e.decision.dry_run->allowed);
  EXPECT_EQ(e.decision.dry_run->layer, Layer::kNetworkPolicy);
}

TEST(EngineTest, DryRunAuditPolicyStillAudits) {
  auto engine = EngineFrom(Ap("shop", "audit", "  action: AUDIT\n  rules:\n  - {}", kDryRun));
  Evaluation e = Evaluate(engine, Req().Build());
  ASSERT_EQ(e.decision.audits.size(), 1u);
  EXPECT_FALSE(e.decision.dry_run.has_value());
}

TEST(EngineTest, NoDryRunOutcomeWithoutDryRunPolicies) {
  auto engine = EngineFrom(kAllowFrontend);
  EXPECT_FALSE(Evaluate(engine, Req().Principal(kBatch).Build()).decision.dry_run.has_value());
}

TEST(EngineTest, ExplainsAnAllowMissPerRuleWithExpectedAndSeen) {
  auto engine = EngineFrom(kAllowFrontend + Ap("shop", "allow-get", R"(  rules:
  - to:
    - operation:
        methods: ["GET"]
        paths: ["/public/*"]
  - from:
    - source:
        namespaces: ["ops"]
    - source:
        ipBlocks: ["192.0.2.0/24"]
    when:
    - key: request.headers[x-token]
      values: ["abc"])") + Ap("shop", "allow-nothing", "  {}"));
  const RequestAttributes r =
      Req().Principal("cluster.local/ns/x/sa/batch").Http("POST", "/private").Build();
  Evaluation e = Evaluate(engine, r);
  ASSERT_FALSE(e.decision.allowed());
  EXPECT_EQ(e.decision.final.reason, Reason::kDefaultDeny);
  const std::vector<std::string> lines = e.workload->Explain(r, e.decision);
  const std::string all = absl::StrJoin(lines, "\n");
  EXPECT_THAT(lines, Contains("AuthorizationPolicy: default deny: ALLOW policies apply to the "
                              "workload but none matched"));
  EXPECT_THAT(lines,
              Contains("  shop/allow-frontend rule 0: from[0].source.principals expected "
                       "[cluster.local/ns/shop/sa/frontend] got cluster.local/ns/x/sa/batch"));
  EXPECT_THAT(lines, Contains("  shop/allow-get rule 0: to[0].operation.methods expected [GET] "
                              "got POST; to[0].operation.paths expected [/public/*] got /private"));
  EXPECT_THAT(all, HasSubstr("shop/allow-get rule 1: no from entry matched (from[0].source."
                             "namespaces expected [ops] got x | from[1].source.ipBlocks expected "
                             "[192.0.2.0/24] got 10.0.0.5); when[0] request.headers[x-token] "
                             "expected [abc] got (header absent)"));
  EXPECT_THAT(lines, Contains("  shop/allow-nothing: ALLOW policy without rules allows nothing "
                              "(allow-nothing)"));
}

TEST(EngineTest, ExplainsServiceAccountAndTrustDomainMisses) {
  auto engine = EngineFrom(AllowFrom("serviceAccounts: [frontend, batch/cron]") +
                           Ap("shop", "allow-td", R"(  rules:
  - from:
    - source:
        trustDomains: ["east.example.com"]
        notServiceAccounts: ["shop/web"])"));
  RequestAttributes r = Req().Principal(kBatch).Build();
  Evaluation e = Evaluate(engine, r);
  ASSERT_FALSE(e.decision.allowed());
  std::vector<std::string> lines = e.workload->Explain(r, e.decision);
  EXPECT_THAT(lines, Contains("  shop/allow-sa rule 0: from[0].source.serviceAccounts expected "
                              "[shop/frontend, batch/cron] got batch/job "
                              "(cluster.local/ns/batch/sa/job)"));
  EXPECT_THAT(lines, Contains("  shop/allow-td rule 0: from[0].source.trustDomains expected "
                              "[east.example.com] got cluster.local"));
  r = Req().Build();
  e = Evaluate(engine, r);
  const std::string all = absl::StrJoin(e.workload->Explain(r, e.decision), "\n");
  EXPECT_THAT(all, HasSubstr("from[0].source.serviceAccounts expected [shop/frontend, batch/cron] "
                             "got (none: the source is not authenticated by mTLS; the service "
                             "account comes from the peer certificate)"));
  EXPECT_THAT(all, HasSubstr("from[0].source.trustDomains expected [east.example.com] got (none: "
                             "the source is not authenticated by mTLS; the trust domain comes "
                             "from the peer certificate)"));
  r = Req().Principal("east.example.com/ns/shop/sa/web").Build();
  e = Evaluate(engine, r);
  EXPECT_THAT(e.workload->Explain(r, e.decision),
              Contains("  shop/allow-td rule 0: from[0].source.notServiceAccounts expected none of "
                       "[shop/web] got shop/web (east.example.com/ns/shop/sa/web)"));
}

TEST(EngineTest, ExplainsPlaintextAndTcpMisses) {
  auto engine = EngineFrom(kAllowFrontend + Ap("shop", "allow-get", R"(  rules:
  - to:
    - operation:
        methods: ["GET"])"));
  const RequestAttributes r = Req().Build();
  Evaluation e = Evaluate(engine, r);
  const std::string all = absl::StrJoin(e.workload->Explain(r, e.decision), "\n");
  EXPECT_THAT(all, HasSubstr("from[0].source.principals expected "
                             "[cluster.local/ns/shop/sa/frontend] got (none: the source is not "
                             "authenticated by mTLS)"));
  EXPECT_THAT(all, HasSubstr("shop/allow-get rule 0: uses HTTP-only fields "
                             "(to[0].operation.methods) and the connection is TCP: an ALLOW rule "
                             "with HTTP-only fields never matches TCP traffic"));
}

TEST(EngineTest, ExplainsTheMatchingRule) {
  auto engine = EngineFrom(Ap("shop", "deny-delete", R"(  action: DENY
  rules:
  - to:
    - operation:
        methods: ["DELETE"]
        ports: ["8080"])"));
  const RequestAttributes r = Req().Principal(kFrontend).Build();
  Evaluation e = Evaluate(engine, r);
  ASSERT_FALSE(e.decision.allowed());
  EXPECT_THAT(absl::StrJoin(e.workload->Explain(r, e.decision), "\n"),
              HasSubstr("shop/deny-delete rule 0 (DENY) matched: to[0].operation.ports [8080] "
                        "matched 8080 (HTTP-only fields ignored on a TCP connection: "
                        "to[0].operation.methods)"));
}

TEST(EngineTest, ExplainsNetworkPolicyIsolation) {
  auto engine = EngineFrom(kIsolateWeb + Np("shop", "ports", R"(  podSelector: {}
  ingress:
  - ports:
    - port: 9090
    - protocol: UDP
      port: 53
    - port: metrics
    - port: 7000
      endPort: 7100)") + Np("shop", "deny-all", "  podSelector: {}\n  policyTypes: [Ingress]"));
  const RequestAttributes r =
      Req().SourceNs("batch").SourceLabels({{"app", "job"}}).PortName("http").Build();
  Evaluation e = Evaluate(engine, r);
  ASSERT_FALSE(e.decision.allowed());
  EXPECT_EQ(e.decision.final.layer, Layer::kNetworkPolicy);
  const std::vector<std::string> lines = e.workload->Explain(r, e.decision);
  EXPECT_THAT(lines, Contains("  isolated for ingress by shop/allow-from-frontend, "
                              "shop/deny-all, shop/ports"));
  EXPECT_THAT(lines, Contains("  shop/allow-from-frontend ingress[0]: from expected [pods "
                              "app=frontend in namespace shop] got pod app=job in namespace batch "
                              "at 10.0.0.5"));
  EXPECT_THAT(lines, Contains("  shop/ports ingress[0]: ports expected [TCP 9090, UDP 53, TCP "
                              "named metrics, TCP 7000-7100] got TCP 8080 (named http)"));
  EXPECT_THAT(lines, Contains("  shop/deny-all: no ingress rules, so it allows no ingress"));
}

TEST(EngineTest, ConnectionCheckLeavesAuthorizationToEachRequest) {
  auto engine = EngineFrom(kAllowFrontend + kIsolateWeb);
  auto web = engine->ForWorkload("shop", Labels{{"app", "web"}});
  // An HTTP port: the connection passes NetworkPolicy; its requests are then authorized.
  Decision c = web->EvaluateConnection(
      Req().Principal(kFrontend).SourceLabels({{"app", "frontend"}}).Build());
  EXPECT_TRUE(c.allowed());
  EXPECT_EQ(c.authorization_policy.reason, Reason::kDeferred);
  EXPECT_EQ(c.final.policy, "shop/allow-from-frontend");
  // A connection NetworkPolicy refuses is refused before any request.
  Decision refused = web->EvaluateConnection(Req().SourceNs("batch").Build());
  EXPECT_FALSE(refused.allowed());
  EXPECT_EQ(refused.final.layer, Layer::kNetworkPolicy);
  // A source the ALLOW policy denies is refused per request, not at connection time.
  const RequestAttributes other =
      Req().Principal("cluster.local/ns/shop/sa/other").SourceLabels({{"app", "frontend"}}).Build();
  EXPECT_TRUE(web->EvaluateConnection(other).allowed());
  EXPECT_FALSE(web->Evaluate(other).allowed());
}

TEST(EngineTest, DescribesOutcomes) {
  Outcome o;
  o.layer = Layer::kAuthorizationPolicy;
  o.reason = Reason::kDeniedByRule;
  o.policy = "shop/deny";
  o.rule = 2;
  EXPECT_EQ(DescribeOutcome(o), "denied by AuthorizationPolicy shop/deny rule 2 (DENY)");
  o.layer = Layer::kNetworkPolicy;
  o.reason = Reason::kDefaultDeny;
  o.direction = Direction::kOutbound;
  EXPECT_EQ(DescribeOutcome(o),
            "default deny: NetworkPolicy isolates the source pod for egress and no egress rule "
            "allows this traffic");
  EXPECT_EQ(DescribeOutcome(Outcome()),
            "no policy applies: no AuthorizationPolicy or NetworkPolicy selects the destination "
            "workload");
}

TEST(EngineTest, WorkloadViewReportsHttpUseHeadersAndPolicies) {
  auto engine = EngineFrom(kAllowFrontend + Ap("shop", "tokens", R"(  selector:
    matchLabels: {app: web}
  rules:
  - when:
    - key: request.headers[X-Token]
      values: ["a"])") + Ap("remora-system", "mesh", "  action: AUDIT\n  rules:\n  - {}") +
                           Ap("shop", "canary", "  rules:\n  - {}", kDryRun) + kIsolateWeb);
  auto web = engine->ForWorkload("shop", Labels{{"app", "web"}});
  EXPECT_TRUE(web->uses_http_fields());
  EXPECT_EQ(web->headers(), std::vector<std::string>{"x-token"});
  EXPECT_EQ(web->AuthorizationPolicyIds(),
            (std::vector<std::string>{"remora-system/mesh", "shop/allow-frontend",
                                      "shop/canary (dry-run)", "shop/tokens"}));
  EXPECT_EQ(web->NetworkPolicyIds(PolicyType::kIngress),
            std::vector<std::string>{"shop/allow-from-frontend"});
  auto api = engine->ForWorkload("shop", Labels{{"app", "api"}});
  EXPECT_FALSE(api->uses_http_fields());
  EXPECT_TRUE(api->headers().empty());
  EXPECT_EQ(engine->authorization_policy_count(), 4u);
  EXPECT_EQ(engine->network_policy_count(), 1u);
  EXPECT_EQ(engine->rule_count(), 5u);
}

TEST(EngineTest, BuildRefusesDuplicatesAndInvalidPolicies) {
  PolicySet set;
  AuthorizationPolicy p;
  p.meta.ns = "shop";
  p.meta.name = "a";
  set.authorization_policies = {p, p};
  absl::StatusOr<std::shared_ptr<const PolicyEngine>> dup = PolicyEngine::Build(set);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dup.status().message(), HasSubstr("AuthorizationPolicy shop/a is defined twice"));

  set.authorization_policies = {p};
  set.authorization_policies[0].rules.push_back({});
  set.authorization_policies[0].rules[0].from.push_back({});
  set.authorization_policies[0].rules[0].from[0].ip_blocks = {"10.0.0.0/33"};
  absl::StatusOr<std::shared_ptr<const PolicyEngine>> bad = PolicyEngine::Build(set);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("AuthorizationPolicy shop/a: spec.rules[0].from[0].source.ipBlocks[0]: "
                        "\"10.0.0.0/33\" is not a CIDR"));

  PolicySet unnamed;
  unnamed.network_policies.push_back({});
  EXPECT_THAT(PolicyEngine::Build(unnamed).status().message(),
              HasSubstr("metadata.namespace and metadata.name are required"));

  // A DENY policy without rules is refused (Istio's admission refuses it: it could never match).
  PolicySet deny;
  deny.authorization_policies = {p};
  deny.authorization_policies[0].action = AuthzAction::kDeny;
  EXPECT_THAT(PolicyEngine::Build(deny).status().message(),
              HasSubstr("a DENY policy without rules never matches"));
}

// ---- The rule index must never change an answer ------------------------------------------------

TEST(EngineTest, IndexedEvaluationEqualsLinearScan) {
  std::mt19937 rng(7);
  std::string yaml;
  for (int p = 0; p < 40; ++p) {
    const bool deny = p % 7 == 3;
    std::string rules;
    for (int r = 0; r < 12; ++r) {
      const int kind = deny ? (p * 12 + r) % 2 : (p * 12 + r) % 8;  // narrow DENY rules
      if (kind == 0 || kind == 1) {
        rules += absl::StrCat("  - from:\n    - source:\n        principals: [\"td/ns/n",
                              rng() % 10, "/sa/s", rng() % 10, "\", \"td/ns/n", rng() % 10, "/sa/s",
                              rng() % 10, "\"]\n    to:\n    - operation:\n        ports: [\"",
                              8000 + rng() % 4, "\"]\n");
      } else if (kind == 2) {
        rules +=
            absl::StrCat("  - from:\n    - source:\n        namespaces: [\"n", rng() % 10, "\"]\n");
      } else if (kind == 3) {
        rules += absl::StrCat(
            "  - from:\n    - source:\n        principals: [\"td/ns/n", rng() % 10, "/sa/s",
            rng() % 10, "\"]\n    - source:\n        ipBlocks: [\"10.", rng() % 4, ".0.0/16\"]\n");
      } else if (kind == 4) {
        rules += absl::StrCat("  - when:\n    - key: source.principal\n      values: [\"td/ns/n",
                              rng() % 10, "/sa/s", rng() % 10, "\"]\n");
      } else if (kind == 5) {  // pins a namespace: indexed by namespace
        rules += absl::StrCat("  - from:\n    - source:\n        principals: [\"td/ns/n",
                              rng() % 10, "/sa/*\", \"td/ns/n", rng() % 10, "/sa/s", rng() % 10,
                              "\"]\n    to:\n    - operation:\n        notPorts: [\"",
                              8000 + rng() % 4, "\"]\n");
      } else if (kind == 6) {  // pins nothing: scanned
        rules += absl::StrCat("  - from:\n    - source:\n        principals: [\"td/ns/n",
                              rng() % 10, "*\"]\n    - source:\n        namespaces: [\"n",
                              rng() % 10, "\"]\n    to:\n    - operation:\n        ports: [\"",
                              8000 + rng() % 4, "\"]\n");
      } else {
        rules += absl::StrCat("  - when:\n    - key: source.namespace\n      values: [\"n",
                              rng() % 10, "\"]\n    - key: destination.port\n      values: [\"",
                              8000 + rng() % 4, "\"]\n");
      }
    }
    yaml += Ap("shop", absl::StrCat("p", p),
               absl::StrCat(deny ? "  action: DENY\n" : "", "  rules:\n", rules));
  }
  auto engine = EngineFrom(yaml);
  ASSERT_NE(engine, nullptr);
  auto workload = engine->ForWorkload("shop", Labels{{"app", "web"}});
  PolicySet set = *ParsePolicyDocuments(yaml, "t");
  std::vector<CompiledAuthorizationPolicy> compiled;
  for (const AuthorizationPolicy& p : set.authorization_policies) {
    compiled.push_back(*CompiledAuthorizationPolicy::Compile(p));
  }
  std::sort(compiled.begin(), compiled.end(),
            [](const auto& a, const auto& b) { return a.id() < b.id(); });
  int allowed = 0;
  for (int i = 0; i < 3000; ++i) {
    Req req = Req().Port(8000 + rng() % 4).SourceIp(absl::StrCat("10.", rng() % 8, ".1.1"));
    if (rng() % 10 != 0) req.Principal(absl::StrCat("td/ns/n", rng() % 10, "/sa/s", rng() % 10));
    const RequestAttributes r = req.Build();
    // Reference: Istio's order over a plain scan.
    std::string want_policy;
    int want_rule = -1;
    bool want_allow = false;
    for (AuthzAction action : {AuthzAction::kDeny, AuthzAction::kAllow}) {
      for (const auto& p : compiled) {
        if (p.action() != action || !want_policy.empty()) continue;
        for (size_t k = 0; k < p.rules().size() && want_policy.empty(); ++k) {
          if (p.RuleMatches(k, r)) {
            want_policy = p.id();
            want_rule = static_cast<int>(k);
            want_allow = action == AuthzAction::kAllow;
          }
        }
      }
      if (!want_policy.empty()) break;
    }
    Decision d = workload->Evaluate(r);
    ASSERT_EQ(d.allowed(), want_allow) << i;
    ASSERT_EQ(d.final.policy, want_policy) << i;
    ASSERT_EQ(d.final.rule, want_rule) << i;
    allowed += d.allowed();
  }
  EXPECT_GT(allowed, 100);  // the workload is not trivially denied
  EXPECT_LT(allowed, 2900);
}

TEST(EngineTest, ConcurrentEvaluationNeedsNoLock) {
  auto engine = EngineFrom(kAllowFrontend + kDenyBatchNs + kIsolateWeb);
  auto workload = engine->ForWorkload("shop", Labels{{"app", "web"}});
  const std::vector<RequestAttributes> requests = {
      Req().Principal(kFrontend).SourceLabels({{"app", "frontend"}}).Build(),
      Req().Principal(kBatch).Build(),
      Req().Build(),
  };
  std::vector<bool> expected;
  for (const auto& r : requests) expected.push_back(workload->Evaluate(r).allowed());
  EXPECT_EQ(expected, (std::vector<bool>{true, false, false}));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        const size_t k = i % requests.size();
        if (workload->Evaluate(requests[k]).allowed() != expected[k]) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace remora::filters
