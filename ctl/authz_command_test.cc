// `remoractl authz check` and `authz test` as operators run them: the real binary, files on disk,
// exit statuses and output.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPolicies[] = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-frontend
  namespace: shop
spec:
  selector:
    matchLabels:
      app: web
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"]
    to:
    - operation:
        methods: ["GET"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-batch
  namespace: shop
spec:
  action: DENY
  rules:
  - from:
    - source:
        namespaces: ["batch"]
)";

constexpr char kNetworkPolicy[] = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
  - ports:
    - port: 8080
)";

std::string Request(const std::string& principal, const std::string& method) {
  return absl::StrCat(R"({"source": {"principal": "spiffe://)", principal,
                      R"(", "ip": "10.0.0.5"}, "destination": {"namespace": "shop", "labels": )",
                      R"({"app": "web"}, "port": 8080}, "request": {"method": ")", method,
                      R"(", "path": "/api"}})");
}

// Parses `text` as exactly one JSON value; a test failure (not an exception) otherwise.
nlohmann::json Json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not one JSON value: " << text;
  return j.is_discarded() ? nlohmann::json::object() : j;
}

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr
};

class RemoractlAuthzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    WriteFileOrDie(dir_ + "/policies.yaml", kPolicies);
  }

  std::string Write(const std::string& name, const std::string& content) {
    WriteFileOrDie(dir_ + "/" + name, content);
    return dir_ + "/" + name;
  }

  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), Runfile("ctl/remoractl"));
    return Exec(std::move(args));
  }

  // Through a shell, for standard input.
  Result Shell(const std::string& command) {
    return Exec({"/bin/sh", "-c", absl::StrCat("'", Runfile("ctl/remoractl"), "' ", command)});
  }

  Result Exec(std::vector<std::string> argv) {
    const std::string log = absl::StrCat(dir_, "/run", ++runs_, ".log");
    absl::StatusOr<Subprocess> p = Subprocess::Start(std::move(argv), log);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return {};
    absl::StatusOr<int> status = p->Wait(absl::Seconds(30));
    EXPECT_TRUE(status.ok()) << status.status();
    return {status.ok() ? *status : -1, ReadFileOrEmpty(log)};
  }

  std::string dir_;
  int runs_ = 0;
};

TEST_F(RemoractlAuthzTest, CheckAllowPrintsOneJsonObject) {
  const std::string request =
      Write("req.json", Request("cluster.local/ns/shop/sa/frontend", "GET"));
  Result r =
      Run({"authz", "check", "-f", dir_ + "/policies.yaml", "--request", request, "-o", "json"});
  EXPECT_EQ(r.status, 0) << r.output;
  nlohmann::json j = Json(r.output);  // exactly one object, nothing else
  EXPECT_EQ(j["decision"], "ALLOW");
  EXPECT_EQ(j["policy"], "shop/allow-frontend");
  EXPECT_EQ(j["rule"], 0);
  EXPECT_EQ(j["action"], "ALLOW");
  EXPECT_EQ(j["reason"], "allowed by AuthorizationPolicy shop/allow-frontend rule 0 (ALLOW)");
  EXPECT_EQ(j["layer"], "AuthorizationPolicy");
}

TEST_F(RemoractlAuthzTest, PolicyFileThatIsNotUtf8IsBadInputNotAnInternalError) {
  // A Latin-1 byte in a principal used to reach the JSON explanation, where nlohmann's dump()
  // threw: "internal error: [json.exception.type_error.316]". YAML is UTF-8; the reader says so.
  std::string yaml = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-caf, namespace: shop}
spec:
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/caf?"]
)";
  yaml[yaml.find('?')] = '\xe9';  // "café" in Latin-1
  const std::string policies = Write("latin1.yaml", yaml);
  const std::string request = Write("req.json", Request("cluster.local/ns/shop/sa/web", "GET"));
  Result r = Run({"authz", "check", "-f", policies, "--request", request, "-o", "json"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr(policies + ": line 8, column 51: byte 0xE9 is not valid UTF-8; YAML is "
                                   "UTF-8 text, so save the file as UTF-8"));
  EXPECT_THAT(r.output, Not(HasSubstr("internal error")));
}

TEST_F(RemoractlAuthzTest, RewrittenProbesAreANamedBuiltInRule) {
  // A plaintext kubelet probe on the sidecar's health port: allowed by name, not by a policy.
  const std::string request = Write("probe.json", R"({
    "source": {"ip": "10.0.0.1"},
    "destination": {"namespace": "shop", "labels": {"app": "web"}, "port": 15021, "protocol": "http"},
    "request": {"method": "GET", "path": "/app-health/web/readyz"},
    "direction": "inbound"})");
  Result r =
      Run({"authz", "check", "-f", dir_ + "/policies.yaml", "--request", request, "-o", "json"});
  EXPECT_EQ(r.status, 0) << r.output;
  nlohmann::json j = Json(r.output);
  EXPECT_EQ(j["decision"], "ALLOW");
  EXPECT_EQ(j["builtin"], "kubelet-probes");
  EXPECT_THAT(j["reason"].get<std::string>(),
              ::testing::HasSubstr("sidecar.remora.io/rewrittenProbes"));
}

TEST_F(RemoractlAuthzTest, CheckDenyByRuleExitsThree) {
  const std::string request = Write("req.json", Request("cluster.local/ns/batch/sa/job", "GET"));
  Result r =
      Run({"authz", "check", "-f", dir_ + "/policies.yaml", "--request", request, "-o", "json"});
  EXPECT_EQ(r.status, 3) << r.output;
  nlohmann::json j = Json(r.output);
  EXPECT_EQ(j["decision"], "DENY");
  EXPECT_EQ(j["policy"], "shop/deny-batch");
  EXPECT_EQ(j["rule"], 0);
  EXPECT_EQ(j["action"], "DENY");
}

TEST_F(RemoractlAuthzTest, CheckDefaultDenyExplainsTheAllowMiss) {
  const std::string request = Write("req.json", Request("cluster.local/ns/shop/sa/batch", "POST"));
  Result json =
      Run({"authz", "check", "-f", dir_ + "/policies.yaml", "--request", request, "-o", "json"});
  EXPECT_EQ(json.status, 3) << json.output;
  nlohmann::json j = Json(json.output);
  EXPECT_EQ(j["decision"], "DENY");
  EXPECT_TRUE(j["policy"].is_null());
  EXPECT_TRUE(j["rule"].is_null());
  EXPECT_TRUE(j["action"].is_null());
  EXPECT_EQ(j["reason"], "default deny: ALLOW policies apply to the workload but none matched");

  Result text = Run({"authz", "check", "-f", dir_ + "/policies.yaml", "--request", request});
  EXPECT_EQ(text.status, 3);
  EXPECT_THAT(text.output, HasSubstr("DENY: default deny: ALLOW policies apply to the workload but "
                                     "none matched\nwhy:\n"));
  EXPECT_THAT(text.output,
              HasSubstr("shop/allow-frontend rule 0: from[0].source.principals expected "
                        "[cluster.local/ns/shop/sa/frontend] got cluster.local/ns/shop/sa/batch; "
                        "to[0].operation.methods expected [GET] got POST"));
}

TEST_F(RemoractlAuthzTest, CheckUnderstandsServiceAccountsAndTrustDomains) {
  const std::string policies = Write("sa.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-frontend-sa
  namespace: shop
spec:
  selector:
    matchLabels:
      app: web
  rules:
  - from:
    - source:
        serviceAccounts: ["frontend"]
        trustDomains: ["cluster.local"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-other-namespaces
  namespace: shop
spec:
  action: DENY
  rules:
  - from:
    - source:
        notServiceAccounts: ["shop/frontend", "shop/batch"]
)");
  Result allow =
      Run({"authz", "check", "-f", policies, "--request",
           Write("a.json", Request("cluster.local/ns/shop/sa/frontend", "GET")), "-o", "json"});
  EXPECT_EQ(allow.status, 0) << allow.output;
  EXPECT_EQ(Json(allow.output)["policy"], "shop/allow-frontend-sa");

  Result deny = Run({"authz", "check", "-f", policies, "--request",
                     Write("d.json", Request("cluster.local/ns/ops/sa/frontend", "GET"))});
  EXPECT_EQ(deny.status, 3) << deny.output;
  EXPECT_THAT(deny.output,
              HasSubstr("DENY: denied by AuthorizationPolicy shop/deny-other-namespaces "
                        "rule 0"));

  Result miss = Run({"authz", "check", "-f", policies, "--request",
                     Write("m.json", Request("cluster.local/ns/shop/sa/batch", "GET"))});
  EXPECT_EQ(miss.status, 3) << miss.output;
  EXPECT_THAT(miss.output,
              HasSubstr("shop/allow-frontend-sa rule 0: from[0].source.serviceAccounts expected "
                        "[shop/frontend] got shop/batch (cluster.local/ns/shop/sa/batch)"));

  const std::string bad = Write("bad.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: shop}
spec:
  rules:
  - from:
    - source:
        serviceAccounts: ["shop/*"]
)");
  Result refused = Run({"authz", "check", "-f", bad, "--request",
                        Write("r.json", Request("cluster.local/ns/shop/sa/batch", "GET"))});
  EXPECT_EQ(refused.status, 2);
  EXPECT_THAT(refused.output,
              HasSubstr(bad + ": document 1 (AuthorizationPolicy shop/p): "
                              "spec.rules[0].from[0].source.serviceAccounts[0]: \"shop/*\": "
                              "wildcards are not allowed; list each service account by name"));
}

TEST_F(RemoractlAuthzTest, CheckRequiresEveryLayer) {
  const std::string np = Write("np.yaml", kNetworkPolicy);
  const std::string request =
      Write("req.json", R"({"source": {"principal": "cluster.local/ns/shop/sa/frontend"},
                      "destination": {"namespace": "shop", "labels": {"app": "web"}, "port": 9090},
                      "request": {"method": "GET", "path": "/"}})");
  Result r = Run({"authz", "check", "-f", dir_ + "/policies.yaml", "-f", np, "--request", request,
                  "-o", "json"});
  EXPECT_EQ(r.status, 3) << r.output;
  nlohmann::json j = Json(r.output);
  EXPECT_EQ(j["layer"], "NetworkPolicy");
  EXPECT_EQ(j["layers"]["AuthorizationPolicy"]["decision"], "ALLOW");
  EXPECT_EQ(j["layers"]["NetworkPolicy"]["decision"], "DENY");
}

TEST_F(RemoractlAuthzTest, FilesFromADirectoryAndStandardInput) {
  const std::string dir = TestDir(
      absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), "/policies.d"));
  Write("policies.d/10-authz.yaml", kPolicies);
  Write("policies.d/20-np.yml", kNetworkPolicy);
  Write("policies.d/README.txt", "not yaml: [");
  const std::string request =
      Write("req.json", Request("cluster.local/ns/shop/sa/frontend", "GET"));
  Result r = Run({"authz", "check", "-f", dir, "--request", request, "-o", "json"});
  EXPECT_EQ(r.status, 0) << r.output;
  Result piped = Shell(absl::StrCat("authz check -f - --request '", request, "' -o json < '", dir_,
                                    "/policies.yaml'"));
  EXPECT_EQ(piped.status, 0) << piped.output;
  EXPECT_EQ(Json(piped.output)["policy"], "shop/allow-frontend");
  Result request_piped = Shell(
      absl::StrCat("authz check -f '", dir_, "/policies.yaml' --request - < '", request, "'"));
  EXPECT_EQ(request_piped.status, 0) << request_piped.output;
  EXPECT_THAT(request_piped.output, HasSubstr("ALLOW: allowed by AuthorizationPolicy"));
}

TEST_F(RemoractlAuthzTest, BadInputExitsTwoWithTheReason) {
  const std::string good_request =
      Write("req.json", Request("cluster.local/ns/shop/sa/frontend", "GET"));
  const std::string bad_policy = Write("bad.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: shop}
spec:
  rules:
  - from:
    - source:
        ipBlocks: ["10.0.0.0/33"]
)");
  Result r = Run({"authz", "check", "-f", bad_policy, "--request", good_request});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.output,
              HasSubstr("remoractl: " + bad_policy +
                        ": document 1 (AuthorizationPolicy shop/bad): "
                        "spec.rules[0].from[0].source.ipBlocks[0]: \"10.0.0.0/33\" is not "
                        "a CIDR"));
  const std::string bad_request =
      Write("bad.json", R"({"destination": {"namespace": "shop", "port": "8080"}})");
  r = Run({"authz", "check", "-f", dir_ + "/policies.yaml", "--request", bad_request});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.output, HasSubstr("bad.json: destination.port: must be an integer from 1 to "
                                  "65535, not the string \"8080\""));
  r = Run({"authz", "check", "-f", dir_ + "/missing.yaml", "--request", good_request});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.output, HasSubstr("missing.yaml"));
  r = Run({"authz", "check", "-f", dir_ + "/policies.yaml"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.output, HasSubstr("check needs --request REQUEST.json"));
  r = Run({"authz", "check", "--request", good_request});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.output, HasSubstr("-f POLICIES.yaml is required"));
  r = Run(
      {"authz", "check", "-f", dir_ + "/policies.yaml", "--request", good_request, "-o", "xml"});
  EXPECT_EQ(r.status, 2);
  r = Run({"authz", "frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown authz action \"frobnicate\""));
  r = Run({"authz", "check", "--bogus"});
  EXPECT_EQ(r.status, 2);
}

TEST_F(RemoractlAuthzTest, TestRunsCasesAndSummarizes) {
  const std::string cases = Write("cases.yaml", R"(cases:
- name: frontend may GET
  request:
    source: {principal: cluster.local/ns/shop/sa/frontend}
    destination: {namespace: shop, labels: {app: web}, port: 8080}
    request: {method: GET, path: /api}
  decision: ALLOW
  policy: shop/allow-frontend
  rule: 0
- name: batch is denied by rule
  request:
    source: {principal: cluster.local/ns/batch/sa/job}
    destination: {namespace: shop, labels: {app: web}, port: 8080}
  decision: DENY
  policy: shop/deny-batch
- name: plaintext is denied by default
  request:
    destination: {namespace: shop, labels: {app: web}, port: 8080}
  decision: DENY
  policy: null
)");
  Result r = Run({"authz", "test", "-f", dir_ + "/policies.yaml", "--cases", cases});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("PASS  frontend may GET\n"));
  EXPECT_THAT(r.output, HasSubstr("PASS  plaintext is denied by default\n"));
  EXPECT_THAT(r.output, HasSubstr("3 cases: 3 passed, 0 failed\n"));
  EXPECT_THAT(r.output, Not(HasSubstr("FAIL")));
}

TEST_F(RemoractlAuthzTest, TestFailsWithExitOneAndSaysWhy) {
  const std::string cases = Write("cases.yaml", R"(- name: batch allowed?
  request:
    source: {principal: cluster.local/ns/batch/sa/job}
    destination: {namespace: shop, labels: {app: web}, port: 8080}
  decision: ALLOW
- name: wrong policy
  request:
    source: {principal: cluster.local/ns/shop/sa/frontend}
    destination: {namespace: shop, labels: {app: web}, port: 8080}
    request: {method: GET, path: /}
  decision: ALLOW
  policy: shop/other
- name: right
  request:
    source: {principal: cluster.local/ns/shop/sa/frontend}
    destination: {namespace: shop, labels: {app: web}, port: 8080}
    request: {method: GET, path: /}
  decision: ALLOW
)");
  Result r = Run({"authz", "test", "-f", dir_ + "/policies.yaml", "--cases", cases});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAIL  batch allowed?: expected ALLOW, got DENY (denied by "
                                  "AuthorizationPolicy shop/deny-batch rule 0 (DENY))"));
  EXPECT_THAT(r.output, HasSubstr("FAIL  wrong policy: expected policy shop/other, got "
                                  "shop/allow-frontend"));
  EXPECT_THAT(r.output, HasSubstr("PASS  right\n"));
  EXPECT_THAT(r.output, HasSubstr("3 cases: 1 passed, 2 failed\n"));

  const std::string bad = Write("bad.yaml", "- name: x\n  decision: MAYBE\n  request: {}\n");
  r = Run({"authz", "test", "-f", dir_ + "/policies.yaml", "--cases", bad});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.output, HasSubstr("[0].request.destination.namespace: is required"));
}

TEST_F(RemoractlAuthzTest, HelpExitsZero) {
  Result r = Run({"authz", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("remoractl authz check -f POLICIES.yaml"));
}

}  // namespace
}  // namespace remora::testing
