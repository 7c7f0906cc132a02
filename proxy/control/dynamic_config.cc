#include "proxy/control/dynamic_config.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "certs/spiffe_id.h"
#include "filters/policy_yaml.h"
#include "xds/view/resource_types.h"

namespace remora::proxy::control {
namespace {

using xds::kAuthorizationPolicyType;
using xds::kPeerAuthenticationType;
using xds::kServiceType;
using xds::kTrustBundleType;
using xds::kWorkloadSettingsType;

absl::Status Refuse(absl::string_view why) { return absl::InvalidArgumentError(why); }

absl::Status CheckIp(absl::string_view ip, absl::string_view field) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(ip), ec);
  if (ec) return Refuse(absl::StrCat(field, ": \"", ip, "\" is not an IP address"));
  return absl::OkStatus();
}

absl::Status CheckPort(uint32_t port, absl::string_view field) {
  if (port == 0 || port > 65535) return Refuse(absl::StrCat(field, ": ", port, " is not a port"));
  return absl::OkStatus();
}

absl::Status CheckProtocol(absl::string_view protocol, absl::string_view field) {
  if (protocol != "tcp" && protocol != "http" && !protocol.empty()) {
    return Refuse(absl::StrCat(field, ": \"", protocol, "\" is not tcp or http"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PeerAuthMode> Mode(absl::string_view text, absl::string_view field) {
  if (text == "STRICT") return PeerAuthMode::kStrict;
  if (text == "PERMISSIVE") return PeerAuthMode::kPermissive;
  if (text == "DISABLE") return PeerAuthMode::kDisable;
  return Refuse(absl::StrCat(field, ": \"", text, "\" is not STRICT, PERMISSIVE or DISABLE"));
}

}  // namespace

DynamicConfig::DynamicConfig(std::string workload_key, std::string identity,
                             std::string trust_domain, size_t max_policies)
    : workload_key_(std::move(workload_key)),
      identity_(std::move(identity)),
      trust_domain_(std::move(trust_domain)),
      max_policies_(max_policies) {}

absl::StatusOr<std::string> DynamicConfig::Accept(const std::string& type,
                                                  const google::protobuf::Any& any) {
  if (type == kWorkloadSettingsType) {
    remora::v1::WorkloadSettings w;
    if (!any.UnpackTo(&w)) return Refuse("not a remora.v1.WorkloadSettings");
    const std::string name = absl::StrCat(w.namespace_(), "/", w.name());
    if (name != workload_key_) {
      return Refuse(
          absl::StrCat("settings are for workload ", name, ", this proxy serves ", workload_key_));
    }
    if (w.identity() != identity_) {
      return Refuse(absl::StrCat("the control plane says ", name, " runs as ", w.identity(),
                                 " but this proxy's identity is ", identity_));
    }
    for (int i = 0; i < w.ports_size(); ++i) {
      if (absl::Status s = CheckPort(w.ports(i).port(), absl::StrCat("ports[", i, "].port"));
          !s.ok())
        return s;
      if (absl::Status s =
              CheckProtocol(w.ports(i).protocol(), absl::StrCat("ports[", i, "].protocol"));
          !s.ok())
        return s;
    }
    for (int i = 0; i < w.ips_size(); ++i) {
      if (absl::Status s = CheckIp(w.ips(i), absl::StrCat("ips[", i, "]")); !s.ok()) return s;
    }
    if (w.root_namespace().empty() || w.root_namespace().find('/') != std::string::npos) {
      return Refuse(absl::StrCat(
          "root_namespace: \"", w.root_namespace(),
          "\" is not a namespace; the control plane must say whose policies apply mesh-wide "
          "(a remora-control older than this proxy does not: upgrade the control plane first)"));
    }
    workload_ = std::move(w);
    return name;
  }
  if (type == kServiceType) {
    remora::v1::Service s;
    if (!any.UnpackTo(&s)) return Refuse("not a remora.v1.Service");
    const std::string name = absl::StrCat(s.namespace_(), "/", s.name());
    for (int i = 0; i < s.virtual_ips_size(); ++i) {
      if (absl::Status st = CheckIp(s.virtual_ips(i), absl::StrCat("virtual_ips[", i, "]"));
          !st.ok())
        return st;
    }
    for (int i = 0; i < s.endpoint_ips_size(); ++i) {
      if (absl::Status st = CheckIp(s.endpoint_ips(i), absl::StrCat("endpoint_ips[", i, "]"));
          !st.ok())
        return st;
    }
    if (s.ports_size() == 0) return Refuse("a service needs at least one port");
    for (int i = 0; i < s.ports_size(); ++i) {
      if (absl::Status st = CheckPort(s.ports(i).port(), absl::StrCat("ports[", i, "].port"));
          !st.ok())
        return st;
      if (absl::Status st =
              CheckPort(s.ports(i).target_port(), absl::StrCat("ports[", i, "].target_port"));
          !st.ok())
        return st;
      if (absl::Status st =
              CheckProtocol(s.ports(i).protocol(), absl::StrCat("ports[", i, "].protocol"));
          !st.ok())
        return st;
    }
    for (int i = 0; i < s.identities_size(); ++i) {
      absl::StatusOr<certs::SpiffeId> id = certs::SpiffeId::Parse(s.identities(i));
      if (!id.ok()) return Refuse(absl::StrCat("identities[", i, "]: ", id.status().message()));
      if (id->trust_domain() != trust_domain_) {
        return Refuse(absl::StrCat("identities[", i, "]: ", s.identities(i),
                                   " is not in trust domain ", trust_domain_));
      }
    }
    services_[name] = std::move(s);
    return name;
  }
  if (type == kAuthorizationPolicyType) {
    remora::v1::AuthorizationPolicy p;
    if (!any.UnpackTo(&p)) return Refuse("not a remora.v1.AuthorizationPolicy");
    const std::string name = absl::StrCat(p.kind(), "/", p.namespace_(), "/", p.name());
    absl::StatusOr<filters::PolicySet> parsed = filters::ParsePolicyDocuments(p.yaml(), name);
    if (!parsed.ok()) return parsed.status();
    const size_t authz = parsed->authorization_policies.size();
    const size_t netpol = parsed->network_policies.size();
    if (parsed->size() != 1 || (p.kind() == "AuthorizationPolicy" && authz != 1) ||
        (p.kind() == "NetworkPolicy" && netpol != 1)) {
      return Refuse(absl::StrCat("must hold exactly one ", p.kind(), " document"));
    }
    if (policies_.count(name) == 0 && policies_.size() >= max_policies_) {
      return Refuse(absl::StrCat("this proxy already enforces ", policies_.size(),
                                 " authorization documents, its limit (limits.max_policies)"));
    }
    policies_[name] = Policy{std::move(p), std::move(*parsed)};
    return name;
  }
  if (type == kPeerAuthenticationType) {
    remora::v1::PeerAuthentication pa;
    if (!any.UnpackTo(&pa)) return Refuse("not a remora.v1.PeerAuthentication");
    if (absl::StatusOr<PeerAuthMode> m = Mode(pa.default_mode(), "default_mode"); !m.ok())
      return m.status();
    for (const auto& [port, mode] : pa.port_modes()) {
      if (absl::Status s = CheckPort(port, "port_modes"); !s.ok()) return s;
      if (absl::StatusOr<PeerAuthMode> m = Mode(mode, absl::StrCat("port_modes[", port, "]"));
          !m.ok()) {
        return m.status();
      }
    }
    peer_auth_ = std::move(pa);
    return workload_key_;
  }
  if (type == kTrustBundleType) {
    remora::v1::TrustBundle b;
    if (!any.UnpackTo(&b)) return Refuse("not a remora.v1.TrustBundle");
    if (b.trust_domain() != trust_domain_) {
      return Refuse(
          absl::StrCat("bundle is for trust domain ", b.trust_domain(), ", not ", trust_domain_));
    }
    if (b.roots_pem_size() == 0)
      return Refuse("a trust bundle with no root would refuse every peer");
    absl::StatusOr<certs::TrustBundle> parsed =
        certs::TrustBundle::FromPem(absl::StrJoin(b.roots_pem(), ""), "trust bundle");
    if (!parsed.ok()) return parsed.status();
    bundle_ = std::move(b);
    return trust_domain_;
  }
  return Refuse(absl::StrCat("unknown resource type ", type));
}

namespace {

// The name a resource is known by, from its content (state-of-the-world responses carry none).
std::string NameOf(absl::string_view type, const google::protobuf::Any& any) {
  if (type == kServiceType) {
    remora::v1::Service s;
    if (any.UnpackTo(&s)) return absl::StrCat(s.namespace_(), "/", s.name());
  } else if (type == kAuthorizationPolicyType) {
    remora::v1::AuthorizationPolicy p;
    if (any.UnpackTo(&p)) return absl::StrCat(p.kind(), "/", p.namespace_(), "/", p.name());
  }
  return "";
}

}  // namespace

std::string DynamicConfig::WorkloadNamespace() const {
  return workload_key_.substr(0, workload_key_.find('/'));
}

std::string DynamicConfig::RefusePolicy(const std::string& key, const google::protobuf::Any& any) {
  if (policies_.count(key) != 0) return "; its last accepted version stays in force";
  Refused refused;
  remora::v1::AuthorizationPolicy p;
  if (any.UnpackTo(&p)) {
    refused.kind = p.kind();
    refused.ns = p.namespace_();
    refused.name = p.name();
    absl::StatusOr<filters::PolicySet> parsed = filters::ParsePolicyDocuments(p.yaml(), key);
    if (parsed.ok() && parsed->size() == 1) refused.parsed = std::move(*parsed);
  }
  if (refused.kind != "NetworkPolicy") refused.kind = "AuthorizationPolicy";
  if (refused.parsed.has_value()) {
    // Documents that are never enforced cannot open anything when refused.
    const filters::PolicySet& set = *refused.parsed;
    const bool dry_run =
        (!set.authorization_policies.empty() && set.authorization_policies[0].meta.dry_run) ||
        (!set.network_policies.empty() && set.network_policies[0].meta.dry_run);
    const bool audit = !set.authorization_policies.empty() &&
                       set.authorization_policies[0].action == filters::AuthzAction::kAudit;
    if (dry_run || audit) return "; it is not enforced (dry-run or AUDIT), nothing changes";
  }
  if (refused.name.empty()) refused.name = key;
  refused_[key] = std::move(refused);
  return "; until a valid version arrives the workload enforces it as a policy that allows "
         "nothing (fail closed)";
}

std::vector<remora::v1::ResourceError> DynamicConfig::Apply(const ReceivedUpdate& update) {
  // Removals first, so a replaced set never counts old and new resources together.
  std::set<std::string> present;
  for (const ReceivedResource& r : update.resources) {
    present.insert(r.name.empty() ? NameOf(update.type_url, *r.resource) : r.name);
  }
  auto remove = [&](auto& map) {
    for (auto it = map.begin(); it != map.end();) {
      const bool gone = update.complete_set
                            ? present.count(it->first) == 0
                            : std::find(update.removed.begin(), update.removed.end(), it->first) !=
                                  update.removed.end();
      it = gone ? map.erase(it) : std::next(it);
    }
  };
  // WorkloadSettings, PeerAuthentication and TrustBundle are never removed by absence: losing
  // the trust bundle would refuse every peer. They change by replacement only.
  if (update.type_url == kServiceType) remove(services_);
  if (update.type_url == kAuthorizationPolicyType) {
    remove(policies_);
    remove(refused_);
  }
  if (std::find(xds::kAllTypes.begin(), xds::kAllTypes.end(), update.type_url) !=
      xds::kAllTypes.end()) {
    received_.insert(update.type_url);
  }

  std::vector<remora::v1::ResourceError> errors;
  for (size_t i = 0; i < update.resources.size(); ++i) {
    const ReceivedResource& r = update.resources[i];
    absl::StatusOr<std::string> name = Accept(update.type_url, *r.resource);
    if (name.ok()) {
      refused_.erase(*name);
      continue;
    }
    // A refused resource keeps its last accepted version, if it had one.
    remora::v1::ResourceError e;
    e.set_type_url(update.type_url);
    std::string known = r.name.empty() ? NameOf(update.type_url, *r.resource) : r.name;
    if (known.empty()) known = absl::StrCat("resource #", i);
    e.set_name(known);
    std::string reason(name.status().message());
    if (update.type_url == kAuthorizationPolicyType) {
      absl::StrAppend(&reason, RefusePolicy(known, *r.resource));
    }
    e.set_reason(std::move(reason));
    errors.push_back(std::move(e));
  }
  return errors;
}

std::vector<remora::v1::ResourceError> DynamicConfig::RefuseAll(const ReceivedUpdate& update,
                                                                absl::string_view reason) {
  received_.insert(update.type_url);
  std::vector<remora::v1::ResourceError> errors;
  for (size_t i = 0; i < update.resources.size(); ++i) {
    const ReceivedResource& r = update.resources[i];
    std::string known = r.name.empty() ? NameOf(update.type_url, *r.resource) : r.name;
    if (known.empty()) known = absl::StrCat("resource #", i);
    std::string why(reason);
    if (update.type_url == kAuthorizationPolicyType) {
      absl::StrAppend(&why, RefusePolicy(known, *r.resource));
    }
    remora::v1::ResourceError e;
    e.set_type_url(update.type_url);
    e.set_name(std::move(known));
    e.set_reason(std::move(why));
    errors.push_back(std::move(e));
  }
  return errors;
}

bool DynamicConfig::complete() const {
  if (!workload_.has_value()) return false;
  for (absl::string_view type : xds::kAllTypes) {
    if (received_.count(std::string(type)) == 0) return false;
  }
  return true;
}

std::string DynamicConfig::Missing() const {
  std::vector<std::string> missing;
  for (absl::string_view type : xds::kAllTypes) {
    if (received_.count(std::string(type)) == 0) {
      missing.emplace_back(xds::ShortTypeName(type));
    } else if (type == kWorkloadSettingsType && !workload_.has_value()) {
      missing.push_back("WorkloadSettings (refused)");
    }
  }
  return absl::StrJoin(missing, ", ");
}

ProxyConfig DynamicConfig::Effective(const ProxyConfig& base) const {
  ProxyConfig c = base;
  if (workload_.has_value()) {
    c.unknown_destinations = workload_->outbound_policy() == remora::v1::WorkloadSettings::DENY
                                 ? UnknownDestinationPolicy::kDeny
                                 : UnknownDestinationPolicy::kPassthrough;
    for (const remora::v1::Port& p : workload_->ports()) {
      InboundPort& port =
          c.inbound_ports
              .try_emplace(static_cast<uint16_t>(p.port()), InboundPort{.mode = c.default_mode})
              .first->second;
      port.protocol = p.protocol() == "http" ? AppProtocol::kHttp : AppProtocol::kTcp;
      port.name = p.name();
    }
  }
  if (peer_auth_.has_value()) {
    c.default_mode = *Mode(peer_auth_->default_mode(), "");
    for (auto& [port, settings] : c.inbound_ports) settings.mode = c.default_mode;
    for (const auto& [port, mode] : peer_auth_->port_modes()) {
      c.inbound_ports[static_cast<uint16_t>(port)].mode = *Mode(mode, "");
    }
  }
  for (const auto& [name, s] : services_) {
    std::vector<std::string> identities(s.identities().begin(), s.identities().end());
    for (const remora::v1::ServicePort& p : s.ports()) {
      Service service;
      service.name = absl::StrCat(name, ":", p.port());
      service.identities = identities;
      service.protocol = p.protocol() == "http" ? AppProtocol::kHttp : AppProtocol::kTcp;
      service.port_name = p.name();
      if (!s.hostnames().empty()) service.sni = s.hostnames(0);
      for (const std::string& ip : s.virtual_ips()) {
        service.addresses.emplace_back(asio::ip::make_address(ip), static_cast<uint16_t>(p.port()));
      }
      for (const std::string& ip : s.endpoint_ips()) {
        tcp::endpoint ep(asio::ip::make_address(ip), static_cast<uint16_t>(p.target_port()));
        service.addresses.push_back(ep);
        service.endpoints.push_back(ep);
      }
      c.services.push_back(std::move(service));
    }
  }
  return c;
}

filters::PolicySet DynamicConfig::Policies() const {
  filters::PolicySet set;
  for (const auto& [name, p] : policies_) {
    filters::PolicySet copy = p.parsed;
    set.Append(std::move(copy));
  }
  // Stand-ins for refused policies. The name carries a space, which no Kubernetes name can, so a
  // stand-in never collides with a real policy; it names the refused one in every denial.
  const std::string ns = WorkloadNamespace();
  const std::string root = RootNamespace();
  // Keeps stand-ins distinct when one lands in another namespace than its policy's.
  auto name_in = [](const Refused& r, const std::string& target_ns) {
    return r.ns == target_ns ? absl::StrCat(r.name, " (refused)")
                             : absl::StrCat(r.ns, "/", r.name, " (refused)");
  };
  for (const auto& [key, r] : refused_) {
    if (r.kind == "NetworkPolicy") {
      filters::NetworkPolicy np;
      np.meta.ns = ns;  // a NetworkPolicy applies in its own namespace: the one it was sent for
      np.meta.name = name_in(r, ns);
      // An empty podSelector selects the workload; no rules: the directions it governs admit
      // nothing. Its own directions when the document was readable, else both.
      if (r.parsed.has_value() && !r.parsed->network_policies.empty()) {
        const filters::NetworkPolicy& original = r.parsed->network_policies[0];
        np.policy_types = original.policy_types;
        if (np.policy_types.empty()) {
          np.policy_types.push_back(filters::PolicyType::kIngress);
          if (!original.egress.empty()) np.policy_types.push_back(filters::PolicyType::kEgress);
        }
      } else {
        np.policy_types = {filters::PolicyType::kIngress, filters::PolicyType::kEgress};
      }
      set.network_policies.push_back(std::move(np));
    } else {
      filters::AuthorizationPolicy ap;
      // Its own namespace when that is one whose policies apply here; no selector: the control
      // plane sent it because it selects this workload. ALLOW with no rules allows nothing.
      ap.meta.ns = r.ns == ns || (!root.empty() && r.ns == root) ? r.ns : ns;
      ap.meta.name = name_in(r, ap.meta.ns);
      ap.action = filters::AuthzAction::kAllow;
      set.authorization_policies.push_back(std::move(ap));
    }
  }
  return set;
}

filters::PolicySet DynamicConfig::DenyAll() const {
  filters::PolicySet set;
  filters::AuthorizationPolicy ap;
  ap.meta.ns = WorkloadNamespace();
  ap.meta.name = "(configuration refused)";
  set.authorization_policies.push_back(std::move(ap));
  filters::NetworkPolicy np;
  np.meta = set.authorization_policies[0].meta;
  np.policy_types = {filters::PolicyType::kIngress, filters::PolicyType::kEgress};
  set.network_policies.push_back(std::move(np));
  return set;
}

std::string DynamicConfig::RootNamespace() const {
  return workload_.has_value() ? workload_->root_namespace() : std::string();
}

filters::Labels DynamicConfig::Labels() const {
  filters::Labels labels;
  if (workload_.has_value()) {
    for (const auto& [k, v] : workload_->labels()) labels.emplace(k, v);
  }
  return labels;
}

std::optional<certs::TrustBundle> DynamicConfig::Bundle() const {
  if (!bundle_.has_value()) return std::nullopt;
  absl::StatusOr<certs::TrustBundle> b =
      certs::TrustBundle::FromPem(absl::StrJoin(bundle_->roots_pem(), ""), "trust bundle");
  if (!b.ok()) return std::nullopt;
  return std::move(*b);
}

}  // namespace remora::proxy::control
