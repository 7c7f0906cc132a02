// One Istio AuthorizationPolicy compiled for evaluation: every value parsed once (CIDRs, ports,
// exact values in hash sets, prefix/suffix lists, path templates), so matching a request walks
// prepared data and never text. Semantics follow istio.io/latest/docs/reference/config/security/
// authorization-policy and Istio's RBAC generator (pilot/pkg/security/authz/model):
//  * a rule matches when one `from`, one `to` and every `when` match; an absent list matches all;
//  * `notX` matches when X does not; an attribute the request lacks (no principal on a plaintext
//    connection, no such header) matches no value, so its `notX` matches;
//  * principals and namespaces come from the peer certificate: a plaintext source has neither;
//    in `namespaces` every '*' is a wildcard (Istio matches them as the regex ".*/ns/<ns>/.*"),
//    elsewhere only a leading or trailing '*' is;
//  * so do serviceAccounts ("<ns>/<sa>", or "<sa>" in the policy's namespace; exact names only,
//    never with principals or namespaces) and trustDomains (the principal up to its first '/').
//    A service account matches as Istio's regex spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)? does
//    (pilot/pkg/security/authz/model/generator.go), with <ns> and <sa> compared literally and the
//    namespace read where `namespaces` reads it (the first "/ns/");
//  * HTTP-only fields (hosts, methods, paths, request.headers and their `not` forms) on a TCP
//    connection: an ALLOW rule using any of them never matches; a DENY or AUDIT rule matches on
//    its other fields alone ("more likely to deny").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "filters/ip_address.h"
#include "filters/policy.h"
#include "filters/request.h"
#include "filters/string_match.h"

namespace remora::filters {

// One constraint: a field (or `when` condition) with its values, positive or negated.
class AuthzClause {
 public:
  enum class Attribute : uint8_t {
    kPrincipal,
    kSourceNamespace,
    kServiceAccount,  // values are "<namespace>/<account>", already resolved and validated
    kTrustDomain,
    kSourceIp,
    kRemoteIp,
    kHost,
    kMethod,
    kPath,
    kHeader,
    kDestinationPort,
    kDestinationIp,
    kSni,
  };

  // `field` names the clause in explanations ("from[0].source.principals",
  // "when[1] request.headers[x-token]"). Values must be valid for the attribute (see Compile).
  static absl::StatusOr<AuthzClause> Make(Attribute attribute, bool negated, std::string field,
                                          const std::vector<std::string>& values,
                                          std::string header_name = "");

  bool Matches(const RequestAttributes& request) const { return MatchesValue(request) != negated_; }
  bool http_only() const;
  bool negated() const { return negated_; }
  Attribute attribute() const { return attribute_; }
  const std::string& field() const { return field_; }
  const std::string& header_name() const { return header_; }
  const StringMatcher& strings() const { return strings_; }
  // kServiceAccount: the (namespace, account) pairs.
  const std::vector<std::pair<std::string, std::string>>& service_accounts() const {
    return service_accounts_;
  }
  // "from[0].source.principals expected [a, b*] got c" / "... expected none of [a] got a".
  std::string Describe(const RequestAttributes& request) const;

 private:
  AuthzClause(Attribute attribute, bool negated, std::string field, std::string header);
  bool MatchesValue(const RequestAttributes& request) const;
  std::string Seen(const RequestAttributes& request) const;

  Attribute attribute_;
  bool negated_;
  std::string field_;
  std::string header_;  // lowercase, for kHeader
  std::vector<std::string> values_;
  StringMatcher strings_;
  std::vector<Cidr> cidrs_;
  std::vector<uint16_t> ports_;  // sorted
  std::vector<std::pair<std::string, std::string>> service_accounts_;
};

struct AuthzCompiledRule {
  // OR of ANDs. Empty: any source / any operation.
  std::vector<std::vector<AuthzClause>> from;
  std::vector<std::vector<AuthzClause>> to;
  std::vector<AuthzClause> when;  // AND
  // Fields that only exist in HTTP, for the TCP rule and for explanations.
  std::vector<std::string> http_only_fields;
  // Index keys for large rule lists. required_principals: exact principals, one of which the
  // request must have for the rule to match (every `from` entry lists exact principals, or a
  // `when` source.principal does). Otherwise required_namespaces: the certificate namespaces one
  // of which it must have (from exact or "<td>/ns/<ns>/..."-prefix principals, or exact
  // namespaces). Both empty: the rule cannot be ruled out by identity and is always tried.
  std::vector<std::string> required_principals;
  std::vector<std::string> required_namespaces;
};

class CompiledAuthorizationPolicy {
 public:
  // Validates as Istio's admission does and compiles. InvalidArgument naming the field under
  // "spec." ("spec.rules[0].from[1].source.ipBlocks[0]: \"10.0.0.0/33\" is not a CIDR: ...").
  static absl::StatusOr<CompiledAuthorizationPolicy> Compile(const AuthorizationPolicy& policy);

  const PolicyMeta& meta() const { return meta_; }
  const std::string& id() const { return id_; }  // "ns/name"
  AuthzAction action() const { return action_; }
  const Labels& selector() const { return selector_; }
  const std::vector<AuthzCompiledRule>& rules() const { return rules_; }
  bool has_http_only_rules() const { return has_http_only_; }
  // Lowercase names of the headers `when` conditions read.
  const std::vector<std::string>& headers() const { return headers_; }

  bool RuleMatches(size_t rule, const RequestAttributes& request) const;
  // Why rule `rule` does not match `request`: the failing parts with expected and seen values.
  std::string ExplainMiss(size_t rule, const RequestAttributes& request) const;
  // What rule `rule` matched on ("any request" for the empty rule).
  std::string ExplainMatch(size_t rule, const RequestAttributes& request) const;

 private:
  CompiledAuthorizationPolicy() = default;

  PolicyMeta meta_;
  std::string id_;
  AuthzAction action_ = AuthzAction::kAllow;
  Labels selector_;
  std::vector<AuthzCompiledRule> rules_;
  bool has_http_only_ = false;
  std::vector<std::string> headers_;
};

}  // namespace remora::filters
