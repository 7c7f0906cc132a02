// Decisions per second with 10,000 rules: `bazel run --config=opt //filters:authz_bench`.
//
// The policy set is a mesh of 100 namespaces x 10 workloads: per namespace, one ALLOW policy per
// workload (9 rules mixing exact and prefix principals, namespaces, ports, methods, paths and a
// header condition), one namespace-wide DENY policy (5 rules) and one NetworkPolicy (5 ingress
// rules): 10,000 rules. Requests are HTTP, with sources spread over the mesh and the outside.
// Reported: the proxy's path (a WorkloadPolicy selected once per workload, then one Evaluate per
// request), the same on two threads, `remoractl`'s path (selection on every call), and a worst
// case where all 10,000 rules apply to one workload.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filters/engine.h"

namespace remora::filters {
namespace {

constexpr int kNamespaces = 100;
constexpr int kApps = 10;

std::string Ns(int n) { return absl::StrCat("ns-", n); }
std::string App(int a) { return absl::StrCat("app-", a); }
std::string Principal(int n, int a) {
  return absl::StrCat("cluster.local/ns/", Ns(n), "/sa/", App(a));
}

AuthzSource Principals(std::vector<std::string> p) {
  AuthzSource s;
  s.principals = std::move(p);
  return s;
}

AuthzOperation Operation(std::vector<std::string> methods, std::vector<std::string> paths,
                         std::vector<std::string> ports = {}) {
  AuthzOperation o;
  o.methods = std::move(methods);
  o.paths = std::move(paths);
  o.ports = std::move(ports);
  return o;
}

PolicySet MeshPolicies() {
  PolicySet set;
  for (int n = 0; n < kNamespaces; ++n) {
    for (int a = 0; a < kApps; ++a) {
      AuthorizationPolicy p;
      p.meta = {.ns = Ns(n), .name = absl::StrCat("allow-", App(a))};
      p.selector = {{"app", App(a)}};
      const int peer = (n + 1) % kNamespaces;
      auto rule = [](std::vector<AuthzSource> from, std::vector<AuthzOperation> to,
                     std::vector<AuthzCondition> when = {}) {
        return AuthzRule{std::move(from), std::move(to), std::move(when)};
      };
      p.rules = {
          rule({Principals({Principal(n, (a + 1) % kApps), Principal(n, (a + 2) % kApps)})},
               {Operation({"GET", "HEAD"}, {"/api/*"})}),
          rule({Principals({Principal(peer, a)})}, {Operation({"POST"}, {"/api/orders"})}),
          rule({Principals({absl::StrCat("cluster.local/ns/", Ns(n), "/sa/batch-*")})},
               {Operation({"GET"}, {"/reports/*"})}),
          rule({[&] {
                 AuthzSource s;
                 s.namespaces = {Ns(peer), Ns((n + 2) % kNamespaces)};
                 return s;
               }()},
               {Operation({"GET"}, {"/public/*", "*.css"})}),
          rule({}, {Operation({}, {}, {"15020", "9090"})}),
          rule({Principals({Principal((n + 3) % kNamespaces, (a + 3) % kApps)})},
               {Operation({"PUT", "PATCH"}, {"/api/items/{*}"})}),
          rule({}, {Operation({"GET"}, {"/healthz", "/readyz"})}),
          rule({Principals({"*"})}, {}, {{"request.headers[x-api-key]", {"key-*"}, {}}}),
          rule({[&] {
                 AuthzSource s;
                 s.ip_blocks = {absl::StrCat("10.", n, ".0.0/16")};
                 return s;
               }()},
               {Operation({"GET"}, {"/internal/*"})}),
      };
      set.authorization_policies.push_back(std::move(p));
    }
    AuthorizationPolicy deny;
    deny.meta = {.ns = Ns(n), .name = "deny"};
    deny.action = AuthzAction::kDeny;
    AuthzSource outside;
    outside.not_ip_blocks = {"10.0.0.0/8"};
    AuthzSource batch;
    batch.namespaces = {"batch"};
    deny.rules = {
        {{outside}, {Operation({}, {"/admin*"})}, {}},
        {{batch}, {Operation({"DELETE"}, {})}, {}},
        {{}, {Operation({}, {"*/.git/*"})}, {}},
        {{}, {}, {{"request.headers[x-debug]", {"*"}, {}}}},
        {{Principals({Principal((n + 50) % kNamespaces, 0)})}, {}, {}},
    };
    set.authorization_policies.push_back(std::move(deny));
    NetworkPolicy np;
    np.meta = {.ns = Ns(n), .name = "ingress"};
    for (int r = 0; r < 5; ++r) {
      NetworkPolicyRule rule;
      NetworkPolicyPeer peer;
      peer.namespace_selector =
          LabelSelector{{{"kubernetes.io/metadata.name", Ns((n + r) % kNamespaces)}}, {}};
      rule.peers = {peer};
      NetworkPolicyPort port;
      port.port = 8000;
      port.end_port = 8100;
      rule.ports = {port};
      np.ingress.push_back(rule);
    }
    set.network_policies.push_back(std::move(np));
  }
  return set;
}

std::vector<RequestAttributes> Requests(int count, std::mt19937& rng, int only_ns = -1) {
  static const char* kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"};
  static const char* kPaths[] = {"/api/items/42",  "/api/orders",  "/public/site.css", "/healthz",
                                 "/reports/daily", "/admin/users", "/internal/x",      "/other"};
  std::vector<RequestAttributes> out;
  for (int i = 0; i < count; ++i) {
    RequestAttributes r;
    const int dn = only_ns >= 0 ? only_ns : static_cast<int>(rng() % kNamespaces);
    r.destination.ns = Ns(dn);
    r.destination.labels = {{"app", App(static_cast<int>(rng() % kApps))}};
    r.destination.port = 8080;
    r.destination.protocol = Protocol::kHttp;
    r.destination.ip = IpAddress::V4(0x0a000000u | (dn << 16) | 7);
    const int sn = rng() % 4 == 0 ? dn : static_cast<int>(rng() % kNamespaces);
    if (rng() % 10 != 0) {
      r.source.principal = Principal(sn, static_cast<int>(rng() % kApps));
      r.source.ns = Ns(sn);
      r.source.labels = {{"app", App(static_cast<int>(rng() % kApps))}};
    }
    r.source.ip = IpAddress::V4(rng() % 8 == 0 ? 0xc0000201u : (0x0a000000u | (sn << 16) | 5));
    r.http.method = kMethods[rng() % 7];
    r.http.path = kPaths[rng() % 8];
    r.http.host = "web";
    if (rng() % 3 == 0) r.http.headers["x-api-key"] = "key-123";
    out.push_back(std::move(r));
  }
  return out;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

template <typename F>
void Report(const char* what, int decisions, F&& run) {
  const auto start = std::chrono::steady_clock::now();
  const int allowed = run();
  const double s = Seconds(std::chrono::steady_clock::now() - start);
  std::printf("%-58s %12.0f decisions/s  (%.2f us each, %d%% allowed)\n", what, decisions / s,
              1e6 * s / decisions, allowed * 100 / decisions);
}

int Main() {
  std::mt19937 rng(42);
  PolicySet set = MeshPolicies();
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<const PolicyEngine>> built = PolicyEngine::Build(set);
  if (!built.ok()) {
    std::fprintf(stderr, "build: %s\n", std::string(built.status().message()).c_str());
    return 1;
  }
  const PolicyEngine& engine = **built;
  std::printf(
      "policies: %zu AuthorizationPolicy + %zu NetworkPolicy, %zu rules; compiled in %.1f ms\n",
      engine.authorization_policy_count(), engine.network_policy_count(), engine.rule_count(),
      1e3 * Seconds(std::chrono::steady_clock::now() - start));

  // The proxy: one WorkloadPolicy per workload, built once.
  std::vector<std::shared_ptr<const WorkloadPolicy>> workloads;
  std::vector<std::vector<RequestAttributes>> per_workload;
  start = std::chrono::steady_clock::now();
  for (int n = 0; n < kNamespaces; ++n) {
    for (int a = 0; a < kApps; ++a) {
      workloads.push_back(engine.ForWorkload(Ns(n), {{"app", App(a)}}));
    }
  }
  std::printf("selected %zu workloads in %.1f ms\n", workloads.size(),
              1e3 * Seconds(std::chrono::steady_clock::now() - start));
  constexpr int kPerWorkload = 200;
  for (size_t w = 0; w < workloads.size(); ++w) {
    std::vector<RequestAttributes> rs = Requests(kPerWorkload, rng, static_cast<int>(w / kApps));
    for (auto& r : rs) r.destination.labels = {{"app", App(static_cast<int>(w % kApps))}};
    per_workload.push_back(std::move(rs));
  }
  const int total = static_cast<int>(workloads.size()) * kPerWorkload;
  auto proxy_pass = [&](int rounds) {
    int allowed = 0;
    for (int round = 0; round < rounds; ++round) {
      for (size_t w = 0; w < workloads.size(); ++w) {
        for (const RequestAttributes& r : per_workload[w])
          allowed += workloads[w]->Evaluate(r).allowed();
      }
    }
    return allowed;
  };
  proxy_pass(1);  // warm up
  Report("proxy path (per-workload, 1 thread)", total * 5, [&] { return proxy_pass(5); });
  Report("proxy path (per-workload, 2 threads, total)", total * 10, [&] {
    int a = 0, b = 0;
    std::thread t([&] { a = proxy_pass(5); });
    b = proxy_pass(5);
    t.join();
    return a + b;
  });

  // remoractl: selection on every call.
  std::vector<RequestAttributes> mixed = Requests(20000, rng);
  Report("remoractl path (select + evaluate per call)", static_cast<int>(mixed.size()), [&] {
    int allowed = 0;
    for (const RequestAttributes& r : mixed) allowed += engine.Evaluate(r).decision.allowed();
    return allowed;
  });

  // Worst case: every one of 10,000 ALLOW rules applies to one workload (1,000 namespace-wide
  // policies of 10 rules). Exact principals are indexed by principal, prefixes that pin a
  // namespace by namespace; suffixes pin nothing and every rule is tried.
  enum class Form { kExact, kPrefix, kSuffix };
  for (Form form : {Form::kExact, Form::kPrefix, Form::kSuffix}) {
    PolicySet big;
    for (int p = 0; p < 1000; ++p) {
      AuthorizationPolicy policy;
      policy.meta = {.ns = "big", .name = absl::StrCat("p-", p)};
      for (int r = 0; r < 10; ++r) {
        const int id = p * 10 + r;
        std::string principal = absl::StrCat("cluster.local/ns/c", id % 500, "/sa/s", id);
        if (form == Form::kPrefix)
          principal = absl::StrCat("cluster.local/ns/c", id % 500, "/sa/s", id, "*");
        if (form == Form::kSuffix) principal = absl::StrCat("*/sa/s", id);
        policy.rules.push_back({{Principals({principal})},
                                {Operation({"GET"}, {absl::StrCat("/v", id % 7, "/*")})},
                                {}});
      }
      big.authorization_policies.push_back(std::move(policy));
    }
    auto big_engine = PolicyEngine::Build(big);
    auto w = (*big_engine)->ForWorkload("big", {{"app", "x"}});
    std::vector<RequestAttributes> rs;
    for (int i = 0; i < 2000; ++i) {
      RequestAttributes r;
      r.destination.ns = "big";
      r.destination.protocol = Protocol::kHttp;
      r.destination.port = 8080;
      const int id = static_cast<int>(rng() % 12000);  // some principals match no rule
      r.source.principal = absl::StrCat("cluster.local/ns/c", id % 500, "/sa/s", id);
      r.http.method = "GET";
      r.http.path = absl::StrCat("/v", rng() % 7, "/x");
      rs.push_back(std::move(r));
    }
    const int rounds = form == Form::kSuffix ? 1 : 50;
    const char* what = form == Form::kExact    ? "one workload, 10,000 rules, exact principals"
                       : form == Form::kPrefix ? "one workload, 10,000 rules, ns-pinning prefixes"
                                               : "one workload, 10,000 rules, suffixes (no index)";
    Report(what, static_cast<int>(rs.size()) * rounds, [&] {
      int allowed = 0;
      for (int round = 0; round < rounds; ++round) {
        for (const RequestAttributes& r : rs) allowed += w->Evaluate(r).allowed();
      }
      return allowed;
    });
  }
  return 0;
}

}  // namespace
}  // namespace remora::filters

int main() { return remora::filters::Main(); }
