#include "filters/engine.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace remora::filters {
namespace {

// Below this many rules a linear scan is as fast as the index.
constexpr size_t kIndexThreshold = 16;

bool SelectorMatches(const Labels& selector, const Labels& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

const char* DirectionWord(PolicyType type) {
  return type == PolicyType::kIngress ? "ingress" : "egress";
}

}  // namespace

const char* ToString(Layer layer) {
  switch (layer) {
    case Layer::kNone:
      return "";
    case Layer::kPeerAuthentication:
      return "PeerAuthentication";
    case Layer::kNetworkPolicy:
      return "NetworkPolicy";
    case Layer::kAuthorizationPolicy:
      return "AuthorizationPolicy";
  }
  return "";
}

std::string DescribeOutcome(const Outcome& o) {
  const bool inbound = o.direction == Direction::kInbound;
  switch (o.layer) {
    case Layer::kNone:
      return inbound ? "no policy applies: no AuthorizationPolicy or NetworkPolicy selects the "
                       "destination workload"
                     : "no policy applies: no NetworkPolicy selects the source workload for egress";
    case Layer::kPeerAuthentication:
      if (o.reason == Reason::kNotApplicable) {
        return "PeerAuthentication applies to inbound traffic only";
      }
      if (o.reason == Reason::kMtlsRequired) {
        return absl::StrCat(
            "mutual TLS required: port ", o.port, " is STRICT",
            o.policy.empty() ? "" : absl::StrCat(" (PeerAuthentication ", o.policy, ")"),
            " and the source is not authenticated");
      }
      return absl::StrCat("port ", o.port, " accepts the source (mTLS ", ToString(o.mtls),
                          o.policy.empty() ? ", the default" : absl::StrCat(", ", o.policy), ")");
    case Layer::kNetworkPolicy: {
      const char* pod = inbound ? "destination" : "source";
      const char* dir = inbound ? "ingress" : "egress";
      switch (o.reason) {
        case Reason::kAllowedByRule:
          return absl::StrCat("allowed by NetworkPolicy ", o.policy, " ", dir, "[", o.rule, "]");
        case Reason::kDefaultDeny:
          return absl::StrCat("default deny: NetworkPolicy isolates the ", pod, " pod for ", dir,
                              " and no ", dir, " rule allows this traffic");
        default:
          return absl::StrCat("no NetworkPolicy selects the ", pod, " pod for ", dir);
      }
    }
    case Layer::kAuthorizationPolicy:
      switch (o.reason) {
        case Reason::kAllowedByRule:
          return absl::StrCat("allowed by AuthorizationPolicy ", o.policy, " rule ", o.rule,
                              " (ALLOW)");
        case Reason::kDeniedByRule:
          return absl::StrCat("denied by AuthorizationPolicy ", o.policy, " rule ", o.rule,
                              " (DENY)");
        case Reason::kNoAllowPolicy:
          return "no ALLOW AuthorizationPolicy applies to the workload and no DENY rule matched";
        case Reason::kDefaultDeny:
          return "default deny: ALLOW policies apply to the workload but none matched";
        case Reason::kNotApplicable:
          return "AuthorizationPolicy is enforced on the destination's inbound side, not on "
                 "outbound traffic";
        case Reason::kDeferred:
          return "AuthorizationPolicy is checked for each HTTP request";
        default:
          return "no AuthorizationPolicy applies to the workload";
      }
  }
  return "";
}

// ---- RuleList -----------------------------------------------------------------------------------

void WorkloadPolicy::RuleList::BuildIndex() {
  if (rules_.size() < kIndexThreshold) return;
  indexed_ = true;
  auto add = [](absl::flat_hash_map<std::string, std::vector<uint32_t>>* index,
                const std::vector<std::string>& keys, uint32_t i) {
    for (const std::string& key : keys) (*index)[key].push_back(i);  // keys are deduplicated
  };
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    const AuthzCompiledRule& rule = rules_[i].policy->rules()[rules_[i].rule];
    if (!rule.required_principals.empty()) {
      add(&by_principal_, rule.required_principals, i);
    } else if (!rule.required_namespaces.empty()) {
      add(&by_namespace_, rule.required_namespaces, i);
    } else {
      unindexed_.push_back(i);
    }
  }
}

const WorkloadPolicy::RuleRef* WorkloadPolicy::RuleList::FirstMatch(
    const RequestAttributes& request) const {
  if (!indexed_) {
    for (const RuleRef& ref : rules_) {
      if (ref.policy->RuleMatches(ref.rule, request)) return &ref;
    }
    return nullptr;
  }
  // Merge, in rule order, the rules the source's principal and namespace can satisfy with those
  // the index cannot rule out.
  auto bucket = [](const absl::flat_hash_map<std::string, std::vector<uint32_t>>& index,
                   absl::string_view key) -> const std::vector<uint32_t>* {
    if (key.empty()) return nullptr;
    auto it = index.find(key);
    return it == index.end() ? nullptr : &it->second;
  };
  const std::vector<uint32_t>* lists[3] = {
      bucket(by_principal_, request.source.principal),
      bucket(by_namespace_, PrincipalNamespace(request.source.principal)), &unindexed_};
  size_t pos[3] = {0, 0, 0};
  while (true) {
    int best = -1;
    for (int l = 0; l < 3; ++l) {
      if (lists[l] == nullptr || pos[l] == lists[l]->size()) continue;
      if (best < 0 || (*lists[l])[pos[l]] < (*lists[best])[pos[best]]) best = l;
    }
    if (best < 0) return nullptr;
    const RuleRef& ref = rules_[(*lists[best])[pos[best]++]];
    if (ref.policy->RuleMatches(ref.rule, request)) return &ref;
  }
}

// ---- WorkloadPolicy -----------------------------------------------------------------------------

Outcome WorkloadPolicy::EvaluateAuthz(const AuthzSet& set, const RequestAttributes& request) const {
  Outcome o;
  o.layer = Layer::kAuthorizationPolicy;
  o.direction = request.direction;
  if (request.direction == Direction::kOutbound) {
    o.reason = Reason::kNotApplicable;
    return o;
  }
  if (set.policies.empty()) return o;  // kNoPolicy
  if (const RuleRef* deny = set.deny.FirstMatch(request)) {
    o.allowed = false;
    o.reason = Reason::kDeniedByRule;
    o.policy = deny->policy->id();
    o.rule = static_cast<int>(deny->rule);
    o.action = AuthzAction::kDeny;
    return o;
  }
  if (set.allow_policies == 0) {
    o.reason = Reason::kNoAllowPolicy;
    return o;
  }
  if (const RuleRef* allow = set.allow.FirstMatch(request)) {
    o.reason = Reason::kAllowedByRule;
    o.policy = allow->policy->id();
    o.rule = static_cast<int>(allow->rule);
    o.action = AuthzAction::kAllow;
    return o;
  }
  o.allowed = false;
  o.reason = Reason::kDefaultDeny;
  return o;
}

Outcome WorkloadPolicy::EvaluateNetpol(const NetpolSet& set,
                                       const RequestAttributes& request) const {
  Outcome o;
  o.layer = Layer::kNetworkPolicy;
  o.direction = request.direction;
  const PolicyType type =
      request.direction == Direction::kInbound ? PolicyType::kIngress : PolicyType::kEgress;
  const std::vector<const CompiledNetworkPolicy*>& policies =
      type == PolicyType::kIngress ? set.ingress : set.egress;
  if (policies.empty()) return o;  // not isolated
  for (const CompiledNetworkPolicy* p : policies) {
    const size_t n = p->rules(type).size();
    for (size_t i = 0; i < n; ++i) {
      if (p->RuleMatches(type, i, request)) {
        o.reason = Reason::kAllowedByRule;
        o.policy = p->id();
        o.rule = static_cast<int>(i);
        o.action = AuthzAction::kAllow;
        return o;
      }
    }
  }
  o.allowed = false;
  o.reason = Reason::kDefaultDeny;
  return o;
}

Outcome WorkloadPolicy::EvaluatePeerAuthentication(const RequestAttributes& request) const {
  Outcome o;
  o.layer = Layer::kPeerAuthentication;
  o.direction = request.direction;
  if (request.direction == Direction::kOutbound) {
    o.reason = Reason::kNotApplicable;
    return o;
  }
  o.port = request.destination.port;
  o.mtls = mtls_.ForPort(request.destination.port);
  o.policy =
      mtls_.port_modes.count(request.destination.port) != 0 ? mtls_port_policy_ : mtls_mode_policy_;
  if (o.mtls == MtlsMode::kStrict && request.source.principal.empty()) {
    o.allowed = false;
    o.reason = Reason::kMtlsRequired;
    return o;
  }
  o.reason = o.policy.empty() ? Reason::kNoPolicy : Reason::kMtlsSatisfied;
  return o;
}

Outcome WorkloadPolicy::Combine(const RequestAttributes& request, const Outcome& pa,
                                const Outcome& np, const Outcome& ap) {
  // Connection-level checks first, as the proxy meets them: mTLS, then L3/L4, then authorization.
  for (const Outcome* o : {&pa, &np, &ap}) {
    if (!o->allowed) return *o;
  }
  if (ap.reason == Reason::kAllowedByRule) return ap;
  if (np.reason == Reason::kAllowedByRule) return np;
  if (ap.reason == Reason::kNoAllowPolicy) return ap;
  Outcome none;
  none.direction = request.direction;
  return none;
}

Decision WorkloadPolicy::Evaluate(const RequestAttributes& request) const {
  return EvaluateLayers(request, /*authorization=*/true);
}

Decision WorkloadPolicy::EvaluateConnection(const RequestAttributes& request) const {
  return EvaluateLayers(request, /*authorization=*/false);
}

Decision WorkloadPolicy::EvaluateLayers(const RequestAttributes& request,
                                        bool authorization) const {
  const bool inbound = request.direction == Direction::kInbound;
  Decision d;
  d.peer_authentication = EvaluatePeerAuthentication(request);
  d.network_policy = EvaluateNetpol(netpol_, request);
  if (authorization || !inbound) {
    d.authorization_policy = EvaluateAuthz(authz_, request);
  } else {
    d.authorization_policy.layer = Layer::kAuthorizationPolicy;
    d.authorization_policy.reason = Reason::kDeferred;
  }
  d.final = Combine(request, d.peer_authentication, d.network_policy, d.authorization_policy);
  if (inbound && authorization) {
    // AUDIT runs regardless of the outcome, as Istio's audit filter sits before DENY and ALLOW.
    for (const RuleRef& ref : authz_.audit.rules()) {
      if (!d.audits.empty() && d.audits.back().policy == ref.policy->id()) continue;
      if (ref.policy->RuleMatches(ref.rule, request)) {
        d.audits.push_back({ref.policy->id(), static_cast<int>(ref.rule)});
      }
    }
  }
  const bool dry_ap = inbound && authorization && has_dry_run_authz_;
  const bool dry_np = inbound ? has_dry_run_ingress_ : has_dry_run_egress_;
  if (dry_ap || dry_np) {
    const Outcome np = dry_np ? EvaluateNetpol(netpol_dry_run_, request) : d.network_policy;
    const Outcome ap = dry_ap ? EvaluateAuthz(authz_dry_run_, request) : d.authorization_policy;
    d.dry_run = Combine(request, d.peer_authentication, np, ap);
  }
  return d;
}

std::vector<std::string> WorkloadPolicy::Explain(const RequestAttributes& request,
                                                 const Decision& decision, size_t max_rules) const {
  std::vector<std::string> lines;
  const bool inbound = request.direction == Direction::kInbound;
  const PolicyType type = inbound ? PolicyType::kIngress : PolicyType::kEgress;

  // PeerAuthentication.
  if (inbound)
    lines.push_back(
        absl::StrCat("PeerAuthentication: ", DescribeOutcome(decision.peer_authentication)));

  // NetworkPolicy.
  const Outcome& np = decision.network_policy;
  lines.push_back(absl::StrCat("NetworkPolicy: ", DescribeOutcome(np)));
  const std::vector<const CompiledNetworkPolicy*>& isolating =
      inbound ? netpol_.ingress : netpol_.egress;
  if (np.reason == Reason::kAllowedByRule) {
    for (const CompiledNetworkPolicy* p : isolating) {
      if (p->id() == np.policy) {
        lines.push_back(absl::StrCat("  ", p->id(), " ", NetworkPolicyRuleName(type, np.rule),
                                     " matched: ", p->ExplainMatch(type, np.rule, request)));
      }
    }
  } else if (np.reason == Reason::kDefaultDeny) {
    std::vector<std::string> ids;
    for (const CompiledNetworkPolicy* p : isolating) ids.push_back(p->id());
    lines.push_back(
        absl::StrCat("  isolated for ", DirectionWord(type), " by ", absl::StrJoin(ids, ", ")));
    size_t shown = 0, total = 0;
    for (const CompiledNetworkPolicy* p : isolating) {
      const size_t n = p->rules(type).size();
      if (n == 0) {
        lines.push_back(absl::StrCat("  ", p->id(), ": no ", DirectionWord(type),
                                     " rules, so it allows no ", DirectionWord(type)));
      }
      for (size_t i = 0; i < n; ++i, ++total) {
        if (shown == max_rules) continue;
        ++shown;
        lines.push_back(absl::StrCat("  ", p->id(), " ", NetworkPolicyRuleName(type, i), ": ",
                                     p->ExplainMiss(type, i, request)));
      }
    }
    if (total > shown) lines.push_back(absl::StrCat("  ... and ", total - shown, " more rules"));
  }

  // AuthorizationPolicy.
  const Outcome& ap = decision.authorization_policy;
  lines.push_back(absl::StrCat("AuthorizationPolicy: ", DescribeOutcome(ap)));
  auto find = [this](absl::string_view id) -> const CompiledAuthorizationPolicy* {
    for (const CompiledAuthorizationPolicy* p : authz_.policies) {
      if (p->id() == id) return p;
    }
    return nullptr;
  };
  if (ap.reason == Reason::kAllowedByRule || ap.reason == Reason::kDeniedByRule) {
    if (const CompiledAuthorizationPolicy* p = find(ap.policy)) {
      lines.push_back(absl::StrCat("  ", p->id(), " rule ", ap.rule, " (", ToString(p->action()),
                                   ") matched: ", p->ExplainMatch(ap.rule, request)));
    }
  } else if (ap.reason == Reason::kDefaultDeny) {
    size_t shown = 0, total = 0;
    for (const CompiledAuthorizationPolicy* p : authz_.policies) {
      if (p->action() != AuthzAction::kAllow) continue;
      if (p->rules().empty()) {
        lines.push_back(absl::StrCat(
            "  ", p->id(), ": ALLOW policy without rules allows nothing (allow-nothing)"));
      }
      for (size_t i = 0; i < p->rules().size(); ++i, ++total) {
        if (shown == max_rules) continue;
        ++shown;
        lines.push_back(absl::StrCat("  ", p->id(), " rule ", i, ": ", p->ExplainMiss(i, request)));
      }
    }
    if (total > shown) lines.push_back(absl::StrCat("  ... and ", total - shown, " more rules"));
  }
  for (const RuleMatch& audit : decision.audits) {
    lines.push_back(absl::StrCat("audit: AuthorizationPolicy ", audit.policy, " rule ", audit.rule,
                                 " matched (logged, not enforced)"));
  }
  if (decision.dry_run.has_value()) {
    lines.push_back(absl::StrCat("dry-run: with dry-run policies enforced the decision would be ",
                                 decision.dry_run->allowed ? "ALLOW" : "DENY", ": ",
                                 DescribeOutcome(*decision.dry_run)));
  }
  return lines;
}

std::vector<std::string> WorkloadPolicy::AuthorizationPolicyIds() const {
  std::vector<std::string> ids;
  for (const CompiledAuthorizationPolicy* p : authz_dry_run_.policies) {
    ids.push_back(p->meta().dry_run ? absl::StrCat(p->id(), " (dry-run)") : p->id());
  }
  return ids;
}

std::vector<std::string> WorkloadPolicy::NetworkPolicyIds(PolicyType type) const {
  std::vector<std::string> ids;
  for (const CompiledNetworkPolicy* p :
       type == PolicyType::kIngress ? netpol_dry_run_.ingress : netpol_dry_run_.egress) {
    ids.push_back(p->meta().dry_run ? absl::StrCat(p->id(), " (dry-run)") : p->id());
  }
  return ids;
}

// ---- PolicyEngine -------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const PolicyEngine>> PolicyEngine::Build(const PolicySet& policies,
                                                                        EngineOptions options) {
  std::shared_ptr<PolicyEngine> engine(new PolicyEngine());
  engine->options_ = std::move(options);
  auto check_meta = [](absl::string_view kind, const PolicyMeta& meta,
                       std::set<std::string>* seen) -> absl::Status {
    if (meta.ns.empty() || meta.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind, " \"", meta.Id(), "\": metadata.namespace and metadata.name are required"));
    }
    if (!seen->insert(meta.Id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind, " ", meta.Id(), " is defined twice; each namespace/name must be unique"));
    }
    return absl::OkStatus();
  };
  std::set<std::string> seen;
  for (const AuthorizationPolicy& p : policies.authorization_policies) {
    if (absl::Status s = check_meta("AuthorizationPolicy", p.meta, &seen); !s.ok()) return s;
    absl::StatusOr<CompiledAuthorizationPolicy> compiled = CompiledAuthorizationPolicy::Compile(p);
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("AuthorizationPolicy ", p.meta.Id(), ": ", compiled.status().message()));
    }
    engine->rule_count_ += compiled->rules().size();
    engine->authz_.push_back(*std::move(compiled));
  }
  seen.clear();
  for (const NetworkPolicy& p : policies.network_policies) {
    if (absl::Status s = check_meta("NetworkPolicy", p.meta, &seen); !s.ok()) return s;
    absl::StatusOr<CompiledNetworkPolicy> compiled = CompiledNetworkPolicy::Compile(p);
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("NetworkPolicy ", p.meta.Id(), ": ", compiled.status().message()));
    }
    engine->rule_count_ +=
        compiled->rules(PolicyType::kIngress).size() + compiled->rules(PolicyType::kEgress).size();
    engine->netpol_.push_back(*std::move(compiled));
  }
  seen.clear();
  for (const PeerAuthentication& p : policies.peer_authentications) {
    if (absl::Status s = check_meta("PeerAuthentication", p.meta, &seen); !s.ok()) return s;
    if (absl::Status s = ValidatePeerAuthentication(p); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PeerAuthentication ", p.meta.Id(), ": ", s.message()));
    }
    engine->peer_auth_.push_back(p);
    engine->peer_auth_ids_.push_back(p.meta.Id());
  }
  std::sort(engine->authz_.begin(), engine->authz_.end(),
            [](const auto& a, const auto& b) { return a.id() < b.id(); });
  std::sort(engine->netpol_.begin(), engine->netpol_.end(),
            [](const auto& a, const auto& b) { return a.id() < b.id(); });
  for (uint32_t i = 0; i < engine->authz_.size(); ++i) {
    engine->authz_by_ns_[engine->authz_[i].meta().ns].push_back(i);
  }
  for (uint32_t i = 0; i < engine->netpol_.size(); ++i) {
    engine->netpol_by_ns_[engine->netpol_[i].meta().ns].push_back(i);
  }
  for (const PeerAuthentication& p : engine->peer_auth_) {
    engine->peer_auth_by_ns_[p.meta.ns].push_back(&p);
  }
  return std::shared_ptr<const PolicyEngine>(std::move(engine));
}

MtlsSettings PolicyEngine::Mtls(const std::string& ns, const Labels& labels) const {
  std::vector<const PeerAuthentication*> candidates;
  for (const std::string* n : {&options_.root_namespace, &ns}) {
    auto it = peer_auth_by_ns_.find(*n);
    if (it != peer_auth_by_ns_.end()) {
      candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    }
    if (ns == options_.root_namespace) break;
  }
  return ComputeMtlsSettings(candidates, ns, labels, options_.root_namespace);
}

std::shared_ptr<const WorkloadPolicy> PolicyEngine::ForWorkload(const std::string& ns,
                                                                const Labels& labels) const {
  std::shared_ptr<WorkloadPolicy> w(new WorkloadPolicy());
  w->engine_ = shared_from_this();
  w->ns_ = ns;

  // AuthorizationPolicy: the workload's namespace (selector matching, or none) and the root
  // namespace (mesh-wide; a selector there matches workloads of every namespace).
  std::vector<uint32_t> positions;
  for (const std::string* n : {&ns, &options_.root_namespace}) {
    auto it = authz_by_ns_.find(*n);
    if (it != authz_by_ns_.end())
      positions.insert(positions.end(), it->second.begin(), it->second.end());
    if (ns == options_.root_namespace) break;
  }
  std::sort(positions.begin(), positions.end());
  for (uint32_t pos : positions) {
    const CompiledAuthorizationPolicy& p = authz_[pos];
    if (!SelectorMatches(p.selector(), labels)) continue;
    // An AUDIT policy never changes a decision, so dry-run changes nothing for it.
    const bool dry_run = p.meta().dry_run && p.action() != AuthzAction::kAudit;
    for (WorkloadPolicy::AuthzSet* set : {&w->authz_dry_run_, dry_run ? nullptr : &w->authz_}) {
      if (set == nullptr) continue;
      set->policies.push_back(&p);
      WorkloadPolicy::RuleList* list = p.action() == AuthzAction::kAllow  ? &set->allow
                                       : p.action() == AuthzAction::kDeny ? &set->deny
                                                                          : &set->audit;
      if (p.action() == AuthzAction::kAllow) ++set->allow_policies;
      for (uint32_t r = 0; r < p.rules().size(); ++r) list->Add(&p, r);
    }
    if (dry_run) w->has_dry_run_authz_ = true;
    w->uses_http_fields_ = w->uses_http_fields_ || p.has_http_only_rules();
    for (const std::string& h : p.headers()) {
      if (std::find(w->headers_.begin(), w->headers_.end(), h) == w->headers_.end()) {
        w->headers_.push_back(h);
      }
    }
  }
  for (WorkloadPolicy::AuthzSet* set : {&w->authz_, &w->authz_dry_run_}) {
    set->deny.BuildIndex();
    set->allow.BuildIndex();
  }

  // NetworkPolicy: the workload's namespace only.
  if (auto it = netpol_by_ns_.find(ns); it != netpol_by_ns_.end()) {
    for (uint32_t pos : it->second) {
      const CompiledNetworkPolicy& p = netpol_[pos];
      if (!p.pod_selector().Matches(labels)) continue;
      for (PolicyType type : {PolicyType::kIngress, PolicyType::kEgress}) {
        if (!p.affects(type)) continue;
        auto add = [&](WorkloadPolicy::NetpolSet* set) {
          (type == PolicyType::kIngress ? set->ingress : set->egress).push_back(&p);
        };
        add(&w->netpol_dry_run_);
        if (!p.meta().dry_run) {
          add(&w->netpol_);
        } else {
          (type == PolicyType::kIngress ? w->has_dry_run_ingress_ : w->has_dry_run_egress_) = true;
        }
      }
    }
  }

  w->mtls_ = Mtls(ns, labels);
  auto id_of = [this](const PeerAuthentication* p) -> absl::string_view {
    if (p == nullptr) return {};
    return peer_auth_ids_[static_cast<size_t>(p - peer_auth_.data())];
  };
  w->mtls_mode_policy_ = id_of(w->mtls_.mode_source);
  w->mtls_port_policy_ = id_of(w->mtls_.port_source);
  return w;
}

Evaluation PolicyEngine::Evaluate(const RequestAttributes& request) const {
  const bool inbound = request.direction == Direction::kInbound;
  const std::string& ns = inbound ? request.destination.ns : request.source.ns;
  const Labels& labels = inbound ? request.destination.labels : request.source.labels;
  Evaluation e;
  e.workload = ForWorkload(ns, labels);
  e.decision = e.workload->Evaluate(request);
  return e;
}

}  // namespace remora::filters
