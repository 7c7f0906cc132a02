// Fuzz target: policy documents must never crash or hang the parser, and whatever parses must
// build into an engine that evaluates and explains without crashing.
#include <cstdint>

#include "filters/engine.h"
#include "filters/policy_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace remora::filters;
  absl::StatusOr<PolicySet> set =
      ParsePolicyDocuments(absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!set.ok()) return 0;
  absl::StatusOr<std::shared_ptr<const PolicyEngine>> engine = PolicyEngine::Build(*set);
  if (!engine.ok()) __builtin_trap();  // ParsePolicyDocuments promises a set that builds
  for (const AuthorizationPolicy& p : set->authorization_policies) {
    RequestAttributes r;
    r.destination.ns = p.meta.ns;
    r.destination.labels = p.selector;
    r.destination.port = 8080;
    r.source.ip = IpAddress::V4(0x0a000005);
    // A canonical identity, one with extra path segments (serviceAccounts' regex allows them)
    // and plaintext.
    for (const char* principal : {"cluster.local/ns/a/sa/b", "east.example/ns/a/x/sa/b/c", ""}) {
      r.source.principal = principal;
      for (Protocol protocol : {Protocol::kTcp, Protocol::kHttp}) {
        r.destination.protocol = protocol;
        r.http.method = "GET";
        r.http.path = "/api/v1?x=1";
        r.http.headers["x-token"] = "t";
        Evaluation e = (*engine)->Evaluate(r);
        (void)e.workload->Explain(r, e.decision);
      }
    }
  }
  for (const NetworkPolicy& p : set->network_policies) {
    RequestAttributes r;
    r.destination.ns = p.meta.ns;
    r.destination.labels = p.pod_selector.match_labels;
    r.source.ns = p.meta.ns;
    Evaluation e = (*engine)->Evaluate(r);
    (void)e.workload->Explain(r, e.decision);
    r.direction = Direction::kOutbound;
    e = (*engine)->Evaluate(r);
    (void)e.workload->Explain(r, e.decision);
  }
  return 0;
}
