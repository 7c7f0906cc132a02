#include "xds/registry/registry.h"

#include <boost/asio/ip/address.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "certs/spiffe_id.h"
#include "common/status_macros.h"
#include "common/yaml.h"
#include "filters/policy_yaml.h"

namespace remora::xds {
namespace {

absl::Status At(const Document& doc, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat(doc.where, ": ", s.message()));
}

absl::StatusOr<filters::Labels> LabelsAt(const YamlField& field) {
  ASSIGN_OR_RETURN(auto map, field.StringMap());
  filters::Labels labels;
  for (auto& [k, v] : map) {
    if (absl::Status s = filters::ValidateLabelKey(k); !s.ok()) return field.Error(s.message());
    if (absl::Status s = filters::ValidateLabelValue(v); !s.ok())
      return field[k].Error(s.message());
    labels.emplace(k, v);
  }
  return labels;
}

absl::StatusOr<std::string> IpAt(const YamlField& field) {
  ASSIGN_OR_RETURN(std::string text, field.String());
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(text, ec);
  if (ec) return field.Error(absl::StrCat("\"", text, "\" is not an IP address"));
  return address.to_string();
}

absl::StatusOr<std::string> ProtocolAt(const YamlField& field) {
  if (field.IsMissing()) return std::string("tcp");
  ASSIGN_OR_RETURN(std::string p, field.String());
  if (p == "tcp" || p == "TCP") return std::string("tcp");
  if (p == "http" || p == "HTTP") return std::string("http");
  return field.Error(absl::StrCat("\"", p, "\" is not tcp or http"));
}

absl::StatusOr<std::vector<WorkloadPort>> WorkloadPortsAt(const YamlField& field) {
  std::vector<WorkloadPort> out;
  if (field.IsMissing()) return out;
  if (!field.IsSequence()) return field.Error("must be a list of {name, port, protocol}");
  std::set<uint32_t> seen;
  for (size_t i = 0; i < field.size(); ++i) {
    YamlField p = field.At(i);
    RETURN_IF_ERROR(p.OnlyKeys({"name", "port", "protocol"}));
    WorkloadPort port;
    if (!p["name"].IsMissing()) {
      ASSIGN_OR_RETURN(port.name, p["name"].String());
    }
    ASSIGN_OR_RETURN(int64_t number, p["port"].Int(1, 65535));
    port.port = static_cast<uint32_t>(number);
    ASSIGN_OR_RETURN(port.protocol, ProtocolAt(p["protocol"]));
    if (!seen.insert(port.port).second)
      return p["port"].Error(absl::StrCat("port ", number, " is listed twice"));
    out.push_back(port);
  }
  return out;
}

absl::StatusOr<Workload> ParseWorkloadField(const Document& doc) {
  YamlField root(doc.node, "");
  RETURN_IF_ERROR(root.OnlyKeys({"apiVersion", "kind", "metadata", "spec"}));
  RETURN_IF_ERROR(root["metadata"].OnlyKeys({"name", "namespace", "labels", "annotations"}));
  YamlField spec = root["spec"];
  RETURN_IF_ERROR(spec.OnlyKeys({"serviceAccount", "addresses", "ports", "outboundPolicy"}));
  Workload w;
  w.ns = doc.key.ns;
  w.name = doc.key.name;
  w.service_account = "default";
  if (!spec["serviceAccount"].IsMissing()) {
    ASSIGN_OR_RETURN(w.service_account, spec["serviceAccount"].String());
  }
  if (absl::StatusOr<certs::SpiffeId> id =
          certs::SpiffeId::ForServiceAccount("cluster.local", w.ns, w.service_account);
      !id.ok()) {
    return spec["serviceAccount"].Error(id.status().message());
  }
  ASSIGN_OR_RETURN(w.labels, LabelsAt(root["metadata"]["labels"]));
  YamlField addresses = spec["addresses"];
  if (!addresses.IsMissing() && !addresses.IsSequence())
    return addresses.Error("must be a list of IPs");
  for (size_t i = 0; i < addresses.size(); ++i) {
    ASSIGN_OR_RETURN(std::string ip, IpAt(addresses.At(i)));
    w.ips.push_back(ip);
  }
  ASSIGN_OR_RETURN(w.ports, WorkloadPortsAt(spec["ports"]));
  if (!spec["outboundPolicy"].IsMissing()) {
    ASSIGN_OR_RETURN(std::string policy, spec["outboundPolicy"].String());
    if (policy != "passthrough" && policy != "deny") {
      return spec["outboundPolicy"].Error(
          absl::StrCat("\"", policy, "\" is not passthrough or deny"));
    }
    w.outbound_deny = policy == "deny";
  }
  return w;
}

absl::StatusOr<ServiceSpec> ParseServiceField(const Document& doc) {
  YamlField root(doc.node, "");
  RETURN_IF_ERROR(root.OnlyKeys({"apiVersion", "kind", "metadata", "spec"}));
  RETURN_IF_ERROR(root["metadata"].OnlyKeys({"name", "namespace", "labels", "annotations"}));
  YamlField spec = root["spec"];
  RETURN_IF_ERROR(spec.OnlyKeys({"selector", "endpoints", "addresses", "hostnames", "ports"}));
  ServiceSpec s;
  s.ns = doc.key.ns;
  s.name = doc.key.name;
  ASSIGN_OR_RETURN(s.selector, LabelsAt(spec["selector"]));
  YamlField endpoints = spec["endpoints"];
  if (!endpoints.IsMissing()) {
    if (!s.selector.empty()) {
      return spec["endpoints"].Error(
          "and selector exclude each other: the backends are the listed endpoints or the "
          "selected workloads");
    }
    if (!endpoints.IsSequence()) {
      return endpoints.Error("must be a list of {address, serviceAccount, workload}");
    }
    s.explicit_endpoints = true;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      YamlField e = endpoints.At(i);
      RETURN_IF_ERROR(e.OnlyKeys({"address", "serviceAccount", "workload"}));
      ServiceEndpoint endpoint;
      ASSIGN_OR_RETURN(endpoint.ip, IpAt(e["address"]));
      ASSIGN_OR_RETURN(endpoint.service_account, e["serviceAccount"].String());
      if (absl::StatusOr<certs::SpiffeId> id =
              certs::SpiffeId::ForServiceAccount("cluster.local", s.ns, endpoint.service_account);
          !id.ok()) {
        return e["serviceAccount"].Error(id.status().message());
      }
      if (!e["workload"].IsMissing()) {
        ASSIGN_OR_RETURN(endpoint.workload, e["workload"].String());
      }
      s.endpoints.push_back(std::move(endpoint));
    }
  } else if (s.selector.empty()) {
    return spec["selector"].Error(
        "is required (or endpoints): the labels of the workloads behind this service");
  }
  YamlField addresses = spec["addresses"];
  if (!addresses.IsMissing() && !addresses.IsSequence())
    return addresses.Error("must be a list of IPs");
  for (size_t i = 0; i < addresses.size(); ++i) {
    ASSIGN_OR_RETURN(std::string ip, IpAt(addresses.At(i)));
    s.virtual_ips.push_back(ip);
  }
  ASSIGN_OR_RETURN(s.hostnames, spec["hostnames"].StringList());
  YamlField ports = spec["ports"];
  if (!ports.IsSequence() || ports.size() == 0) {
    return ports.Error("must list at least one {name, port, targetPort, protocol}");
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    YamlField p = ports.At(i);
    RETURN_IF_ERROR(p.OnlyKeys({"name", "port", "targetPort", "protocol"}));
    ServicePortSpec port;
    if (!p["name"].IsMissing()) {
      ASSIGN_OR_RETURN(port.name, p["name"].String());
    }
    ASSIGN_OR_RETURN(int64_t number, p["port"].Int(1, 65535));
    port.port = static_cast<uint32_t>(number);
    port.target_port = port.port;
    if (!p["targetPort"].IsMissing()) {
      ASSIGN_OR_RETURN(int64_t target, p["targetPort"].Int(1, 65535));
      port.target_port = static_cast<uint32_t>(target);
    }
    ASSIGN_OR_RETURN(port.protocol, ProtocolAt(p["protocol"]));
    s.ports.push_back(port);
  }
  return s;
}

absl::StatusOr<NamespaceSpec> ParseNamespaceField(const Document& doc) {
  YamlField root(doc.node, "");
  RETURN_IF_ERROR(root.OnlyKeys({"apiVersion", "kind", "metadata", "spec", "status"}));
  RETURN_IF_ERROR(root["metadata"].OnlyKeys({"name", "labels", "annotations"}));
  NamespaceSpec n;
  n.name = doc.key.name;
  ASSIGN_OR_RETURN(n.labels, LabelsAt(root["metadata"]["labels"]));
  return n;
}

}  // namespace

bool IsRemoraKind(absl::string_view api_version, absl::string_view kind) {
  return (api_version == "remora.io/v1" && (kind == "Workload" || kind == "Service")) ||
         (api_version == "v1" && kind == "Namespace");
}

bool IsPolicyKind(absl::string_view api_version, absl::string_view kind) {
  return ((api_version == "security.istio.io/v1" || api_version == "security.istio.io/v1beta1") &&
          (kind == "AuthorizationPolicy" || kind == "PeerAuthentication")) ||
         (api_version == "networking.k8s.io/v1" && kind == "NetworkPolicy");
}

absl::StatusOr<Workload> ParseWorkload(const Document& doc) {
  absl::StatusOr<Workload> w =
      GuardYaml<Workload>(doc.where, [&] { return ParseWorkloadField(doc); });
  if (!w.ok()) return At(doc, w.status());
  return w;
}

absl::StatusOr<ServiceSpec> ParseService(const Document& doc) {
  absl::StatusOr<ServiceSpec> s =
      GuardYaml<ServiceSpec>(doc.where, [&] { return ParseServiceField(doc); });
  if (!s.ok()) return At(doc, s.status());
  return s;
}

absl::StatusOr<NamespaceSpec> ParseNamespace(const Document& doc) {
  absl::StatusOr<NamespaceSpec> n =
      GuardYaml<NamespaceSpec>(doc.where, [&] { return ParseNamespaceField(doc); });
  if (!n.ok()) return At(doc, n.status());
  return n;
}

absl::Status ValidateRegistryDocument(const Document& doc) {
  if (doc.key.kind == "Workload") return ParseWorkload(doc).status();
  if (doc.key.kind == "Service") return ParseService(doc).status();
  if (doc.key.kind == "Namespace") return ParseNamespace(doc).status();
  return absl::InvalidArgumentError(absl::StrCat(doc.where, ": not a registry kind"));
}

absl::StatusOr<std::shared_ptr<const Registry>> Registry::Build(
    std::shared_ptr<const StoreSnapshot> snapshot, std::string root_namespace) {
  auto registry = std::make_shared<Registry>();
  registry->root_namespace_ = std::move(root_namespace);
  for (const auto& [key, obj] : snapshot->objects) {
    Document doc{key, obj.api_version, obj.node, key.ToString()};
    if (key.kind == "Workload") {
      ASSIGN_OR_RETURN(Workload w, ParseWorkload(doc));
      registry->workload_index_[w.Key()] = registry->workloads_.size();
      registry->workloads_.push_back(std::move(w));
    } else if (key.kind == "Service") {
      ASSIGN_OR_RETURN(ServiceSpec s, ParseService(doc));
      registry->services_.push_back(std::move(s));
    } else if (key.kind == "Namespace") {
      ASSIGN_OR_RETURN(NamespaceSpec n, ParseNamespace(doc));
      registry->namespaces_[n.name] = std::move(n);
    } else if (IsPolicyKind(obj.api_version, key.kind)) {
      ASSIGN_OR_RETURN(filters::PolicySet set,
                       filters::ParsePolicyDocuments(obj.yaml, key.ToString()));
      const size_t authz_before = set.authorization_policies.size();
      const size_t netpol_before = set.network_policies.size();
      for (size_t i = 0; i < authz_before; ++i) registry->authz_sources_.push_back(&obj);
      for (size_t i = 0; i < netpol_before; ++i) registry->netpol_sources_.push_back(&obj);
      registry->policies_.Append(std::move(set));
    }
  }
  registry->snapshot_ = std::move(snapshot);
  return std::shared_ptr<const Registry>(std::move(registry));
}

const Workload* Registry::FindWorkload(absl::string_view ns, absl::string_view name) const {
  auto it = workload_index_.find(absl::StrCat(ns, "/", name));
  return it == workload_index_.end() ? nullptr : &workloads_[it->second];
}

const filters::Labels& Registry::NamespaceLabels(absl::string_view ns) const {
  auto it = namespaces_.find(ns);
  return it == namespaces_.end() ? empty_labels_ : it->second.labels;
}

std::vector<const Workload*> Registry::SelectWorkloads(
    absl::string_view ns, const filters::LabelSelector& selector) const {
  std::vector<const Workload*> out;
  for (const Workload& w : workloads_) {
    if (w.ns == ns && selector.Matches(w.labels)) out.push_back(&w);
  }
  return out;
}

}  // namespace remora::xds
