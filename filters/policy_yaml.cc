#include "filters/policy_yaml.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/yaml.h"
#include "filters/authz_policy.h"
#include "filters/network_policy.h"
#include "filters/peer_authentication.h"
#include "filters/yaml_util.h"

namespace remora::filters {
namespace {

constexpr absl::string_view kIstioV1 = "security.istio.io/v1";
constexpr absl::string_view kIstioV1beta1 = "security.istio.io/v1beta1";
constexpr absl::string_view kNetworkingV1 = "networking.k8s.io/v1";
constexpr absl::string_view kSupportedKinds =
    "AuthorizationPolicy and PeerAuthentication (security.istio.io/v1 or v1beta1), "
    "NetworkPolicy (networking.k8s.io/v1), List (v1)";

absl::Status ValidateDnsName(const YamlField& field, absl::string_view name, size_t max,
                             bool allow_dots) {
  bool ok = !name.empty() && name.size() <= max;
  for (char c : name) {
    ok = ok && (absl::ascii_islower(static_cast<unsigned char>(c)) ||
                absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' ||
                (allow_dots && c == '.'));
  }
  ok = ok && absl::ascii_isalnum(static_cast<unsigned char>(name.front())) &&
       absl::ascii_isalnum(static_cast<unsigned char>(name.back()));
  if (ok) return absl::OkStatus();
  return field.Error(absl::StrCat("\"", name, "\" is not a valid ",
                                  allow_dots ? "name (a lowercase DNS-1123 subdomain)"
                                             : "namespace (a lowercase DNS-1123 label)",
                                  ": at most ", max, " characters of a-z, 0-9 and '-'",
                                  allow_dots ? " or '.'" : "",
                                  ", starting and ending with a letter or digit"));
}

absl::Status ParseMeta(const YamlField& meta, PolicyMeta* out) {
  if (meta.IsMissing()) return meta.Error("is required (with at least a name)");
  RETURN_IF_ERROR(meta.OnlyKeys({"name", "namespace", "labels", "annotations", "uid",
                                 "resourceVersion", "generation", "creationTimestamp",
                                 "deletionTimestamp", "deletionGracePeriodSeconds", "generateName",
                                 "selfLink", "ownerReferences", "finalizers", "managedFields"}));
  ASSIGN_OR_RETURN(out->name, meta["name"].String());
  RETURN_IF_ERROR(ValidateDnsName(meta["name"], out->name, 253, /*allow_dots=*/true));
  out->ns = "default";
  if (!meta["namespace"].IsMissing()) {
    ASSIGN_OR_RETURN(out->ns, meta["namespace"].String());
    RETURN_IF_ERROR(ValidateDnsName(meta["namespace"], out->ns, 63, /*allow_dots=*/false));
  }
  ASSIGN_OR_RETURN(auto labels, meta["labels"].StringMap());
  (void)labels;
  ASSIGN_OR_RETURN(auto annotations, meta["annotations"].StringMap());
  for (const char* key : {"remora.io/dry-run", "istio.io/dry-run"}) {
    auto it = annotations.find(key);
    if (it == annotations.end()) continue;
    if (it->second == "true") {
      out->dry_run = true;
    } else if (it->second != "false") {
      return meta["annotations"][key].Error(
          absl::StrCat("\"", it->second, "\" is not \"true\" or \"false\""));
    }
  }
  if (!meta["creationTimestamp"].IsMissing()) {
    ASSIGN_OR_RETURN(std::string text, meta["creationTimestamp"].String());
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
      return meta["creationTimestamp"].Error(
          absl::StrCat("\"", text, "\" is not an RFC 3339 time: ", err));
    }
    out->created = t;
  }
  return absl::OkStatus();
}

// A list field that, when present, must hold at least one entry (Istio: "`from` must not be
// empty"): an explicit empty list reads as "match nothing" to some and "anything" to others.
absl::Status NonEmptyListIfPresent(const YamlField& field, absl::string_view omit_means) {
  if (field.IsMissing()) return absl::OkStatus();
  if (!field.IsSequence()) return field.Error("must be a list");
  if (field.size() == 0) {
    return field.Error(absl::StrCat("must not be empty; omit it to match ", omit_means));
  }
  return absl::OkStatus();
}

absl::Status ParseSelectorLabels(const YamlField& selector, Labels* out) {
  if (selector.IsMissing()) return absl::OkStatus();
  RETURN_IF_ERROR(selector.OnlyKeys({"matchLabels"}));
  ASSIGN_OR_RETURN(auto labels, selector["matchLabels"].StringMap());
  out->insert(labels.begin(), labels.end());
  return absl::OkStatus();
}

absl::Status Unsupported(const YamlField& field, absl::string_view why) {
  if (field.IsMissing()) return absl::OkStatus();
  if (field.IsSequence() && field.size() == 0) return absl::OkStatus();
  return field.Error(why);
}

absl::Status ParseAuthorizationPolicy(const YamlField& spec, AuthorizationPolicy* out) {
  RETURN_IF_ERROR(
      spec.OnlyKeys({"selector", "targetRef", "targetRefs", "action", "provider", "rules"}));
  RETURN_IF_ERROR(Unsupported(spec["targetRef"],
                              "is not supported by Remora (it attaches a policy to a Gateway or "
                              "Service); select workloads with spec.selector.matchLabels"));
  RETURN_IF_ERROR(Unsupported(spec["targetRefs"],
                              "is not supported by Remora (it attaches a policy to a Gateway or "
                              "Service); select workloads with spec.selector.matchLabels"));
  RETURN_IF_ERROR(ParseSelectorLabels(spec["selector"], &out->selector));
  std::string action = "ALLOW";
  if (!spec["action"].IsMissing()) {
    ASSIGN_OR_RETURN(action, spec["action"].String());
  }
  if (action == "ALLOW") {
    out->action = AuthzAction::kAllow;
  } else if (action == "DENY") {
    out->action = AuthzAction::kDeny;
  } else if (action == "AUDIT") {
    out->action = AuthzAction::kAudit;
  } else if (action == "CUSTOM") {
    return spec["action"].Error(
        "CUSTOM (delegation to an external authorizer) is not supported by Remora; use ALLOW, "
        "DENY or AUDIT");
  } else {
    return spec["action"].Error(
        absl::StrCat("\"", action, "\" is not ALLOW, DENY, AUDIT or CUSTOM"));
  }
  if (!spec["provider"].IsMissing()) {
    return spec["provider"].Error(
        absl::StrCat("must not be set with a non-CUSTOM action, found ", action));
  }
  YamlField rules = spec["rules"];
  if (rules.IsMissing()) return absl::OkStatus();
  if (!rules.IsSequence()) return rules.Error("must be a list of rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    YamlField r = rules.At(i);
    if (r.IsMissing())
      return r.Error("must not be null; write {} for a rule that matches everything");
    RETURN_IF_ERROR(r.OnlyKeys({"from", "to", "when"}));
    AuthzRule rule;
    RETURN_IF_ERROR(NonEmptyListIfPresent(r["from"], "any source"));
    for (size_t j = 0; j < r["from"].size(); ++j) {
      YamlField from = r["from"].At(j);
      RETURN_IF_ERROR(from.OnlyKeys({"source"}));
      YamlField s = from["source"];
      if (s.IsMissing()) return s.Error("must be set");
      RETURN_IF_ERROR(s.OnlyKeys(
          {"principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces",
           "notNamespaces", "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks",
           "serviceAccounts", "notServiceAccounts", "trustDomains", "notTrustDomains"}));
      for (const char* jwt : {"requestPrincipals", "notRequestPrincipals"}) {
        RETURN_IF_ERROR(Unsupported(
            s[jwt],
            "needs JWT request authentication (RequestAuthentication), which Remora does "
            "not support; match peers with principals or namespaces"));
      }
      AuthzSource source;
      ASSIGN_OR_RETURN(source.principals, s["principals"].StringList());
      ASSIGN_OR_RETURN(source.not_principals, s["notPrincipals"].StringList());
      ASSIGN_OR_RETURN(source.namespaces, s["namespaces"].StringList());
      ASSIGN_OR_RETURN(source.not_namespaces, s["notNamespaces"].StringList());
      ASSIGN_OR_RETURN(source.ip_blocks, s["ipBlocks"].StringList());
      ASSIGN_OR_RETURN(source.not_ip_blocks, s["notIpBlocks"].StringList());
      ASSIGN_OR_RETURN(source.remote_ip_blocks, s["remoteIpBlocks"].StringList());
      ASSIGN_OR_RETURN(source.not_remote_ip_blocks, s["notRemoteIpBlocks"].StringList());
      ASSIGN_OR_RETURN(source.service_accounts, s["serviceAccounts"].StringList());
      ASSIGN_OR_RETURN(source.not_service_accounts, s["notServiceAccounts"].StringList());
      ASSIGN_OR_RETURN(source.trust_domains, s["trustDomains"].StringList());
      ASSIGN_OR_RETURN(source.not_trust_domains, s["notTrustDomains"].StringList());
      rule.from.push_back(std::move(source));
    }
    RETURN_IF_ERROR(NonEmptyListIfPresent(r["to"], "any operation"));
    for (size_t j = 0; j < r["to"].size(); ++j) {
      YamlField to = r["to"].At(j);
      RETURN_IF_ERROR(to.OnlyKeys({"operation"}));
      YamlField o = to["operation"];
      if (o.IsMissing()) return o.Error("must be set");
      RETURN_IF_ERROR(o.OnlyKeys({"hosts", "notHosts", "ports", "notPorts", "methods", "notMethods",
                                  "paths", "notPaths"}));
      AuthzOperation op;
      ASSIGN_OR_RETURN(op.hosts, o["hosts"].StringList());
      ASSIGN_OR_RETURN(op.not_hosts, o["notHosts"].StringList());
      ASSIGN_OR_RETURN(op.ports, o["ports"].StringList());
      ASSIGN_OR_RETURN(op.not_ports, o["notPorts"].StringList());
      ASSIGN_OR_RETURN(op.methods, o["methods"].StringList());
      ASSIGN_OR_RETURN(op.not_methods, o["notMethods"].StringList());
      ASSIGN_OR_RETURN(op.paths, o["paths"].StringList());
      ASSIGN_OR_RETURN(op.not_paths, o["notPaths"].StringList());
      rule.to.push_back(std::move(op));
    }
    YamlField when = r["when"];
    if (!when.IsMissing() && !when.IsSequence()) return when.Error("must be a list of conditions");
    for (size_t k = 0; k < when.size(); ++k) {
      YamlField c = when.At(k);
      RETURN_IF_ERROR(c.OnlyKeys({"key", "values", "notValues"}));
      AuthzCondition cond;
      ASSIGN_OR_RETURN(cond.key, c["key"].String());
      ASSIGN_OR_RETURN(cond.values, c["values"].StringList());
      ASSIGN_OR_RETURN(cond.not_values, c["notValues"].StringList());
      rule.when.push_back(std::move(cond));
    }
    out->rules.push_back(std::move(rule));
  }
  return absl::OkStatus();
}

absl::StatusOr<MtlsMode> ParseMode(const YamlField& field) {
  ASSIGN_OR_RETURN(std::string text, field.String());
  if (text == "UNSET") return MtlsMode::kUnset;
  if (text == "DISABLE") return MtlsMode::kDisable;
  if (text == "PERMISSIVE") return MtlsMode::kPermissive;
  if (text == "STRICT") return MtlsMode::kStrict;
  return field.Error(absl::StrCat("\"", text, "\" is not UNSET, DISABLE, PERMISSIVE or STRICT"));
}

absl::StatusOr<MtlsMode> ParseMtls(const YamlField& mtls) {
  if (mtls.IsMissing()) return MtlsMode::kUnset;
  RETURN_IF_ERROR(mtls.OnlyKeys({"mode"}));
  if (mtls["mode"].IsMissing()) return MtlsMode::kUnset;
  return ParseMode(mtls["mode"]);
}

absl::Status ParsePeerAuthentication(const YamlField& spec, PeerAuthentication* out) {
  RETURN_IF_ERROR(spec.OnlyKeys({"selector", "mtls", "portLevelMtls"}));
  RETURN_IF_ERROR(ParseSelectorLabels(spec["selector"], &out->selector));
  ASSIGN_OR_RETURN(out->mode, ParseMtls(spec["mtls"]));
  YamlField ports = spec["portLevelMtls"];
  if (ports.IsMissing()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto entries, ports.Entries());
  if (entries.empty())
    return ports.Error("port level mTLS, if defined, must have at least one element");
  for (auto& [key, field] : entries) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(key, &port) || port < 1 || port > 65535) {
      return field.Error("port must be in range 1..65535");
    }
    ASSIGN_OR_RETURN(MtlsMode mode, ParseMtls(field));
    if (!out->port_level.emplace(port, mode).second) return field.Error("port is listed twice");
  }
  return absl::OkStatus();
}

absl::StatusOr<LabelSelector> ParseLabelSelector(const YamlField& field) {
  LabelSelector selector;
  if (field.IsMissing()) return selector;
  RETURN_IF_ERROR(field.OnlyKeys({"matchLabels", "matchExpressions"}));
  ASSIGN_OR_RETURN(auto labels, field["matchLabels"].StringMap());
  selector.match_labels.insert(labels.begin(), labels.end());
  YamlField exprs = field["matchExpressions"];
  if (!exprs.IsMissing() && !exprs.IsSequence()) return exprs.Error("must be a list");
  for (size_t i = 0; i < exprs.size(); ++i) {
    YamlField e = exprs.At(i);
    RETURN_IF_ERROR(e.OnlyKeys({"key", "operator", "values"}));
    LabelRequirement r;
    ASSIGN_OR_RETURN(r.key, e["key"].String());
    ASSIGN_OR_RETURN(std::string op, e["operator"].String());
    if (op == "In") {
      r.op = LabelRequirement::Operator::kIn;
    } else if (op == "NotIn") {
      r.op = LabelRequirement::Operator::kNotIn;
    } else if (op == "Exists") {
      r.op = LabelRequirement::Operator::kExists;
    } else if (op == "DoesNotExist") {
      r.op = LabelRequirement::Operator::kDoesNotExist;
    } else {
      return e["operator"].Error(absl::StrCat(
          "\"", op, "\" is not a valid selector operator (In, NotIn, Exists, DoesNotExist)"));
    }
    ASSIGN_OR_RETURN(r.values, e["values"].StringList());
    selector.match_expressions.push_back(std::move(r));
  }
  return selector;
}

absl::Status ParseNetworkPolicyRules(const YamlField& list, const char* peers_key,
                                     std::vector<NetworkPolicyRule>* out) {
  if (list.IsMissing()) return absl::OkStatus();
  if (!list.IsSequence()) return list.Error("must be a list of rules");
  for (size_t i = 0; i < list.size(); ++i) {
    YamlField r = list.At(i);
    RETURN_IF_ERROR(r.OnlyKeys({peers_key, "ports"}));
    NetworkPolicyRule rule;
    YamlField peers = r[peers_key];
    if (!peers.IsMissing() && !peers.IsSequence()) return peers.Error("must be a list of peers");
    for (size_t j = 0; j < peers.size(); ++j) {
      YamlField p = peers.At(j);
      RETURN_IF_ERROR(p.OnlyKeys({"podSelector", "namespaceSelector", "ipBlock"}));
      NetworkPolicyPeer peer;
      if (!p["podSelector"].IsMissing()) {
        ASSIGN_OR_RETURN(peer.pod_selector, ParseLabelSelector(p["podSelector"]));
      }
      if (!p["namespaceSelector"].IsMissing()) {
        ASSIGN_OR_RETURN(peer.namespace_selector, ParseLabelSelector(p["namespaceSelector"]));
      }
      if (!p["ipBlock"].IsMissing()) {
        YamlField b = p["ipBlock"];
        RETURN_IF_ERROR(b.OnlyKeys({"cidr", "except"}));
        IpBlock block;
        ASSIGN_OR_RETURN(block.cidr, b["cidr"].String());
        ASSIGN_OR_RETURN(block.except, b["except"].StringList());
        peer.ip_block = std::move(block);
      }
      rule.peers.push_back(std::move(peer));
    }
    YamlField ports = r["ports"];
    if (!ports.IsMissing() && !ports.IsSequence()) return ports.Error("must be a list of ports");
    for (size_t j = 0; j < ports.size(); ++j) {
      YamlField p = ports.At(j);
      RETURN_IF_ERROR(p.OnlyKeys({"protocol", "port", "endPort"}));
      NetworkPolicyPort port;
      if (!p["protocol"].IsMissing()) {
        ASSIGN_OR_RETURN(port.protocol, p["protocol"].String());
      }
      if (!p["port"].IsMissing()) {
        ASSIGN_OR_RETURN(std::string text, p["port"].String());
        // IntOrString: a plain scalar of digits is a number; anything else (including a quoted
        // "80") is a port name, as the Kubernetes API decodes it.
        const bool plain = p["port"].node().Tag() != "!";
        const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
          return c >= '0' && c <= '9';
        });
        if (plain && digits) {
          ASSIGN_OR_RETURN(int64_t n, p["port"].Int(0, 1 << 30));
          port.port = static_cast<int32_t>(n);
        } else {
          port.port_name = text;
        }
      }
      if (!p["endPort"].IsMissing()) {
        ASSIGN_OR_RETURN(int64_t n, p["endPort"].Int(0, 1 << 30));
        port.end_port = static_cast<int32_t>(n);
      }
      rule.ports.push_back(std::move(port));
    }
    out->push_back(std::move(rule));
  }
  return absl::OkStatus();
}

absl::Status ParseNetworkPolicy(const YamlField& spec, NetworkPolicy* out) {
  RETURN_IF_ERROR(spec.OnlyKeys({"podSelector", "policyTypes", "ingress", "egress"}));
  ASSIGN_OR_RETURN(out->pod_selector, ParseLabelSelector(spec["podSelector"]));
  ASSIGN_OR_RETURN(std::vector<std::string> types, spec["policyTypes"].StringList());
  if (types.size() > 2)
    return spec["policyTypes"].Error("may not specify more than two policyTypes");
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] == "Ingress") {
      out->policy_types.push_back(PolicyType::kIngress);
    } else if (types[i] == "Egress") {
      out->policy_types.push_back(PolicyType::kEgress);
    } else {
      return spec["policyTypes"].At(i).Error(absl::StrCat(
          "unsupported value \"", types[i], "\": supported values: \"Ingress\", \"Egress\""));
    }
  }
  RETURN_IF_ERROR(ParseNetworkPolicyRules(spec["ingress"], "from", &out->ingress));
  RETURN_IF_ERROR(ParseNetworkPolicyRules(spec["egress"], "to", &out->egress));
  return absl::OkStatus();
}

// Best-effort "Kind ns/name" for messages about a document that may be broken.
std::string Describe(const YamlField& doc) {
  auto scalar = [](const YamlField& f) -> std::string {
    return f.IsScalar() ? YamlScalar(f.node()) : std::string();
  };
  std::string kind = scalar(doc["kind"]);
  std::string name = scalar(doc["metadata"]["name"]);
  std::string ns = scalar(doc["metadata"]["namespace"]);
  if (kind.empty()) kind = "unknown kind";
  if (name.empty()) return kind;
  return absl::StrCat(kind, " ", ns.empty() ? "default" : ns, "/", name);
}

absl::Status ParseObject(const YamlField& doc, absl::string_view kind, PolicySet* out) {
  if (!doc.IsMap()) return doc.Error("must be a map with apiVersion, kind, metadata and spec");
  RETURN_IF_ERROR(doc.OnlyKeys({"apiVersion", "kind", "metadata", "spec", "status"}));
  PolicyMeta meta;
  RETURN_IF_ERROR(ParseMeta(doc["metadata"], &meta));
  YamlField spec = doc["spec"];
  if (!spec.IsMissing() && !spec.IsMap()) return spec.Error("must be a map");
  absl::Status compiled;
  if (kind == "AuthorizationPolicy") {
    AuthorizationPolicy p;
    p.meta = meta;
    RETURN_IF_ERROR(ParseAuthorizationPolicy(spec, &p));
    compiled = CompiledAuthorizationPolicy::Compile(p).status();
    out->authorization_policies.push_back(std::move(p));
  } else if (kind == "PeerAuthentication") {
    PeerAuthentication p;
    p.meta = meta;
    RETURN_IF_ERROR(ParsePeerAuthentication(spec, &p));
    compiled = ValidatePeerAuthentication(p);
    out->peer_authentications.push_back(std::move(p));
  } else {
    NetworkPolicy p;
    p.meta = meta;
    RETURN_IF_ERROR(ParseNetworkPolicy(spec, &p));
    compiled = CompiledNetworkPolicy::Compile(p).status();
    out->network_policies.push_back(std::move(p));
  }
  return compiled;
}

absl::Status ParseDocument(const YamlField& doc, PolicySet* out) {
  if (!doc.IsMap()) return doc.Error("must be a map with apiVersion, kind, metadata and spec");
  ASSIGN_OR_RETURN(std::string api, doc["apiVersion"].String());
  ASSIGN_OR_RETURN(std::string kind, doc["kind"].String());
  if (kind == "AuthorizationPolicy" || kind == "PeerAuthentication") {
    if (api != kIstioV1 && api != kIstioV1beta1) {
      return doc["apiVersion"].Error(absl::StrCat("\"", api, "\" is not supported for ", kind,
                                                  "; use ", kIstioV1, " or ", kIstioV1beta1));
    }
    return ParseObject(doc, kind, out);
  }
  if (kind == "NetworkPolicy") {
    if (api != kNetworkingV1) {
      return doc["apiVersion"].Error(
          absl::StrCat("\"", api, "\" is not supported for ", kind, "; use ", kNetworkingV1));
    }
    return ParseObject(doc, kind, out);
  }
  return doc["kind"].Error(
      absl::StrCat("\"", kind, "\" is not supported; supported kinds: ", kSupportedKinds));
}

}  // namespace

absl::StatusOr<PolicySet> ParsePolicyDocuments(absl::string_view yaml, absl::string_view source) {
  return GuardYaml<PolicySet>(source, [&]() -> absl::StatusOr<PolicySet> {
    ASSIGN_OR_RETURN(std::vector<YamlDocument> docs, LoadYamlDocuments(yaml, source));
    PolicySet set;
    for (const YamlDocument& d : docs) {
      const std::string where = absl::StrCat(source, ": document ", d.index + 1);
      if (absl::Status s = CheckYamlSize(d.root); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
      }
      YamlField doc(d.root, "");
      // kind: List (what `kubectl get -o yaml` prints for several objects) holds documents.
      if (doc.IsMap() && doc["kind"].IsScalar() && doc["kind"].node().Scalar() == "List") {
        absl::Status s = doc.OnlyKeys({"apiVersion", "kind", "metadata", "items"});
        if (s.ok() && !doc["items"].IsMissing() && !doc["items"].IsSequence()) {
          s = doc["items"].Error("must be a list");
        }
        if (!s.ok())
          return absl::InvalidArgumentError(absl::StrCat(where, " (List): ", s.message()));
        for (size_t i = 0; i < doc["items"].size(); ++i) {
          YamlField item(doc["items"].At(i).node(), "");
          if (absl::Status s = ParseDocument(item, &set); !s.ok()) {
            return absl::InvalidArgumentError(
                absl::StrCat(where, " item ", i + 1, " (", Describe(item), "): ", s.message()));
          }
        }
        continue;
      }
      if (absl::Status s = ParseDocument(doc, &set); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " (", Describe(doc), "): ", s.message()));
      }
    }
    // Duplicates within the input (the engine refuses them across inputs too).
    std::set<std::string> seen;
    for (const auto& p : set.authorization_policies) {
      if (!seen.insert("AuthorizationPolicy " + p.meta.Id()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": AuthorizationPolicy ", p.meta.Id(), " is defined twice"));
      }
    }
    for (const auto& p : set.network_policies) {
      if (!seen.insert("NetworkPolicy " + p.meta.Id()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": NetworkPolicy ", p.meta.Id(), " is defined twice"));
      }
    }
    for (const auto& p : set.peer_authentications) {
      if (!seen.insert("PeerAuthentication " + p.meta.Id()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": PeerAuthentication ", p.meta.Id(), " is defined twice"));
      }
    }
    return set;
  });
}

}  // namespace remora::filters
