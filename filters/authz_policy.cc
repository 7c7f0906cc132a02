#include "filters/authz_policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace remora::filters {
namespace {

using Attribute = AuthzClause::Attribute;

std::optional<absl::string_view> NonEmpty(absl::string_view value) {
  if (value.empty()) return std::nullopt;
  return value;
}

// Envoy matches `paths` against the path without its query string and fragment.
absl::string_view PathOnly(absl::string_view path) {
  return path.substr(0, path.find_first_of("?#"));
}

bool IsIpAttribute(Attribute a) {
  return a == Attribute::kSourceIp || a == Attribute::kRemoteIp || a == Attribute::kDestinationIp;
}

const std::optional<IpAddress>& RemoteIp(const RequestAttributes& r) {
  return r.source.remote_ip.has_value() ? r.source.remote_ip : r.source.ip;
}

absl::Status AtIndex(size_t k, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("[", k, "]: ", message));
}

// The trust domain of an Istio-form principal: everything before the first '/' (SPIFFE: a trust
// domain holds no '/').
absl::string_view TrustDomain(absl::string_view principal) {
  return principal.substr(0, principal.find('/'));
}

// Istio's serviceAccountRegex, spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?, over a principal without
// its scheme, with <ns> and <sa> literal: after "<td>/ns/<ns>/" comes "sa/<sa>", directly or after
// other segments, then the end or more segments.
bool MatchesServiceAccount(absl::string_view principal, absl::string_view ns,
                           absl::string_view sa) {
  if (principal.find("/ns/") == 0 || PrincipalNamespace(principal) != ns) return false;
  const absl::string_view rest = principal.substr(principal.find("/ns/") + 4 + ns.size() + 1);
  const std::string needle = absl::StrCat("sa/", sa);
  for (size_t q = rest.find(needle); q != absl::string_view::npos; q = rest.find(needle, q + 1)) {
    if (q != 0 && (q < 2 || rest[q - 1] != '/')) continue;
    const absl::string_view tail = rest.substr(q + needle.size());
    if (tail.empty() || (tail.size() > 1 && tail[0] == '/')) return true;
  }
  return false;
}

// "<ns>/<sa>" when the principal is exactly "<td>/ns/<ns>/sa/<sa>", for explanations.
std::optional<std::string> CanonicalServiceAccount(absl::string_view principal) {
  const absl::string_view ns = PrincipalNamespace(principal);
  if (ns.empty()) return std::nullopt;
  absl::string_view rest = principal.substr(principal.find("/ns/") + 4 + ns.size() + 1);
  if (!absl::ConsumePrefix(&rest, "sa/") || rest.empty() || absl::StrContains(rest, '/')) {
    return std::nullopt;
  }
  return absl::StrCat(ns, "/", rest);
}

}  // namespace

AuthzClause::AuthzClause(Attribute attribute, bool negated, std::string field, std::string header)
    : attribute_(attribute),
      negated_(negated),
      field_(std::move(field)),
      header_(std::move(header)),
      strings_(/*ignore_case=*/attribute == Attribute::kHost) {}

absl::StatusOr<AuthzClause> AuthzClause::Make(Attribute attribute, bool negated, std::string field,
                                              const std::vector<std::string>& values,
                                              std::string header_name) {
  AuthzClause clause(attribute, negated, std::move(field), absl::AsciiStrToLower(header_name));
  clause.values_ = values;
  for (size_t k = 0; k < values.size(); ++k) {
    const std::string& v = values[k];
    if (v.empty()) return AtIndex(k, "empty value not allowed");
    if (IsIpAttribute(attribute)) {
      absl::StatusOr<Cidr> cidr = Cidr::Parse(v);
      if (!cidr.ok()) return AtIndex(k, cidr.status().message());
      clause.cidrs_.push_back(*cidr);
      continue;
    }
    if (attribute == Attribute::kDestinationPort) {
      uint32_t port = 0;
      if (!std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          v.size() > 5 || !absl::SimpleAtoi(v, &port) || port > 65535) {
        return AtIndex(k, absl::StrCat("\"", v, "\" is not a port number (0-65535)"));
      }
      clause.ports_.push_back(static_cast<uint16_t>(port));
      continue;
    }
    if (attribute == Attribute::kServiceAccount) {
      // Compile resolved and validated these (ResolveServiceAccounts); keep the invariant.
      std::pair<std::string, std::string> account = absl::StrSplit(v, absl::MaxSplits('/', 1));
      if (account.first.empty() || account.second.empty() ||
          absl::StrContains(account.second, '/')) {
        return AtIndex(k, absl::StrCat("\"", v, "\" is not \"<namespace>/<serviceaccount>\""));
      }
      clause.service_accounts_.push_back(std::move(account));
      continue;
    }
    if (attribute == Attribute::kPrincipal && absl::StartsWith(v, "spiffe://")) {
      return AtIndex(k, absl::StrCat("\"", v,
                                     "\" must not include the spiffe:// scheme: Istio writes "
                                     "principals as \"cluster.local/ns/NAMESPACE/sa/ACCOUNT\""));
    }
    const bool path_template = attribute == Attribute::kPath && PathTemplate::IsTemplate(v);
    if (path_template) {
      if (absl::Status s = PathTemplate::Validate(v); !s.ok()) return AtIndex(k, s.message());
    }
    clause.strings_.Add(v, /*allow_templates=*/path_template,
                        attribute == Attribute::kSourceNamespace ? StringMatcher::Stars::kGlob
                                                                 : StringMatcher::Stars::kEnds);
  }
  std::sort(clause.ports_.begin(), clause.ports_.end());
  return clause;
}

bool AuthzClause::http_only() const {
  return attribute_ == Attribute::kHost || attribute_ == Attribute::kMethod ||
         attribute_ == Attribute::kPath || attribute_ == Attribute::kHeader;
}

bool AuthzClause::MatchesValue(const RequestAttributes& r) const {
  auto in_cidrs = [this](const std::optional<IpAddress>& ip) {
    if (!ip.has_value()) return false;
    for (const Cidr& c : cidrs_) {
      if (c.Contains(*ip)) return true;
    }
    return false;
  };
  switch (attribute_) {
    case Attribute::kPrincipal:
      return strings_.Matches(NonEmpty(r.source.principal));
    case Attribute::kSourceNamespace:
      return strings_.Matches(NonEmpty(PrincipalNamespace(r.source.principal)));
    case Attribute::kServiceAccount:
      for (const auto& [ns, sa] : service_accounts_) {
        if (MatchesServiceAccount(r.source.principal, ns, sa)) return true;
      }
      return false;
    case Attribute::kTrustDomain:
      return strings_.Matches(NonEmpty(TrustDomain(r.source.principal)));
    case Attribute::kSourceIp:
      return in_cidrs(r.source.ip);
    case Attribute::kRemoteIp:
      return in_cidrs(RemoteIp(r));
    case Attribute::kDestinationIp:
      return in_cidrs(r.destination.ip);
    case Attribute::kDestinationPort:
      return r.destination.port != 0 &&
             std::binary_search(ports_.begin(), ports_.end(), r.destination.port);
    case Attribute::kSni:
      return strings_.Matches(NonEmpty(r.sni));
    case Attribute::kHost:
      return strings_.Matches(NonEmpty(r.http.host));
    case Attribute::kMethod:
      return strings_.Matches(NonEmpty(r.http.method));
    case Attribute::kPath:
      return strings_.Matches(NonEmpty(PathOnly(r.http.path)));
    case Attribute::kHeader: {
      auto it = r.http.headers.find(header_);
      if (it == r.http.headers.end()) return strings_.Matches(std::nullopt);
      return strings_.Matches(absl::string_view(it->second));
    }
  }
  return false;
}

std::string AuthzClause::Seen(const RequestAttributes& r) const {
  auto or_text = [](absl::string_view value, absl::string_view absent) {
    return value.empty() ? std::string(absent) : std::string(value);
  };
  auto ip_text = [](const std::optional<IpAddress>& ip) {
    return ip.has_value() ? ip->ToString() : std::string("(unknown)");
  };
  switch (attribute_) {
    case Attribute::kPrincipal:
      return or_text(r.source.principal, "(none: the source is not authenticated by mTLS)");
    case Attribute::kSourceNamespace:
      if (r.source.principal.empty()) {
        return "(none: the source is not authenticated by mTLS; the namespace comes from the peer "
               "certificate)";
      }
      return or_text(PrincipalNamespace(r.source.principal),
                     absl::StrCat("(none: principal ", r.source.principal, " names no namespace)"));
    case Attribute::kServiceAccount: {
      if (r.source.principal.empty()) {
        return "(none: the source is not authenticated by mTLS; the service account comes from "
               "the peer certificate)";
      }
      std::optional<std::string> account = CanonicalServiceAccount(r.source.principal);
      if (!account.has_value()) return r.source.principal;
      return absl::StrCat(*account, " (", r.source.principal, ")");
    }
    case Attribute::kTrustDomain:
      if (r.source.principal.empty()) {
        return "(none: the source is not authenticated by mTLS; the trust domain comes from the "
               "peer certificate)";
      }
      return std::string(TrustDomain(r.source.principal));
    case Attribute::kSourceIp:
      return ip_text(r.source.ip);
    case Attribute::kRemoteIp:
      return ip_text(RemoteIp(r));
    case Attribute::kDestinationIp:
      return ip_text(r.destination.ip);
    case Attribute::kDestinationPort:
      return r.destination.port == 0 ? "(unknown)" : absl::StrCat(r.destination.port);
    case Attribute::kSni:
      return or_text(r.sni, "(no SNI)");
    case Attribute::kHost:
      return or_text(r.http.host, "(no Host header)");
    case Attribute::kMethod:
      return or_text(r.http.method, "(no method)");
    case Attribute::kPath:
      return or_text(r.http.path, "(no path)");
    case Attribute::kHeader: {
      auto it = r.http.headers.find(header_);
      return it == r.http.headers.end() ? "(header absent)" : absl::StrCat("\"", it->second, "\"");
    }
  }
  return "";
}

std::string AuthzClause::Describe(const RequestAttributes& r) const {
  const std::string values = absl::StrCat("[", absl::StrJoin(values_, ", "), "]");
  const bool matched = Matches(r);
  if (!matched) {
    return absl::StrCat(field_, " expected ", negated_ ? "none of " : "", values, " got ", Seen(r));
  }
  return absl::StrCat(field_, negated_ ? " none of " : " ", values,
                      negated_ ? " ok with " : " matched ", Seen(r));
}

namespace {

struct FieldSpec {
  Attribute attribute;
  bool negated;
  const char* name;
  const std::vector<std::string>* values;
};

// Adds a clause for a non-empty list; errors are prefixed with the field's absolute path.
absl::Status AddClause(std::vector<AuthzClause>* out, const FieldSpec& spec,
                       absl::string_view display_prefix, absl::string_view error_prefix) {
  if (spec.values->empty()) return absl::OkStatus();
  absl::StatusOr<AuthzClause> clause = AuthzClause::Make(
      spec.attribute, spec.negated, absl::StrCat(display_prefix, spec.name), *spec.values);
  if (!clause.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(error_prefix, spec.name, clause.status().message()));
  }
  out->push_back(*std::move(clause));
  return absl::OkStatus();
}

// Istio's CheckServiceAccount (pkg/config/security/security.go), on a list as written: at most 16
// values of at most 320 characters, no wildcard, "<sa>" or "<ns>/<sa>" with neither part empty.
// Resolves "<sa>" to the policy's namespace, as the Source reference says. Errors start with
// ": " (the list) or "[k]: " (one value), to follow the field name.
absl::StatusOr<std::vector<std::string>> ResolveServiceAccounts(
    const std::vector<std::string>& values, absl::string_view policy_ns) {
  constexpr size_t kMaxValues = 16, kMaxLength = 320;
  if (values.size() > kMaxValues) {
    return absl::InvalidArgumentError(
        absl::StrCat(": ", values.size(), " values is over the limit of ", kMaxValues));
  }
  constexpr absl::string_view kFormat =
      "expected \"<serviceaccount>\" or \"<namespace>/<serviceaccount>\"";
  std::vector<std::string> out;
  for (size_t k = 0; k < values.size(); ++k) {
    const std::string& v = values[k];
    if (v.empty()) return AtIndex(k, "empty value not allowed");
    if (absl::StrContains(v, '*')) {
      return AtIndex(k, absl::StrCat("\"", v,
                                     "\": wildcards are not allowed; list each service account "
                                     "by name"));
    }
    if (v.size() > kMaxLength) {
      return AtIndex(k, absl::StrCat(v.size(), " characters is over the limit of ", kMaxLength));
    }
    const size_t slashes = std::count(v.begin(), v.end(), '/');
    if (slashes > 1) return AtIndex(k, absl::StrCat("\"", v, "\": ", kFormat));
    if (slashes == 0) {
      out.push_back(absl::StrCat(policy_ns, "/", v));
      continue;
    }
    if (v.front() == '/') {
      return AtIndex(k, absl::StrCat("\"", v, "\": ", kFormat, ", found an empty namespace"));
    }
    if (v.back() == '/') {
      return AtIndex(k, absl::StrCat("\"", v, "\": ", kFormat, ", found an empty service account"));
    }
    out.push_back(v);
  }
  return out;
}

constexpr absl::string_view kSupportedKeys =
    "request.headers[NAME], source.ip, remote.ip, source.namespace, source.principal, "
    "destination.ip, destination.port, connection.sni";

// Maps a `when` key to its attribute, refusing what Istio refuses and what Remora cannot see.
absl::StatusOr<Attribute> ConditionAttribute(absl::string_view key, std::string* header) {
  if (key == "source.ip") return Attribute::kSourceIp;
  if (key == "remote.ip") return Attribute::kRemoteIp;
  if (key == "source.namespace") return Attribute::kSourceNamespace;
  if (key == "source.principal") return Attribute::kPrincipal;
  if (key == "destination.ip") return Attribute::kDestinationIp;
  if (key == "destination.port") return Attribute::kDestinationPort;
  if (key == "connection.sni") return Attribute::kSni;
  if (absl::StartsWith(key, "request.headers")) {
    // Istio's validateMapKey: "request.headers[NAME]" with a non-empty NAME.
    absl::string_view rest = key.substr(std::string_view("request.headers").size());
    if (rest.size() < 3 || rest.front() != '[' || rest.back() != ']') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad key \"", key, "\": should have the form request.headers[NAME]"));
    }
    *header = std::string(rest.substr(1, rest.size() - 2));
    return Attribute::kHeader;
  }
  if (absl::StartsWith(key, "request.auth.")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", key,
        "\" needs JWT request authentication (RequestAuthentication), which Remora does not "
        "support; use source.principal or request.headers"));
  }
  if (absl::StartsWith(key, "experimental.envoy.filters.")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", key, "\" reads Envoy filter metadata, which Remora does not have"));
  }
  if (key == "destination.namespace") {
    return absl::InvalidArgumentError(
        "attribute destination.namespace is replaced by the metadata.namespace");
  }
  if (absl::StartsWith(key, "destination.labels")) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute ", key, " is replaced by the workload selector"));
  }
  if (key == "destination.name" || key == "destination.user") {
    return absl::InvalidArgumentError(
        absl::StrCat("deprecated attribute ", key, ": only supported in v1alpha1"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown attribute \"", key, "\" (supported: ", kSupportedKeys, ")"));
}

bool AllOf(const std::vector<AuthzClause>& clauses, const RequestAttributes& r, bool tcp) {
  for (const AuthzClause& c : clauses) {
    if (tcp && c.http_only()) continue;
    if (!c.Matches(r)) return false;
  }
  return true;
}

// -1 when no entry matches (an empty list matches: 0 stands for "no constraint").
int FirstMatchingEntry(const std::vector<std::vector<AuthzClause>>& entries,
                       const RequestAttributes& r, bool tcp) {
  if (entries.empty()) return 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (AllOf(entries[i], r, tcp)) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> Failures(const std::vector<AuthzClause>& clauses,
                                  const RequestAttributes& r, bool tcp) {
  std::vector<std::string> out;
  for (const AuthzClause& c : clauses) {
    if (tcp && c.http_only()) continue;
    if (!c.Matches(r)) out.push_back(c.Describe(r));
  }
  return out;
}

void DescribeAll(const std::vector<AuthzClause>& clauses, const RequestAttributes& r, bool tcp,
                 std::vector<std::string>* out) {
  for (const AuthzClause& c : clauses) {
    if (tcp && c.http_only()) continue;
    out->push_back(c.Describe(r));
  }
}

// The namespace a principal pattern pins, if it pins one: an exact principal, or a prefix that
// runs past "/ns/<namespace>/".
std::optional<std::string> PinnedNamespace(absl::string_view pattern) {
  if (absl::StartsWith(pattern, "*")) return std::nullopt;
  if (absl::EndsWith(pattern, "*")) pattern.remove_suffix(1);
  const absl::string_view ns = PrincipalNamespace(pattern);
  if (ns.empty()) return std::nullopt;
  return std::string(ns);
}

// What one list of ANDed clauses requires of the source's identity: any one clause is a necessary
// condition, so the most selective one serves.
void IdentityKeys(const std::vector<AuthzClause>& clauses, std::vector<std::string>* principals,
                  std::vector<std::string>* namespaces) {
  principals->clear();
  namespaces->clear();
  for (const AuthzClause& c : clauses) {
    if (c.negated()) continue;
    if (c.attribute() == Attribute::kPrincipal) {
      if (c.strings().ExactOnly()) *principals = c.strings().exact_values();
      if (!namespaces->empty()) continue;
      std::vector<std::string> pinned;
      for (const std::string& pattern : c.strings().patterns()) {
        std::optional<std::string> ns = PinnedNamespace(pattern);
        if (!ns.has_value()) {
          pinned.clear();
          break;
        }
        pinned.push_back(*std::move(ns));
      }
      if (!pinned.empty()) *namespaces = std::move(pinned);
    } else if (c.attribute() == Attribute::kSourceNamespace && c.strings().ExactOnly() &&
               namespaces->empty()) {
      *namespaces = c.strings().exact_values();
    } else if (c.attribute() == Attribute::kServiceAccount && namespaces->empty()) {
      // A service account matches only a principal whose namespace is its own.
      for (const auto& [ns, sa] : c.service_accounts()) namespaces->push_back(ns);
    }
  }
}

void SetIndexKeys(AuthzCompiledRule* rule) {
  std::vector<std::string> all_principals, all_namespaces;
  bool by_principal = !rule->from.empty(), by_namespace = !rule->from.empty();
  std::vector<std::string> principals, namespaces;
  for (const auto& entry : rule->from) {
    IdentityKeys(entry, &principals, &namespaces);
    by_principal = by_principal && !principals.empty();
    by_namespace = by_namespace && !namespaces.empty();
    all_principals.insert(all_principals.end(), principals.begin(), principals.end());
    all_namespaces.insert(all_namespaces.end(), namespaces.begin(), namespaces.end());
  }
  // `when` is ANDed with `from`: its keys serve when `from` offers none.
  IdentityKeys(rule->when, &principals, &namespaces);
  if (by_principal) {
    rule->required_principals = std::move(all_principals);
  } else if (!principals.empty()) {
    rule->required_principals = std::move(principals);
  } else if (by_namespace) {
    rule->required_namespaces = std::move(all_namespaces);
  } else if (!namespaces.empty()) {
    rule->required_namespaces = std::move(namespaces);
  }
  auto dedupe = [](std::vector<std::string>* v) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  };
  dedupe(&rule->required_principals);
  dedupe(&rule->required_namespaces);
}

}  // namespace

absl::StatusOr<CompiledAuthorizationPolicy> CompiledAuthorizationPolicy::Compile(
    const AuthorizationPolicy& policy) {
  CompiledAuthorizationPolicy c;
  c.meta_ = policy.meta;
  c.id_ = policy.meta.Id();
  c.action_ = policy.action;
  c.selector_ = policy.selector;
  for (const auto& [key, value] : policy.selector) {
    absl::Status s = ValidateLabelKey(key);
    if (s.ok()) s = ValidateLabelValue(value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.selector.matchLabels.", key, ": ", s.message()));
    }
  }
  if (policy.action == AuthzAction::kDeny && policy.rules.empty()) {
    // Istio's admission refuses this too: such a policy could never take effect.
    return absl::InvalidArgumentError(
        "spec.rules: a DENY policy without rules never matches; add an empty rule `- {}` to deny "
        "every request");
  }
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    const AuthzRule& rule = policy.rules[i];
    const std::string rule_path = absl::StrCat("spec.rules[", i, "].");
    AuthzCompiledRule out;
    for (size_t j = 0; j < rule.from.size(); ++j) {
      const AuthzSource& s = rule.from[j];
      const std::string display = absl::StrCat("from[", j, "].source.");
      const std::string path = absl::StrCat(rule_path, display);
      // Istio's admission: "cannot set serviceAccounts with namespaces or principals", their
      // not* forms included on both sides.
      const bool accounts = !s.service_accounts.empty() || !s.not_service_accounts.empty();
      if (accounts && (!s.principals.empty() || !s.not_principals.empty() ||
                       !s.namespaces.empty() || !s.not_namespaces.empty())) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, s.service_accounts.empty() ? "notServiceAccounts" : "serviceAccounts",
            ": cannot be set with principals or namespaces (nor notPrincipals or notNamespaces); "
            "a service account already names its namespace, so match the source with one or the "
            "other"));
      }
      std::vector<std::string> service_accounts[2];
      for (bool negated : {false, true}) {
        absl::StatusOr<std::vector<std::string>> resolved = ResolveServiceAccounts(
            negated ? s.not_service_accounts : s.service_accounts, policy.meta.ns);
        if (!resolved.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, negated ? "notServiceAccounts" : "serviceAccounts",
                           resolved.status().message()));
        }
        service_accounts[negated] = *std::move(resolved);
      }
      const FieldSpec fields[] = {
          {Attribute::kPrincipal, false, "principals", &s.principals},
          {Attribute::kPrincipal, true, "notPrincipals", &s.not_principals},
          {Attribute::kSourceNamespace, false, "namespaces", &s.namespaces},
          {Attribute::kSourceNamespace, true, "notNamespaces", &s.not_namespaces},
          {Attribute::kServiceAccount, false, "serviceAccounts", &service_accounts[0]},
          {Attribute::kServiceAccount, true, "notServiceAccounts", &service_accounts[1]},
          {Attribute::kTrustDomain, false, "trustDomains", &s.trust_domains},
          {Attribute::kTrustDomain, true, "notTrustDomains", &s.not_trust_domains},
          {Attribute::kSourceIp, false, "ipBlocks", &s.ip_blocks},
          {Attribute::kSourceIp, true, "notIpBlocks", &s.not_ip_blocks},
          {Attribute::kRemoteIp, false, "remoteIpBlocks", &s.remote_ip_blocks},
          {Attribute::kRemoteIp, true, "notRemoteIpBlocks", &s.not_remote_ip_blocks},
      };
      std::vector<AuthzClause> entry;
      for (const FieldSpec& f : fields) {
        if (absl::Status st = AddClause(&entry, f, display, path); !st.ok()) return st;
      }
      if (entry.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            rule_path, "from[", j,
            "].source: must not be empty; set principals, namespaces, serviceAccounts, "
            "trustDomains, ipBlocks, remoteIpBlocks or their not* forms"));
      }
      out.from.push_back(std::move(entry));
    }
    for (size_t j = 0; j < rule.to.size(); ++j) {
      const AuthzOperation& o = rule.to[j];
      const std::string display = absl::StrCat("to[", j, "].operation.");
      const std::string path = absl::StrCat(rule_path, display);
      const FieldSpec fields[] = {
          {Attribute::kHost, false, "hosts", &o.hosts},
          {Attribute::kHost, true, "notHosts", &o.not_hosts},
          {Attribute::kDestinationPort, false, "ports", &o.ports},
          {Attribute::kDestinationPort, true, "notPorts", &o.not_ports},
          {Attribute::kMethod, false, "methods", &o.methods},
          {Attribute::kMethod, true, "notMethods", &o.not_methods},
          {Attribute::kPath, false, "paths", &o.paths},
          {Attribute::kPath, true, "notPaths", &o.not_paths},
      };
      std::vector<AuthzClause> entry;
      for (const FieldSpec& f : fields) {
        if (absl::Status st = AddClause(&entry, f, display, path); !st.ok()) return st;
      }
      if (entry.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            rule_path, "to[", j,
            "].operation: must not be empty; set hosts, ports, methods, paths or their not* "
            "forms"));
      }
      out.to.push_back(std::move(entry));
    }
    for (size_t k = 0; k < rule.when.size(); ++k) {
      const AuthzCondition& cond = rule.when[k];
      const std::string path = absl::StrCat(rule_path, "when[", k, "]");
      if (cond.key.empty()) return absl::InvalidArgumentError(path + ".key: must not be empty");
      if (cond.values.empty() && cond.not_values.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": at least one of values or notValues must be set for key ", cond.key));
      }
      std::string header;
      absl::StatusOr<Attribute> attribute = ConditionAttribute(cond.key, &header);
      if (!attribute.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ".key: ", attribute.status().message()));
      }
      const std::string display = absl::StrCat("when[", k, "] ", cond.key);
      for (bool negated : {false, true}) {
        const std::vector<std::string>& values = negated ? cond.not_values : cond.values;
        if (values.empty()) continue;
        absl::StatusOr<AuthzClause> clause = AuthzClause::Make(
            *attribute, negated, negated ? display + " notValues" : display, values, header);
        if (!clause.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, negated ? ".notValues" : ".values", clause.status().message()));
        }
        out.when.push_back(*std::move(clause));
      }
    }
    // HTTP-only fields, once per field name, and headers read.
    auto note = [&](const AuthzClause& clause) {
      if (!clause.http_only()) return;
      if (std::find(out.http_only_fields.begin(), out.http_only_fields.end(), clause.field()) ==
          out.http_only_fields.end()) {
        out.http_only_fields.push_back(clause.field());
      }
      if (clause.attribute() == Attribute::kHeader &&
          std::find(c.headers_.begin(), c.headers_.end(), clause.header_name()) ==
              c.headers_.end()) {
        c.headers_.push_back(clause.header_name());
      }
    };
    for (const auto& entry : out.from) std::for_each(entry.begin(), entry.end(), note);
    for (const auto& entry : out.to) std::for_each(entry.begin(), entry.end(), note);
    std::for_each(out.when.begin(), out.when.end(), note);
    c.has_http_only_ = c.has_http_only_ || !out.http_only_fields.empty();
    SetIndexKeys(&out);
    c.rules_.push_back(std::move(out));
  }
  return c;
}

bool CompiledAuthorizationPolicy::RuleMatches(size_t index, const RequestAttributes& r) const {
  const AuthzCompiledRule& rule = rules_[index];
  const bool tcp = r.destination.protocol == Protocol::kTcp;
  if (tcp && action_ == AuthzAction::kAllow && !rule.http_only_fields.empty()) return false;
  return FirstMatchingEntry(rule.from, r, tcp) >= 0 && FirstMatchingEntry(rule.to, r, tcp) >= 0 &&
         AllOf(rule.when, r, tcp);
}

std::string CompiledAuthorizationPolicy::ExplainMiss(size_t index,
                                                     const RequestAttributes& r) const {
  const AuthzCompiledRule& rule = rules_[index];
  const bool tcp = r.destination.protocol == Protocol::kTcp;
  if (tcp && action_ == AuthzAction::kAllow && !rule.http_only_fields.empty()) {
    return absl::StrCat("uses HTTP-only fields (", absl::StrJoin(rule.http_only_fields, ", "),
                        ") and the connection is TCP: an ALLOW rule with HTTP-only fields never "
                        "matches TCP traffic");
  }
  std::vector<std::string> parts;
  auto entries = [&](const std::vector<std::vector<AuthzClause>>& list, absl::string_view name) {
    if (FirstMatchingEntry(list, r, tcp) >= 0) return;
    if (list.size() == 1) {
      std::vector<std::string> f = Failures(list[0], r, tcp);
      parts.insert(parts.end(), f.begin(), f.end());
      return;
    }
    std::vector<std::string> each;
    for (size_t j = 0; j < list.size(); ++j) {
      each.push_back(absl::StrJoin(Failures(list[j], r, tcp), "; "));
    }
    parts.push_back(absl::StrCat("no ", name, " entry matched (", absl::StrJoin(each, " | "), ")"));
  };
  entries(rule.from, "from");
  entries(rule.to, "to");
  std::vector<std::string> when = Failures(rule.when, r, tcp);
  parts.insert(parts.end(), when.begin(), when.end());
  return absl::StrJoin(parts, "; ");
}

std::string CompiledAuthorizationPolicy::ExplainMatch(size_t index,
                                                      const RequestAttributes& r) const {
  const AuthzCompiledRule& rule = rules_[index];
  const bool tcp = r.destination.protocol == Protocol::kTcp;
  std::vector<std::string> parts;
  const int from = FirstMatchingEntry(rule.from, r, tcp);
  const int to = FirstMatchingEntry(rule.to, r, tcp);
  if (!rule.from.empty() && from >= 0) DescribeAll(rule.from[from], r, tcp, &parts);
  if (!rule.to.empty() && to >= 0) DescribeAll(rule.to[to], r, tcp, &parts);
  DescribeAll(rule.when, r, tcp, &parts);
  std::string out;
  if (!parts.empty()) {
    out = absl::StrJoin(parts, "; ");
  } else if (rule.from.empty() && rule.to.empty() && rule.when.empty()) {
    out = "the empty rule {} matches every request";
  } else {
    out = "no constraint applies to this connection, so the rule matches every request";
  }
  if (tcp && !rule.http_only_fields.empty()) {
    absl::StrAppend(&out, " (HTTP-only fields ignored on a TCP connection: ",
                    absl::StrJoin(rule.http_only_fields, ", "), ")");
  }
  return out;
}

}  // namespace remora::filters
