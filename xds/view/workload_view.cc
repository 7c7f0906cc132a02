#include "xds/view/workload_view.h"

#include <openssl/sha.h>

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/yaml.h"
#include "filters/peer_authentication.h"
#include "remora/v1/resources.pb.h"
#include "xds/view/resource_types.h"

namespace remora::xds {
namespace {

std::string Hash(const google::protobuf::Message& message) {
  std::string bytes;
  google::protobuf::io::StringOutputStream out(&bytes);
  google::protobuf::io::CodedOutputStream coded(&out);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8));
}

void Put(WorkloadView& view, absl::string_view type, const std::string& name,
         const google::protobuf::Message& message) {
  ViewResource r;
  r.resource.PackFrom(message);
  r.hash = Hash(message);
  view.types[std::string(type)][name] = std::move(r);
}

std::string Identity(const std::string& td, const Workload& w) {
  return absl::StrCat("spiffe://", td, "/ns/", w.ns, "/sa/", w.service_account);
}

const char* ModeName(filters::MtlsMode mode) {
  switch (mode) {
    case filters::MtlsMode::kStrict:
      return "STRICT";
    case filters::MtlsMode::kDisable:
      return "DISABLE";
    default:
      return "PERMISSIVE";
  }
}

bool AppliesTo(const filters::AuthorizationPolicy& p, const Registry& registry, const Workload& w) {
  if (p.meta.ns != w.ns && p.meta.ns != registry.root_namespace()) return false;
  for (const auto& [key, value] : p.selector) {
    auto it = w.labels.find(key);
    if (it == w.labels.end() || it->second != value) return false;
  }
  return true;
}

// Every address a NetworkPolicy peer selects, given the policy's namespace.
std::vector<std::string> PeerAddresses(const Registry& registry, const std::string& policy_ns,
                                       const filters::NetworkPolicyPeer& peer) {
  std::set<std::string> namespaces;
  if (peer.namespace_selector.has_value()) {
    std::set<std::string> known;
    for (const Workload& w : registry.workloads()) known.insert(w.ns);
    for (const std::string& ns : known) {
      if (filters::MatchesNamespace(*peer.namespace_selector, ns, registry.NamespaceLabels(ns))) {
        namespaces.insert(ns);
      }
    }
  } else {
    namespaces.insert(policy_ns);
  }
  filters::LabelSelector everything;
  std::vector<std::string> out;
  for (const std::string& ns : namespaces) {
    for (const Workload* w : registry.SelectWorkloads(
             ns, peer.pod_selector.has_value() ? *peer.pod_selector : everything)) {
      for (const std::string& ip : w->ips) out.push_back(ip);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

YAML::Node IpBlockPeer(const std::string& ip) {
  YAML::Node peer;
  peer["ipBlock"]["cidr"] = ip.find(':') == std::string::npos ? ip + "/32" : ip + "/128";
  return peer;
}

}  // namespace

std::string WorkloadView::TypeHash(absl::string_view type_url) const {
  auto it = types.find(type_url);
  if (it == types.end()) return "";
  std::string all;
  for (const auto& [name, r] : it->second) absl::StrAppend(&all, name, "=", r.hash, ";");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(all.data()), all.size(), digest);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8));
}

absl::StatusOr<std::string> ResolveNetworkPolicy(const Registry& registry, size_t index) {
  const filters::NetworkPolicy& policy = registry.policies().network_policies[index];
  const StoredObject& source = *registry.network_sources()[index];
  return GuardYaml<std::string>(source.key.ToString(), [&]() -> absl::StatusOr<std::string> {
    YAML::Node doc = YAML::Clone(source.node);
    struct Direction {
      const char* field;
      const char* peers;
      const std::vector<filters::NetworkPolicyRule>* rules;
    };
    for (const Direction& d : {Direction{"ingress", "from", &policy.ingress},
                               Direction{"egress", "to", &policy.egress}}) {
      YAML::Node rules = doc["spec"][d.field];
      if (!rules || !rules.IsSequence()) continue;
      for (size_t r = 0; r < rules.size() && r < d.rules->size(); ++r) {
        YAML::Node peers = rules[r][d.peers];
        if (!peers || !peers.IsSequence()) continue;
        YAML::Node resolved(YAML::NodeType::Sequence);
        const std::vector<filters::NetworkPolicyPeer>& domain = (*d.rules)[r].peers;
        for (size_t p = 0; p < peers.size() && p < domain.size(); ++p) {
          if (domain[p].ip_block.has_value()) {
            resolved.push_back(peers[p]);
            continue;
          }
          std::vector<std::string> addresses = PeerAddresses(registry, policy.meta.ns, domain[p]);
          // 0.0.0.0/32 is never a connection's source or destination: a peer that selects no
          // workload must still be a peer (dropping it would widen an empty `from` to "all").
          if (addresses.empty()) addresses.push_back("0.0.0.0");
          for (const std::string& ip : addresses) resolved.push_back(IpBlockPeer(ip));
        }
        rules[r][d.peers] = resolved;
      }
    }
    return DumpYaml(doc);
  });
}

absl::StatusOr<WorkloadView> ComputeView(const Registry& registry, const Workload& workload,
                                         const ViewOptions& options) {
  WorkloadView view;
  const std::string key = workload.Key();

  remora::v1::WorkloadSettings settings;
  settings.set_name(workload.name);
  settings.set_namespace_(workload.ns);
  settings.set_service_account(workload.service_account);
  settings.set_identity(Identity(options.trust_domain, workload));
  settings.set_trust_domain(options.trust_domain);
  settings.set_root_namespace(registry.root_namespace());
  for (const auto& [k, v] : workload.labels) (*settings.mutable_labels())[k] = v;
  for (const auto& [k, v] : registry.NamespaceLabels(workload.ns)) {
    (*settings.mutable_namespace_labels())[k] = v;
  }
  for (const std::string& ip : workload.ips) settings.add_ips(ip);
  for (const WorkloadPort& p : workload.ports) {
    remora::v1::Port* port = settings.add_ports();
    port->set_name(p.name);
    port->set_port(p.port);
    port->set_protocol(p.protocol);
  }
  settings.set_outbound_policy(workload.outbound_deny ? remora::v1::WorkloadSettings::DENY
                                                      : remora::v1::WorkloadSettings::PASSTHROUGH);
  Put(view, kWorkloadSettingsType, key, settings);

  remora::v1::TrustBundle bundle;
  bundle.set_trust_domain(options.trust_domain);
  for (const std::string& pem : options.bundle_pem) bundle.add_roots_pem(pem);
  Put(view, kTrustBundleType, options.trust_domain, bundle);

  std::vector<const filters::PeerAuthentication*> peer_auths;
  for (const filters::PeerAuthentication& p : registry.policies().peer_authentications) {
    peer_auths.push_back(&p);
  }
  filters::MtlsSettings mtls = filters::ComputeMtlsSettings(
      peer_auths, workload.ns, workload.labels, registry.root_namespace());
  remora::v1::PeerAuthentication peer_auth;
  peer_auth.set_default_mode(ModeName(mtls.mode));
  for (const auto& [port, mode] : mtls.port_modes)
    (*peer_auth.mutable_port_modes())[port] = ModeName(mode);
  Put(view, kPeerAuthenticationType, key, peer_auth);

  for (const ServiceSpec& s : registry.services()) {
    remora::v1::Service service;
    service.set_name(s.name);
    service.set_namespace_(s.ns);
    for (const std::string& h : s.hostnames) service.add_hostnames(h);
    for (const std::string& ip : s.virtual_ips) service.add_virtual_ips(ip);
    std::set<std::string> identities;
    if (s.explicit_endpoints) {
      for (const ServiceEndpoint& e : s.endpoints) {
        service.add_endpoint_ips(e.ip);
        identities.insert(absl::StrCat("spiffe://", options.trust_domain, "/ns/", s.ns, "/sa/",
                                       e.service_account));
      }
    } else {
      filters::LabelSelector selector;
      selector.match_labels = s.selector;
      for (const Workload* w : registry.SelectWorkloads(s.ns, selector)) {
        for (const std::string& ip : w->ips) service.add_endpoint_ips(ip);
        identities.insert(Identity(options.trust_domain, *w));
      }
    }
    for (const std::string& id : identities) service.add_identities(id);
    for (const ServicePortSpec& p : s.ports) {
      remora::v1::ServicePort* port = service.add_ports();
      port->set_name(p.name);
      port->set_port(p.port);
      port->set_target_port(p.target_port);
      port->set_protocol(p.protocol);
    }
    Put(view, kServiceType, absl::StrCat(s.ns, "/", s.name), service);
  }

  const auto& authz = registry.policies().authorization_policies;
  for (size_t i = 0; i < authz.size(); ++i) {
    if (!AppliesTo(authz[i], registry, workload)) continue;
    const StoredObject& source = *registry.authorization_sources()[i];
    remora::v1::AuthorizationPolicy resource;
    resource.set_kind("AuthorizationPolicy");
    resource.set_namespace_(source.key.ns);
    resource.set_name(source.key.name);
    resource.set_yaml(source.yaml);
    resource.set_generation(source.version);
    Put(view, kAuthorizationPolicyType,
        absl::StrCat("AuthorizationPolicy/", source.key.ns, "/", source.key.name), resource);
  }
  const auto& netpols = registry.policies().network_policies;
  for (size_t i = 0; i < netpols.size(); ++i) {
    if (netpols[i].meta.ns != workload.ns || !netpols[i].pod_selector.Matches(workload.labels))
      continue;
    absl::StatusOr<std::string> yaml = ResolveNetworkPolicy(registry, i);
    if (!yaml.ok()) return yaml.status();
    const StoredObject& source = *registry.network_sources()[i];
    remora::v1::AuthorizationPolicy resource;
    resource.set_kind("NetworkPolicy");
    resource.set_namespace_(source.key.ns);
    resource.set_name(source.key.name);
    resource.set_yaml(*yaml);
    resource.set_generation(source.version);
    Put(view, kAuthorizationPolicyType,
        absl::StrCat("NetworkPolicy/", source.key.ns, "/", source.key.name), resource);
  }
  // Types with no resource still exist in the view: an empty set is news too (a last policy
  // deleted must reach the proxy).
  for (absl::string_view type : kAllTypes) view.types[std::string(type)];
  return view;
}

}  // namespace remora::xds
