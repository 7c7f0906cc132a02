// The authorization decision engine: AuthorizationPolicy, NetworkPolicy and PeerAuthentication
// compiled once into an immutable object that any number of threads evaluate concurrently
// (const, no locks, no parsing per request).
//
//   auto engine = PolicyEngine::Build(policies, {.root_namespace = "remora-system"});
//   // The proxy: once per workload (and again when policies change), then per connection or
//   // per HTTP request:
//   std::shared_ptr<const WorkloadPolicy> mine = (*engine)->ForWorkload(ns, labels);
//   Decision d = mine->Evaluate(request);
//   if (!d.allowed()) log(DescribeOutcome(d.final)), refuse;
//   // `remoractl authz check`: selects the workload from the request itself.
//   Evaluation e = (*engine)->Evaluate(request);
//
// A request passes only if every layer that applies allows it: PeerAuthentication (STRICT needs
// an authenticated source), NetworkPolicy (ingress on inbound, egress on outbound) and
// AuthorizationPolicy (inbound: Istio authorizes at the destination). Within AuthorizationPolicy
// Istio's order holds: a matching DENY denies; else no ALLOW policy → allow; else a matching
// ALLOW rule → allow; else deny. AUDIT matches are reported, never enforced; dry-run policies are
// evaluated into a separate would-be decision, never enforced.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filters/authz_policy.h"
#include "filters/network_policy.h"
#include "filters/peer_authentication.h"
#include "filters/policy.h"
#include "filters/request.h"

namespace remora::filters {

enum class Layer { kNone, kPeerAuthentication, kNetworkPolicy, kAuthorizationPolicy };
const char* ToString(Layer layer);  // "PeerAuthentication", ...; "" for kNone

enum class Reason {
  kAllowedByRule,  // an ALLOW rule / a NetworkPolicy rule matched
  kDeniedByRule,   // a DENY rule matched
  kNoPolicy,       // no policy of the layer applies to the workload
  kNoAllowPolicy,  // only DENY/AUDIT AuthorizationPolicies apply and none denied
  kDefaultDeny,    // ALLOW policies apply and none matched / pod isolated and no rule allows
  kNotApplicable,  // the layer does not act in this direction
  kMtlsSatisfied,  // PeerAuthentication: the port's mode accepts this source
  kMtlsRequired,   // PeerAuthentication: STRICT and the source is not authenticated
  kDeferred,       // AuthorizationPolicy: left to the per-request check (EvaluateConnection)
};

// One layer's verdict, or the final one. Cheap to produce: `policy` points into the engine (valid
// while the engine lives; every WorkloadPolicy keeps its engine alive); text is built only on
// demand by DescribeOutcome.
struct Outcome {
  bool allowed = true;
  Layer layer = Layer::kNone;
  Reason reason = Reason::kNoPolicy;
  absl::string_view policy;           // "ns/name" that decided; empty when none did
  int rule = -1;                      // spec.rules[i] / spec.ingress[i] / spec.egress[i]
  std::optional<AuthzAction> action;  // the deciding rule's action (NetworkPolicy rules: ALLOW)
  Direction direction = Direction::kInbound;
  MtlsMode mtls = MtlsMode::kPermissive;  // PeerAuthentication: the port's mode
  uint16_t port = 0;                      // PeerAuthentication: the port
};

// One line: "denied by AuthorizationPolicy shop/deny-batch rule 0 (DENY)",
// "default deny: ALLOW policies apply to the workload but none matched", ...
std::string DescribeOutcome(const Outcome& outcome);

struct RuleMatch {
  absl::string_view policy;
  int rule = -1;
};

struct Decision {
  Outcome final;  // what is enforced
  Outcome peer_authentication;
  Outcome network_policy;
  Outcome authorization_policy;
  std::vector<RuleMatch> audits;  // AUDIT rules that matched: to log, not enforced
  // Set when dry-run policies apply: the decision had they been enforced.
  std::optional<Outcome> dry_run;

  bool allowed() const { return final.allowed; }
};

struct EngineOptions {
  // Policies here apply mesh-wide (Istio's root namespace, istio-system there).
  std::string root_namespace = "remora-system";
};

class PolicyEngine;

// The policies that apply to one workload, pre-selected and indexed. Immutable; keeps its engine
// alive.
class WorkloadPolicy {
 public:
  // `request.direction` picks the checks: inbound traffic is checked as this workload's
  // destination side (PeerAuthentication, NetworkPolicy ingress, AuthorizationPolicy), outbound
  // as its source side (NetworkPolicy egress).
  Decision Evaluate(const RequestAttributes& request) const;

  // Only the connection-level layers (PeerAuthentication, NetworkPolicy): what a port that
  // authorizes each HTTP request with Evaluate checks once, when the connection arrives. Its
  // authorization_policy outcome is kDeferred.
  Decision EvaluateConnection(const RequestAttributes& request) const;

  // Human-readable reasons for `decision` (which Evaluate(request) produced): per layer, what
  // decided; for a default deny, each ALLOW / NetworkPolicy rule of the workload with the clause
  // that failed and the expected versus seen value. At most `max_rules` rule lines per layer.
  std::vector<std::string> Explain(const RequestAttributes& request, const Decision& decision,
                                   size_t max_rules = 100) const;

  // Whether some AuthorizationPolicy rule of this workload reads HTTP fields (hosts, methods,
  // paths, request.headers): if not, L4 evaluation gives every HTTP request the same answer.
  bool uses_http_fields() const { return uses_http_fields_; }
  // Lowercase header names `when` conditions read (the only headers worth copying).
  const std::vector<std::string>& headers() const { return headers_; }
  // The mutual-TLS mode of each port (PeerAuthentication).
  const MtlsSettings& mtls() const { return mtls_; }
  const std::string& ns() const { return ns_; }
  // "ns/name" of every policy that applies, per layer, for status pages.
  std::vector<std::string> AuthorizationPolicyIds() const;
  std::vector<std::string> NetworkPolicyIds(PolicyType type) const;

 private:
  friend class PolicyEngine;
  struct RuleRef {
    const CompiledAuthorizationPolicy* policy;
    uint32_t rule;
  };
  // Rules of one action in evaluation order. Once large enough, indexed by the identity a rule
  // requires (exact principal, else certificate namespace): a request tries only the rules its
  // identity can satisfy plus those no identity rules out, still in order.
  class RuleList {
   public:
    void Add(const CompiledAuthorizationPolicy* policy, uint32_t rule) {
      rules_.push_back({policy, rule});
    }
    void BuildIndex();
    const RuleRef* FirstMatch(const RequestAttributes& request) const;
    const std::vector<RuleRef>& rules() const { return rules_; }

   private:
    std::vector<RuleRef> rules_;
    bool indexed_ = false;
    absl::flat_hash_map<std::string, std::vector<uint32_t>> by_principal_;
    absl::flat_hash_map<std::string, std::vector<uint32_t>> by_namespace_;
    std::vector<uint32_t> unindexed_;
  };
  struct AuthzSet {
    std::vector<const CompiledAuthorizationPolicy*> policies;
    RuleList deny, allow, audit;
    size_t allow_policies = 0;
  };
  struct NetpolSet {
    std::vector<const CompiledNetworkPolicy*> ingress, egress;
  };

  WorkloadPolicy() = default;
  Outcome EvaluateAuthz(const AuthzSet& set, const RequestAttributes& request) const;
  Outcome EvaluateNetpol(const NetpolSet& set, const RequestAttributes& request) const;
  Outcome EvaluatePeerAuthentication(const RequestAttributes& request) const;
  static Outcome Combine(const RequestAttributes& request, const Outcome& pa, const Outcome& np,
                         const Outcome& ap);
  Decision EvaluateLayers(const RequestAttributes& request, bool authorization) const;

  std::shared_ptr<const PolicyEngine> engine_;
  std::string ns_;
  AuthzSet authz_;          // enforced
  AuthzSet authz_dry_run_;  // enforced + dry-run
  NetpolSet netpol_;
  NetpolSet netpol_dry_run_;
  bool has_dry_run_authz_ = false;
  bool has_dry_run_ingress_ = false;
  bool has_dry_run_egress_ = false;
  MtlsSettings mtls_;
  // "ns/name" of mtls_'s policies, pointing into the engine.
  absl::string_view mtls_mode_policy_;
  absl::string_view mtls_port_policy_;
  bool uses_http_fields_ = false;
  std::vector<std::string> headers_;
};

// What Evaluate returns: the decision and the workload view that explains it (which also keeps
// the engine, and so the decision's string views, alive).
struct Evaluation {
  std::shared_ptr<const WorkloadPolicy> workload;
  Decision decision;
};

class PolicyEngine : public std::enable_shared_from_this<PolicyEngine> {
 public:
  // Validates and compiles every policy. InvalidArgument naming the policy and the field
  // ("AuthorizationPolicy shop/allow-web: spec.rules[0]...: ..."), or a duplicate.
  static absl::StatusOr<std::shared_ptr<const PolicyEngine>> Build(const PolicySet& policies,
                                                                   EngineOptions options = {});

  // The policies that select the workload `ns`/`labels`. Cost: proportional to the policies of
  // `ns` and the root namespace.
  std::shared_ptr<const WorkloadPolicy> ForWorkload(const std::string& ns,
                                                    const Labels& labels) const;

  // Selects the workload from the request (the destination of inbound traffic, the source of
  // outbound traffic) and evaluates. Convenient, not the fast path: it selects on every call.
  Evaluation Evaluate(const RequestAttributes& request) const;

  // The effective mutual-TLS settings of a workload.
  MtlsSettings Mtls(const std::string& ns, const Labels& labels) const;

  const EngineOptions& options() const { return options_; }
  size_t authorization_policy_count() const { return authz_.size(); }
  size_t network_policy_count() const { return netpol_.size(); }
  size_t peer_authentication_count() const { return peer_auth_.size(); }
  size_t rule_count() const { return rule_count_; }

 private:
  PolicyEngine() = default;

  EngineOptions options_;
  // Sorted by "ns/name": the order in which rules are tried and reported.
  std::vector<CompiledAuthorizationPolicy> authz_;
  std::vector<CompiledNetworkPolicy> netpol_;
  std::vector<PeerAuthentication> peer_auth_;
  std::vector<std::string> peer_auth_ids_;  // parallel to peer_auth_
  // Positions in the vectors above, by namespace.
  absl::flat_hash_map<std::string, std::vector<uint32_t>> authz_by_ns_;
  absl::flat_hash_map<std::string, std::vector<uint32_t>> netpol_by_ns_;
  absl::flat_hash_map<std::string, std::vector<const PeerAuthentication*>> peer_auth_by_ns_;
  size_t rule_count_ = 0;
};

}  // namespace remora::filters
