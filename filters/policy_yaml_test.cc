#include "filters/policy_yaml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace remora::filters {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

PolicySet Parse(const std::string& yaml) {
  absl::StatusOr<PolicySet> set = ParsePolicyDocuments(yaml, "test.yaml");
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *set : PolicySet();
}

TEST(PolicyYamlTest, ReadsAnAuthorizationPolicyWithEveryField) {
  PolicySet set = Parse(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-web
  namespace: shop
  annotations:
    remora.io/dry-run: "true"
  creationTimestamp: "2024-05-01T10:00:00Z"
spec:
  selector:
    matchLabels:
      app: web
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"]
        notPrincipals: ["cluster.local/ns/shop/sa/evil"]
        namespaces: ["shop"]
        notNamespaces: ["batch"]
        ipBlocks: ["10.0.0.0/8"]
        notIpBlocks: ["10.9.0.0/16"]
        remoteIpBlocks: ["203.0.113.0/24"]
        notRemoteIpBlocks: ["203.0.113.9"]
    to:
    - operation:
        hosts: ["web.shop.svc"]
        notHosts: ["evil"]
        ports: ["8080"]
        notPorts: ["9090"]
        methods: ["GET"]
        notMethods: ["DELETE"]
        paths: ["/api/*"]
        notPaths: ["/api/admin"]
    when:
    - key: request.headers[x-token]
      values: ["a"]
      notValues: ["b"]
  - {}
)");
  ASSERT_EQ(set.authorization_policies.size(), 1u);
  const AuthorizationPolicy& p = set.authorization_policies[0];
  EXPECT_EQ(p.meta.Id(), "shop/allow-web");
  EXPECT_TRUE(p.meta.dry_run);
  ASSERT_TRUE(p.meta.created.has_value());
  EXPECT_EQ(absl::ToUnixSeconds(*p.meta.created), 1714557600);
  EXPECT_THAT(p.selector, ElementsAre(Pair("app", "web")));
  EXPECT_EQ(p.action, AuthzAction::kAllow);
  ASSERT_EQ(p.rules.size(), 2u);
  const AuthzRule& r = p.rules[0];
  ASSERT_EQ(r.from.size(), 1u);
  EXPECT_THAT(r.from[0].principals, ElementsAre("cluster.local/ns/shop/sa/frontend"));
  EXPECT_THAT(r.from[0].not_principals, ElementsAre("cluster.local/ns/shop/sa/evil"));
  EXPECT_THAT(r.from[0].namespaces, ElementsAre("shop"));
  EXPECT_THAT(r.from[0].not_namespaces, ElementsAre("batch"));
  EXPECT_THAT(r.from[0].ip_blocks, ElementsAre("10.0.0.0/8"));
  EXPECT_THAT(r.from[0].not_ip_blocks, ElementsAre("10.9.0.0/16"));
  EXPECT_THAT(r.from[0].remote_ip_blocks, ElementsAre("203.0.113.0/24"));
  EXPECT_THAT(r.from[0].not_remote_ip_blocks, ElementsAre("203.0.113.9"));
  ASSERT_EQ(r.to.size(), 1u);
  EXPECT_THAT(r.to[0].hosts, ElementsAre("web.shop.svc"));
  EXPECT_THAT(r.to[0].not_hosts, ElementsAre("evil"));
  EXPECT_THAT(r.to[0].ports, ElementsAre("8080"));
  EXPECT_THAT(r.to[0].not_ports, ElementsAre("9090"));
  EXPECT_THAT(r.to[0].methods, ElementsAre("GET"));
  EXPECT_THAT(r.to[0].not_methods, ElementsAre("DELETE"));
  EXPECT_THAT(r.to[0].paths, ElementsAre("/api/*"));
  EXPECT_THAT(r.to[0].not_paths, ElementsAre("/api/admin"));
  ASSERT_EQ(r.when.size(), 1u);
  EXPECT_EQ(r.when[0].key, "request.headers[x-token]");
  EXPECT_THAT(r.when[0].values, ElementsAre("a"));
  EXPECT_THAT(r.when[0].not_values, ElementsAre("b"));
  EXPECT_TRUE(p.rules[1].from.empty() && p.rules[1].to.empty() && p.rules[1].when.empty());
}

TEST(PolicyYamlTest, DefaultsAndAlternateForms) {
  PolicySet set = Parse(R"(
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  annotations:
    istio.io/dry-run: "false"
spec: {}
---
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: audit
  namespace: shop
spec:
  action: AUDIT
  rules:
  - {}
)");
  ASSERT_EQ(set.authorization_policies.size(), 2u);
  EXPECT_EQ(set.authorization_policies[0].meta.ns, "default");  // as kubectl
  EXPECT_FALSE(set.authorization_policies[0].meta.dry_run);
  EXPECT_EQ(set.authorization_policies[0].action, AuthzAction::kAllow);
  EXPECT_TRUE(set.authorization_policies[0].rules.empty());
  EXPECT_EQ(set.authorization_policies[1].action, AuthzAction::kAudit);
  EXPECT_TRUE(Parse(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: x, annotations: {istio.io/dry-run: "true"}}
)")
                  .authorization_policies[0]
                  .meta.dry_run);
}

TEST(PolicyYamlTest, ReadsNetworkPolicies) {
  PolicySet set = Parse(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: tier, operator: NotIn, values: [batch]}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {}
    - ipBlock:
        cidr: 10.0.0.0/16
        except: [10.0.1.0/24]
    ports:
    - port: 8080
    - port: http
      protocol: TCP
    - port: 9000
      endPort: 9100
    - protocol: UDP
  egress:
  - {}
)");
  ASSERT_EQ(set.network_policies.size(), 1u);
  const NetworkPolicy& p = set.network_policies[0];
  EXPECT_THAT(p.pod_selector.match_labels, ElementsAre(Pair("app", "web")));
  ASSERT_EQ(p.pod_selector.match_expressions.size(), 1u);
  EXPECT_EQ(p.pod_selector.match_expressions[0].op, LabelRequirement::Operator::kNotIn);
  EXPECT_EQ(p.policy_types, (std::vector<PolicyType>{PolicyType::kIngress, PolicyType::kEgress}));
  ASSERT_EQ(p.ingress.size(), 1u);
  const NetworkPolicyRule& r = p.ingress[0];
  ASSERT_EQ(r.peers.size(), 2u);
  ASSERT_TRUE(r.peers[0].namespace_selector.has_value());
  ASSERT_TRUE(r.peers[0].pod_selector.has_value());
  EXPECT_TRUE(r.peers[0].pod_selector->empty());
  EXPECT_FALSE(r.peers[0].ip_block.has_value());
  ASSERT_TRUE(r.peers[1].ip_block.has_value());
  EXPECT_EQ(r.peers[1].ip_block->cidr, "10.0.0.0/16");
  EXPECT_THAT(r.peers[1].ip_block->except, ElementsAre("10.0.1.0/24"));
  ASSERT_EQ(r.ports.size(), 4u);
  EXPECT_EQ(r.ports[0].port, 8080);
  EXPECT_EQ(r.ports[0].protocol, "TCP");
  EXPECT_EQ(r.ports[1].port_name, "http");
  EXPECT_EQ(r.ports[2].port, 9000);
  EXPECT_EQ(r.ports[2].end_port, 9100);
  EXPECT_EQ(r.ports[3].protocol, "UDP");
  EXPECT_FALSE(r.ports[3].port.has_value());
  ASSERT_EQ(p.egress.size(), 1u);
}

TEST(PolicyYamlTest, ReadsPeerAuthenticationAndLists) {
  PolicySet set = Parse(R"(
apiVersion: v1
kind: List
items:
- apiVersion: security.istio.io/v1
  kind: PeerAuthentication
  metadata: {name: strict, namespace: shop}
  spec:
    selector: {matchLabels: {app: web}}
    mtls: {mode: STRICT}
    portLevelMtls:
      9090: {mode: DISABLE}
      8080: {}
- apiVersion: security.istio.io/v1
  kind: PeerAuthentication
  metadata: {name: default, namespace: remora-system}
  spec: {}
)");
  ASSERT_EQ(set.peer_authentications.size(), 2u);
  const PeerAuthentication& p = set.peer_authentications[0];
  EXPECT_EQ(p.mode, MtlsMode::kStrict);
  EXPECT_THAT(p.port_level,
              ElementsAre(Pair(8080u, MtlsMode::kUnset), Pair(9090u, MtlsMode::kDisable)));
  EXPECT_EQ(set.peer_authentications[1].mode, MtlsMode::kUnset);
}

// A quoted "8443" is a port name to the Kubernetes API (IntOrString), not a number.
TEST(PolicyYamlTest, QuotedDigitsPortIsRefusedAsAName) {
  absl::StatusOr<PolicySet> set = ParsePolicyDocuments(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  ingress:
  - ports:
    - port: "8443"
)",
                                                       "np.yaml");
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(set.status().message()),
              HasSubstr("spec.ingress[0].ports[0].port: \"8443\" is not a valid port name: must "
                        "contain at least one letter"));
}

TEST(PolicyYamlTest, ReadsServiceAccountsAndTrustDomains) {
  // The Source fields of security.istio.io/v1 that name the peer by Kubernetes service account
  // and by trust domain (istio.io/latest/docs/reference/config/security/authorization-policy).
  PolicySet set = Parse(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-frontend
  namespace: shop
spec:
  rules:
  - from:
    - source:
        serviceAccounts: ["shop/frontend", "checkout"]
        trustDomains: ["cluster.local", "*.example.com"]
    - source:
        notServiceAccounts: ["batch/job"]
        notTrustDomains: ["legacy.*"]
)");
  ASSERT_EQ(set.authorization_policies.size(), 1u);
  const std::vector<AuthzSource>& from = set.authorization_policies[0].rules[0].from;
  ASSERT_EQ(from.size(), 2u);
  EXPECT_THAT(from[0].service_accounts, ::testing::ElementsAre("shop/frontend", "checkout"));
  EXPECT_THAT(from[0].trust_domains, ::testing::ElementsAre("cluster.local", "*.example.com"));
  EXPECT_THAT(from[1].not_service_accounts, ::testing::ElementsAre("batch/job"));
  EXPECT_THAT(from[1].not_trust_domains, ::testing::ElementsAre("legacy.*"));
}

TEST(PolicyYamlTest, ErrorNamesInputDocumentKindAndField) {
  absl::StatusOr<PolicySet> set = ParsePolicyDocuments(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ok, namespace: shop}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: shop
spec:
  action: DENY
  rules:
  - from:
    - source:
        principals: ["*"]
    - source:
        ipBlocks: ["10.0.0.0/33"]
)",
                                                       "policies.yaml");
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(set.status().message(),
            "policies.yaml: document 2 (AuthorizationPolicy shop/deny-all): "
            "spec.rules[0].from[1].source.ipBlocks[0]: \"10.0.0.0/33\" is not a CIDR: prefix "
            "length 33 is over 32");
}

struct ErrorCase {
  std::string name;
  std::string yaml;
  std::string fragment;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class PolicyYamlErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(PolicyYamlErrorTest, RefusesWithFieldPath) {
  absl::StatusOr<PolicySet> set = ParsePolicyDocuments(GetParam().yaml, "p.yaml");
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << set.status();
  EXPECT_THAT(std::string(set.status().message()), HasSubstr(GetParam().fragment));
}

std::string Ap(const std::string& spec, const std::string& meta = "{name: p, namespace: shop}") {
  return absl::StrCat("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: ",
                      meta, "\nspec:\n", spec, "\n");
}
std::string Np(const std::string& spec) {
  return absl::StrCat(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: "
      "shop}\nspec:\n",
      spec, "\n");
}
std::string Pa(const std::string& spec) {
  return absl::StrCat(
      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: "
      "shop}\nspec:\n",
      spec, "\n");
}
std::string Src(const std::string& fields) {
  return Ap("  rules:\n  - from:\n    - source:\n        " + fields);
}
std::string Op(const std::string& fields) {
  return Ap("  rules:\n  - to:\n    - operation:\n        " + fields);
}
std::string When(const std::string& fields) { return Ap("  rules:\n  - when:\n    - " + fields); }

std::vector<ErrorCase> ErrorCases() {
  return {
      // Documents.
      {"SyntaxError", "kind: [", "p.yaml: YAML syntax error at line"},
      {"NotAMap", "- a\n- b", "document 1 (unknown kind): (document): must be a map"},
      {"MissingKind", "apiVersion: v1\nmetadata: {name: x}", "kind: is required"},
      {"UnsupportedKind", "apiVersion: v1\nkind: Service\nmetadata: {name: x}",
       "(Service default/x): kind: \"Service\" is not supported; supported kinds: "
       "AuthorizationPolicy and PeerAuthentication (security.istio.io/v1 or v1beta1), "
       "NetworkPolicy (networking.k8s.io/v1), List (v1)"},
      {"RequestAuthenticationUnsupported",
       "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: x}",
       "kind: \"RequestAuthentication\" is not supported"},
      {"WrongApiVersion",
       "apiVersion: security.istio.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: {name: x}",
       "apiVersion: \"security.istio.io/v1alpha1\" is not supported for AuthorizationPolicy; use "
       "security.istio.io/v1 or security.istio.io/v1beta1"},
      {"NetworkPolicyWrongApiVersion",
       "apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: x}",
       "use networking.k8s.io/v1"},
      {"UnknownTopLevelField", Ap("  {}") + "extra: 1", "unknown field \"extra\""},
      {"MissingMetadata", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nspec: {}",
       "metadata: is required"},
      {"MissingName", Ap("  {}", "{namespace: shop}"), "metadata.name: is required"},
      {"BadName", Ap("  {}", "{name: Allow_All}"),
       "metadata.name: \"Allow_All\" is not a valid name"},
      {"BadNamespace", Ap("  {}", "{name: x, namespace: a.b}"),
       "metadata.namespace: \"a.b\" is not a valid namespace"},
      {"UnknownMetadataField", Ap("  {}", "{name: x, nmespace: a}"), "unknown field \"nmespace\""},
      {"BadDryRun", Ap("  {}", "{name: x, annotations: {remora.io/dry-run: \"yes\"}}"),
       "metadata.annotations.remora.io/dry-run: \"yes\" is not \"true\" or \"false\""},
      {"BadCreationTimestamp", Ap("  {}", "{name: x, creationTimestamp: yesterday}"),
       "metadata.creationTimestamp: \"yesterday\" is not an RFC 3339 time"},
      {"SpecNotAMap", Ap("  - a"), "spec: must be a map"},
      {"DuplicatePolicy", Ap("  {}") + "---\n" + Ap("  {}"),
       "p.yaml: AuthorizationPolicy shop/p is defined twice"},
      {"ErrorInListItem",
       "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: x}",
       "p.yaml: document 1 item 1 (Pod default/x): kind: \"Pod\" is not supported"},
      {"AliasBomb",
       "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, "
       "*c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, "
       "*e, *e]\n",
       "p.yaml: document 1: more than 200000 YAML nodes (aliases expanding?)"},
      {"ThirdDocumentNamed",
       Ap("  {}") + "---\n" + Ap("  {}", "{name: q}") + "---\n" +
           Ap("  action: NOPE", "{name: r, namespace: x}"),
       "p.yaml: document 3 (AuthorizationPolicy x/r): spec.action"},
      // AuthorizationPolicy.
      {"UnknownSpecField", Ap("  rule: []"), "spec: unknown field \"rule\""},
      {"Custom", Ap("  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - {}"),
       "spec.action: CUSTOM (delegation to an external authorizer) is not supported by Remora"},
      {"UnknownAction", Ap("  action: PERMIT"),
       "spec.action: \"PERMIT\" is not ALLOW, DENY, AUDIT or CUSTOM"},
      {"ProviderWithoutCustom", Ap("  provider: {name: ext}"),
       "spec.provider: must not be set with a non-CUSTOM action, found ALLOW"},
      {"TargetRef", Ap("  targetRef: {kind: Gateway, name: gw}"),
       "spec.targetRef: is not supported by Remora"},
      {"TargetRefs", Ap("  targetRefs:\n  - {kind: Service, name: web}"),
       "spec.targetRefs: is not supported by Remora"},
      {"SelectorMatchExpressions", Ap("  selector:\n    matchExpressions: []"),
       "spec.selector: unknown field \"matchExpressions\""},
      {"SelectorBadLabel", Ap("  selector:\n    matchLabels: {app: \"*\"}"),
       "spec.selector.matchLabels.app: label value \"*\" must consist of alphanumeric"},
      {"RulesNotAList", Ap("  rules: {}"), "spec.rules: must be a list of rules"},
      {"NullRule", Ap("  rules:\n  -"), "spec.rules[0]: must not be null"},
      {"UnknownRuleField", Ap("  rules:\n  - form: []"), "spec.rules[0]: unknown field \"form\""},
      {"EmptyFrom", Ap("  rules:\n  - from: []"),
       "spec.rules[0].from: must not be empty; omit it to match any source"},
      {"EmptyTo", Ap("  rules:\n  - to: []"),
       "spec.rules[0].to: must not be empty; omit it to match any operation"},
      {"FromWithoutSource", Ap("  rules:\n  - from:\n    - {}"),
       "spec.rules[0].from[0].source: must be set"},
      {"EmptySource", Ap("  rules:\n  - from:\n    - source: {}"),
       "spec.rules[0].from[0].source: must not be empty"},
      {"UnknownSourceField", Src("principal: [a]"),
       "spec.rules[0].from[0].source: unknown field \"principal\""},
      {"RequestPrincipals", Src("requestPrincipals: [\"*\"]"),
       "spec.rules[0].from[0].source.requestPrincipals: needs JWT request authentication"},
      // serviceAccounts: Istio's CheckServiceAccount and the Source reference ("No form of
      // wildcard (*) is allowed. Cannot be set with principals or namespaces.").
      {"ServiceAccountsWithPrincipals",
       Src("serviceAccounts: [shop/web]\n        principals: [\"cluster.local/ns/shop/sa/web\"]"),
       "spec.rules[0].from[0].source.serviceAccounts: cannot be set with principals or "
       "namespaces (nor notPrincipals or notNamespaces); a service account already names its "
       "namespace, so match the source with one or the other"},
      {"NotServiceAccountsWithNamespaces",
       Src("notServiceAccounts: [web]\n        namespaces: [a]"),
       "spec.rules[0].from[0].source.notServiceAccounts: cannot be set with principals or "
       "namespaces"},
      {"ServiceAccountWildcard", Src("serviceAccounts: [shop/web, \"shop/*\"]"),
       "spec.rules[0].from[0].source.serviceAccounts[1]: \"shop/*\": wildcards are not allowed; "
       "list each service account by name"},
      {"NotServiceAccountPresence", Src("notServiceAccounts: [\"*\"]"),
       "spec.rules[0].from[0].source.notServiceAccounts[0]: \"*\": wildcards are not allowed"},
      {"ServiceAccountTwoSlashes", Src("serviceAccounts: [a/b/c]"),
       "spec.rules[0].from[0].source.serviceAccounts[0]: \"a/b/c\": expected "
       "\"<serviceaccount>\" or \"<namespace>/<serviceaccount>\""},
      {"ServiceAccountEmptyNamespace", Src("serviceAccounts: [/web]"),
       "spec.rules[0].from[0].source.serviceAccounts[0]: \"/web\": expected \"<serviceaccount>\" "
       "or \"<namespace>/<serviceaccount>\", found an empty namespace"},
      {"ServiceAccountEmptyName", Src("serviceAccounts: [shop/]"),
       "spec.rules[0].from[0].source.serviceAccounts[0]: \"shop/\": expected \"<serviceaccount>\" "
       "or \"<namespace>/<serviceaccount>\", found an empty service account"},
      {"ServiceAccountEmpty", Src("serviceAccounts: [\"\"]"),
       "spec.rules[0].from[0].source.serviceAccounts[0]: empty value not allowed"},
      {"ServiceAccountTooLong", Src("serviceAccounts: [shop/" + std::string(316, 'a') + "]"),
       "spec.rules[0].from[0].source.serviceAccounts[0]: 321 characters is over the limit of 320"},
      {"TooManyServiceAccounts",
       Src("serviceAccounts: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q]"),
       "spec.rules[0].from[0].source.serviceAccounts: 17 values is over the limit of 16"},
      {"ServiceAccountsNotAList", Src("serviceAccounts: shop/web"),
       "spec.rules[0].from[0].source.serviceAccounts: must be a list"},
      {"TrustDomainEmpty", Src("trustDomains: [cluster.local, \"\"]"),
       "spec.rules[0].from[0].source.trustDomains[1]: empty value not allowed"},
      {"NotTrustDomainsNotAList", Src("notTrustDomains: {a: b}"),
       "spec.rules[0].from[0].source.notTrustDomains: must be a list"},
      {"PrincipalsNotAList", Src("principals: a"),
       "spec.rules[0].from[0].source.principals: must be a list"},
      {"PrincipalWithScheme", Src("principals: [\"spiffe://cluster.local/ns/a/sa/b\"]"),
       "spec.rules[0].from[0].source.principals[0]: \"spiffe://cluster.local/ns/a/sa/b\" must "
       "not include the spiffe:// scheme"},
      {"EmptyValue", Src("namespaces: [a, \"\"]"),
       "spec.rules[0].from[0].source.namespaces[1]: empty value not allowed"},
      {"BadIpBlock", Src("ipBlocks: [\"10.0.0.0/33\"]"),
       "spec.rules[0].from[0].source.ipBlocks[0]: \"10.0.0.0/33\" is not a CIDR"},
      {"BadNotIpBlock", Src("notIpBlocks: [\"10.0.0.\"]"),
       "spec.rules[0].from[0].source.notIpBlocks[0]: \"10.0.0.\" is not an IP address"},
      {"BadRemoteIpBlock", Src("remoteIpBlocks: [\"x/8\"]"),
       "spec.rules[0].from[0].source.remoteIpBlocks[0]: \"x/8\" is not a CIDR"},
      {"OperationMissing", Ap("  rules:\n  - to:\n    - {}"),
       "spec.rules[0].to[0].operation: must be set"},
      {"EmptyOperation", Ap("  rules:\n  - to:\n    - operation: {}"),
       "spec.rules[0].to[0].operation: must not be empty"},
      {"BadPort", Op("ports: [http]"),
       "spec.rules[0].to[0].operation.ports[0]: \"http\" is not a port number (0-65535)"},
      {"PortOutOfRange", Op("notPorts: [\"70000\"]"),
       "spec.rules[0].to[0].operation.notPorts[0]: \"70000\" is not a port number"},
      {"BadPathTemplate", Op("paths: [\"/{**}/x/{*}\"]"),
       "spec.rules[0].to[0].operation.paths[0]: \"/{**}/x/{*}\" is not a valid path template: "
       "{**} must be the last operator"},
      {"EmptyMethod", Op("methods: [\"\"]"),
       "spec.rules[0].to[0].operation.methods[0]: empty value not allowed"},
      {"WhenWithoutKey", When("values: [a]"), "spec.rules[0].when[0].key: is required"},
      {"WhenEmptyKey", When("key: \"\"\n      values: [a]"),
       "spec.rules[0].when[0].key: must not be empty"},
      {"WhenWithoutValues", When("key: source.ip"),
       "spec.rules[0].when[0]: at least one of values or notValues must be set for key source.ip"},
      {"WhenUnknownKey", When("key: source.labels\n      values: [a]"),
       "spec.rules[0].when[0].key: unknown attribute \"source.labels\" (supported: "
       "request.headers[NAME], source.ip"},
      {"WhenJwtClaim", When("key: request.auth.claims[iss]\n      values: [a]"),
       "spec.rules[0].when[0].key: \"request.auth.claims[iss]\" needs JWT request authentication"},
      {"WhenEnvoyMetadata", When("key: experimental.envoy.filters.a.b[c]\n      values: [a]"),
       "reads Envoy filter metadata"},
      {"WhenDestinationNamespace", When("key: destination.namespace\n      values: [a]"),
       "attribute destination.namespace is replaced by the metadata.namespace"},
      {"WhenDestinationLabels", When("key: destination.labels[app]\n      values: [a]"),
       "is replaced by the workload selector"},
      {"WhenDestinationUser", When("key: destination.user\n      values: [a]"),
       "deprecated attribute destination.user"},
      {"WhenHeaderWithoutName", When("key: request.headers[]\n      values: [a]"),
       "bad key \"request.headers[]\": should have the form request.headers[NAME]"},
      {"WhenHeaderWithoutBrackets", When("key: request.headers\n      values: [a]"),
       "should have the form request.headers[NAME]"},
      {"WhenBadIp", When("key: destination.ip\n      notValues: [\"::1/200\"]"),
       "spec.rules[0].when[0].notValues[0]: \"::1/200\" is not a CIDR"},
      {"WhenBadPort", When("key: destination.port\n      values: [\"80\", \"eighty\"]"),
       "spec.rules[0].when[0].values[1]: \"eighty\" is not a port number"},
      {"WhenUnknownField", When("key: source.ip\n      value: [a]"),
       "spec.rules[0].when[0]: unknown field \"value\""},
      {"DenyWithoutRules", Ap("  action: DENY"),
       "spec.rules: a DENY policy without rules never matches; add an empty rule `- {}`"},
      // NetworkPolicy.
      {"NpUnknownSpecField", Np("  podselector: {}"), "spec: unknown field \"podselector\""},
      {"NpBadOperator", Np("  podSelector:\n    matchExpressions:\n    - {key: a, operator: Is}"),
       "spec.podSelector.matchExpressions[0].operator: \"Is\" is not a valid selector operator"},
      {"NpInWithoutValues",
       Np("  podSelector:\n    matchExpressions:\n    - {key: a, operator: In}"),
       "spec.podSelector.matchExpressions[0].values: must be non-empty when operator is In"},
      {"NpExistsWithValues",
       Np("  podSelector:\n    matchExpressions:\n    - {key: a, operator: Exists, values: [x]}"),
       "must be empty when operator is Exists"},
      {"NpBadPolicyType", Np("  policyTypes: [Both]"),
       "spec.policyTypes[0]: unsupported value \"Both\": supported values: \"Ingress\", "
       "\"Egress\""},
      {"NpTooManyPolicyTypes", Np("  policyTypes: [Ingress, Egress, Ingress]"),
       "spec.policyTypes: may not specify more than two policyTypes"},
      {"NpEmptyPeer", Np("  ingress:\n  - from:\n    - {}"),
       "spec.ingress[0].from[0]: must specify a peer (podSelector, namespaceSelector or ipBlock)"},
      {"NpIpBlockAndSelector",
       Np("  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}\n      podSelector: {}"),
       "spec.ingress[0].from[0]: may not specify both ipBlock and another peer"},
      {"NpIpBlockWithoutCidr", Np("  egress:\n  - to:\n    - ipBlock: {except: [10.0.0.0/9]}"),
       "spec.egress[0].to[0].ipBlock.cidr: is required"},
      {"NpBadCidr", Np("  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/40}"),
       "spec.ingress[0].from[0].ipBlock.cidr: \"10.0.0.0/40\" is not a CIDR"},
      {"NpExceptOutsideCidr",
       Np("  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}"),
       "spec.ingress[0].from[0].ipBlock.except[0]: \"10.1.0.0/24\" must be a strict subset of "
       "`cidr` 10.0.0.0/16"},
      {"NpExceptEqualCidr",
       Np("  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}"),
       "must be a strict subset"},
      {"NpBadPeerSelector",
       Np("  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: \"a b\"}}"),
       "spec.ingress[0].from[0].namespaceSelector.matchLabels.team"},
      {"NpBadProtocol", Np("  ingress:\n  - ports:\n    - protocol: ICMP"),
       "spec.ingress[0].ports[0].protocol: unsupported value \"ICMP\": supported values: \"TCP\", "
       "\"UDP\", \"SCTP\""},
      {"NpPortZero", Np("  ingress:\n  - ports:\n    - port: 0"),
       "spec.ingress[0].ports[0].port: 0 must be between 1 and 65535, inclusive"},
      {"NpPortTooLarge", Np("  ingress:\n  - ports:\n    - port: 65536"),
       "65536 must be between 1 and 65535"},
      {"NpBadPortName", Np("  ingress:\n  - ports:\n    - port: HTTP"),
       "spec.ingress[0].ports[0].port: \"HTTP\" is not a valid port name: must contain only "
       "lowercase letters, digits and '-'"},
      {"NpLongPortName", Np("  ingress:\n  - ports:\n    - port: a-very-long-port-name"),
       "must be 1 to 15 characters"},
      {"NpEndPortWithName", Np("  ingress:\n  - ports:\n    - {port: http, endPort: 90}"),
       "spec.ingress[0].ports[0].endPort: may not be specified when `port` is non-numeric"},
      {"NpEndPortWithoutPort", Np("  ingress:\n  - ports:\n    - {endPort: 90}"),
       "spec.ingress[0].ports[0].endPort: may not be specified when `port` is not specified"},
      {"NpEndPortBelowPort", Np("  egress:\n  - ports:\n    - {port: 90, endPort: 80}"),
       "spec.egress[0].ports[0].endPort: 80 must be greater than or equal to `port`"},
      {"NpUnknownRuleField", Np("  ingress:\n  - to: []"),
       "spec.ingress[0]: unknown field \"to\" (known fields: from, ports)"},
      {"NpUnknownPortField", Np("  ingress:\n  - ports:\n    - {number: 80}"),
       "spec.ingress[0].ports[0]: unknown field \"number\""},
      // PeerAuthentication.
      {"PaBadMode", Pa("  mtls: {mode: ON}"),
       "spec.mtls.mode: \"ON\" is not UNSET, DISABLE, PERMISSIVE or STRICT"},
      {"PaPortLevelWithoutSelector", Pa("  portLevelMtls:\n    8080: {mode: STRICT}"),
       "spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS"},
      {"PaPortZero",
       Pa("  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    0: {mode: STRICT}"),
       "spec.portLevelMtls.0: port must be in range 1..65535"},
      {"PaPortNotANumber",
       Pa("  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    http: {mode: STRICT}"),
       "spec.portLevelMtls.http: port must be in range 1..65535"},
      {"PaEmptyPortLevel", Pa("  selector: {matchLabels: {app: a}}\n  portLevelMtls: {}"),
       "spec.portLevelMtls: port level mTLS, if defined, must have at least one element"},
      {"PaDryRun",
       "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, "
       "annotations: {remora.io/dry-run: \"true\"}}\nspec: {mtls: {mode: STRICT}}",
       "metadata.annotations: dry-run is not supported for PeerAuthentication"},
      {"PaUnknownField", Pa("  mtls: {mode: STRICT, strict: true}"),
       "spec.mtls: unknown field \"strict\""},
  };
}

INSTANTIATE_TEST_SUITE_P(Rules, PolicyYamlErrorTest, ::testing::ValuesIn(ErrorCases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace remora::filters
