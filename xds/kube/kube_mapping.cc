#include "xds/kube/kube_mapping.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace remora::xds {
namespace {

using json = nlohmann::json;

// The member `key` of `object`, or null when absent, null, or `object` is not a map.
const json* Member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status WrongType(absl::string_view where, absl::string_view path, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", path, ": must be ", want));
}

// A string member; "" when absent.
absl::StatusOr<std::string> StringAt(const json& object, const char* key, absl::string_view where,
                                     absl::string_view path) {
  const json* v = Member(object, key);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return WrongType(where, path, "a string");
  return v->get<std::string>();
}

absl::StatusOr<std::map<std::string, std::string>> StringMapAt(const json& object, const char* key,
                                                               absl::string_view where,
                                                               absl::string_view path) {
  std::map<std::string, std::string> out;
  const json* v = Member(object, key);
  if (v == nullptr) return out;
  if (!v->is_object()) return WrongType(where, path, "a map of strings");
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string()) return WrongType(where, absl::StrCat(path, ".", it.key()), "a string");
    out.emplace(it.key(), it->get<std::string>());
  }
  return out;
}

const json& ArrayOrEmpty(const json* v) {
  static const json* const kEmpty = new json(json::array());
  return v != nullptr && v->is_array() ? *v : *kEmpty;
}

struct Meta {
  std::string ns, name, uid;
  std::map<std::string, std::string> labels, annotations;
};

absl::StatusOr<Meta> ReadMeta(const json& object, absl::string_view kind, bool namespaced) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(kind, ": not a JSON object"));
  }
  const json* meta = Member(object, "metadata");
  if (meta == nullptr || !meta->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(kind, ": metadata is missing"));
  }
  Meta m;
  ASSIGN_OR_RETURN(m.name, StringAt(*meta, "name", kind, "metadata.name"));
  if (namespaced) {
    ASSIGN_OR_RETURN(m.ns, StringAt(*meta, "namespace", kind, "metadata.namespace"));
  }
  if (m.name.empty() || (namespaced && m.ns.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        kind, ": metadata.name", namespaced ? " and metadata.namespace are" : " is", " required"));
  }
  const std::string where =
      namespaced ? absl::StrCat(kind, " ", m.ns, "/", m.name) : absl::StrCat(kind, " ", m.name);
  ASSIGN_OR_RETURN(m.uid, StringAt(*meta, "uid", where, "metadata.uid"));
  ASSIGN_OR_RETURN(m.labels, StringMapAt(*meta, "labels", where, "metadata.labels"));
  ASSIGN_OR_RETURN(m.annotations, StringMapAt(*meta, "annotations", where, "metadata.annotations"));
  return m;
}

YAML::Node LabelsNode(const std::map<std::string, std::string>& labels) {
  YAML::Node node(YAML::NodeType::Map);
  for (const auto& [k, v] : labels) node[k] = v;
  return node;
}

YAML::Node MetadataNode(const Meta& m) {
  YAML::Node meta(YAML::NodeType::Map);
  meta["name"] = m.name;
  if (!m.ns.empty()) meta["namespace"] = m.ns;
  if (!m.labels.empty()) meta["labels"] = LabelsNode(m.labels);
  return meta;
}

Document MakeDocument(absl::string_view api_version, absl::string_view kind, const Meta& m,
                      YAML::Node spec) {
  YAML::Node root(YAML::NodeType::Map);
  root["apiVersion"] = std::string(api_version);
  root["kind"] = std::string(kind);
  root["metadata"] = MetadataNode(m);
  if (spec) root["spec"] = spec;
  ObjectKey key{std::string(kind), m.ns, m.name};
  return Document{key, std::string(api_version), root, key.ToString()};
}

// Istio's protocol selection by port name or appProtocol
// (https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/), reduced
// to what the proxy distinguishes: HTTP/1.1 ("http") or opaque TCP.
std::string ProtocolOf(absl::string_view name, absl::string_view app_protocol) {
  if (app_protocol == "http" || app_protocol == "HTTP") return "http";
  if (!app_protocol.empty()) return "tcp";
  if (name == "http" || absl::StartsWith(name, "http-")) return "http";
  return "tcp";
}

bool IsTcp(const json& port) {
  const json* p = Member(port, "protocol");
  return p == nullptr || (p->is_string() && p->get<std::string>() == "TCP");
}

constexpr char kProxyContainer[] = "remora-proxy";
constexpr char kStatusAnnotation[] = "sidecar.remora.io/status";

bool HasProxyContainer(const json& spec, const char* list) {
  for (const json& c : ArrayOrEmpty(Member(spec, list))) {
    const json* name = Member(c, "name");
    if (name != nullptr && name->is_string() && name->get<std::string>() == kProxyContainer) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> PodIps(const json& pod, absl::string_view where) {
  std::vector<std::string> ips;
  const json* status = Member(pod, "status");
  if (status == nullptr) return ips;
  for (const json& entry : ArrayOrEmpty(Member(*status, "podIPs"))) {
    ASSIGN_OR_RETURN(std::string ip, StringAt(entry, "ip", where, "status.podIPs[].ip"));
    if (!ip.empty()) ips.push_back(ip);
  }
  if (ips.empty()) {
    ASSIGN_OR_RETURN(std::string ip, StringAt(*status, "podIP", where, "status.podIP"));
    if (!ip.empty()) ips.push_back(ip);
  }
  return ips;
}

}  // namespace

YAML::Node JsonToYamlNode(const json& value) {
  switch (value.type()) {
    case json::value_t::object: {
      YAML::Node node(YAML::NodeType::Map);
      for (auto it = value.begin(); it != value.end(); ++it) {
        node[it.key()] = JsonToYamlNode(*it);
      }
      return node;
    }
    case json::value_t::array: {
      YAML::Node node(YAML::NodeType::Sequence);
      for (const json& item : value) node.push_back(JsonToYamlNode(item));
      return node;
    }
    case json::value_t::string:
      return YAML::Node(value.get<std::string>());
    case json::value_t::null:
    case json::value_t::discarded:
      return YAML::Node(YAML::NodeType::Null);
    default:
      // Numbers and booleans: their JSON text, which the typed YAML accessors read back.
      return YAML::Node(value.dump());
  }
}

bool IsMeshPod(const json& pod) {
  const json* status = Member(pod, "status");
  const json* phase = status != nullptr ? Member(*status, "phase") : nullptr;
  if (phase == nullptr || !phase->is_string() || phase->get<std::string>() != "Running") {
    return false;
  }
  const json* meta = Member(pod, "metadata");
  const json* annotations = meta != nullptr ? Member(*meta, "annotations") : nullptr;
  if (annotations != nullptr && Member(*annotations, kStatusAnnotation) != nullptr) return true;
  const json* spec = Member(pod, "spec");
  return spec != nullptr &&
         (HasProxyContainer(*spec, "containers") || HasProxyContainer(*spec, "initContainers"));
}

absl::StatusOr<std::optional<MeshPod>> ReadMeshPod(const json& pod) {
  ASSIGN_OR_RETURN(Meta m, ReadMeta(pod, "Pod", /*namespaced=*/true));
  if (!IsMeshPod(pod)) return std::optional<MeshPod>();
  const std::string where = absl::StrCat("Pod ", m.ns, "/", m.name);
  MeshPod p{m.ns, m.name, m.uid, "default", {}};
  if (const json* spec = Member(pod, "spec"); spec != nullptr) {
    ASSIGN_OR_RETURN(std::string sa,
                     StringAt(*spec, "serviceAccountName", where, "spec.serviceAccountName"));
    if (!sa.empty()) p.service_account = sa;
  }
  ASSIGN_OR_RETURN(p.ips, PodIps(pod, where));
  return std::optional<MeshPod>(std::move(p));
}

absl::StatusOr<Document> NamespaceDocument(const json& ns) {
  ASSIGN_OR_RETURN(Meta m, ReadMeta(ns, "Namespace", /*namespaced=*/false));
  return MakeDocument("v1", "Namespace", m, YAML::Node());
}

absl::StatusOr<std::optional<Document>> WorkloadDocument(const json& pod) {
  ASSIGN_OR_RETURN(std::optional<MeshPod> mesh, ReadMeshPod(pod));
  if (!mesh.has_value()) return std::optional<Document>();
  ASSIGN_OR_RETURN(Meta m, ReadMeta(pod, "Pod", /*namespaced=*/true));
  const std::string where = absl::StrCat("Pod ", m.ns, "/", m.name);
  YAML::Node spec(YAML::NodeType::Map);
  spec["serviceAccount"] = mesh->service_account;
  YAML::Node addresses(YAML::NodeType::Sequence);
  for (const std::string& ip : mesh->ips) addresses.push_back(ip);
  spec["addresses"] = addresses;
  // The application's declared ports, for the inbound protocol (the proxy's own are not).
  YAML::Node ports(YAML::NodeType::Sequence);
  std::set<int64_t> seen;
  const json* pod_spec = Member(pod, "spec");
  for (const json& c :
       ArrayOrEmpty(pod_spec != nullptr ? Member(*pod_spec, "containers") : nullptr)) {
    ASSIGN_OR_RETURN(std::string container, StringAt(c, "name", where, "spec.containers[].name"));
    if (container == kProxyContainer) continue;
    for (const json& p : ArrayOrEmpty(Member(c, "ports"))) {
      const json* number = Member(p, "containerPort");
      if (number == nullptr || !number->is_number_integer()) {
        return WrongType(where,
                         absl::StrCat("spec.containers[", container, "].ports[].containerPort"),
                         "an integer");
      }
      const int64_t port = number->get<int64_t>();
      if (port < 1 || port > 65535 || !IsTcp(p) || !seen.insert(port).second) continue;
      ASSIGN_OR_RETURN(std::string name,
                       StringAt(p, "name", where, "spec.containers[].ports[].name"));
      YAML::Node entry(YAML::NodeType::Map);
      if (!name.empty()) entry["name"] = name;
      entry["port"] = std::to_string(port);
      entry["protocol"] = ProtocolOf(name, "");
      ports.push_back(entry);
    }
  }
  if (ports.size() > 0) spec["ports"] = ports;
  Document doc = MakeDocument("remora.io/v1", "Workload", m, spec);
  return std::optional<Document>(std::move(doc));
}

absl::StatusOr<std::optional<Document>> ServiceDocument(const json& service,
                                                        const std::vector<json>& slices,
                                                        const MeshPods& pods) {
  ASSIGN_OR_RETURN(Meta m, ReadMeta(service, "Service", /*namespaced=*/true));
  const std::string where = absl::StrCat("Service ", m.ns, "/", m.name);
  const json* spec = Member(service, "spec");
  if (spec == nullptr || !spec->is_object()) return std::optional<Document>();
  ASSIGN_OR_RETURN(std::string type, StringAt(*spec, "type", where, "spec.type"));
  if (type == "ExternalName") return std::optional<Document>();
  ASSIGN_OR_RETURN(auto selector, StringMapAt(*spec, "selector", where, "spec.selector"));

  // Ports: a named targetPort is resolved through the EndpointSlices' ports of the same name
  // (as kube-proxy does); unresolved, the service port itself.
  std::map<std::string, int64_t> slice_ports;
  for (const json& slice : slices) {
    for (const json& p : ArrayOrEmpty(Member(slice, "ports"))) {
      const json* name = Member(p, "name");
      const json* port = Member(p, "port");
      if (port != nullptr && port->is_number_integer()) {
        slice_ports.emplace(name != nullptr && name->is_string() ? name->get<std::string>() : "",
                            port->get<int64_t>());
      }
    }
  }
  YAML::Node ports(YAML::NodeType::Sequence);
  for (const json& p : ArrayOrEmpty(Member(*spec, "ports"))) {
    if (!IsTcp(p)) continue;
    const json* number = Member(p, "port");
    if (number == nullptr || !number->is_number_integer() || number->get<int64_t>() < 1 ||
        number->get<int64_t>() > 65535) {
      return WrongType(where, "spec.ports[].port", "an integer in [1, 65535]");
    }
    ASSIGN_OR_RETURN(std::string name, StringAt(p, "name", where, "spec.ports[].name"));
    ASSIGN_OR_RETURN(std::string app,
                     StringAt(p, "appProtocol", where, "spec.ports[].appProtocol"));
    int64_t target = number->get<int64_t>();
    if (const json* t = Member(p, "targetPort"); t != nullptr) {
      if (t->is_number_integer()) {
        target = t->get<int64_t>();
      } else if (auto it = slice_ports.find(name); it != slice_ports.end()) {
        target = it->second;
      }
    }
    if (target < 1 || target > 65535) target = number->get<int64_t>();
    YAML::Node entry(YAML::NodeType::Map);
    if (!name.empty()) entry["name"] = name;
    entry["port"] = std::to_string(number->get<int64_t>());
    entry["targetPort"] = std::to_string(target);
    entry["protocol"] = ProtocolOf(name, app);
    ports.push_back(entry);
  }
  if (ports.size() == 0) return std::optional<Document>();

  YAML::Node out(YAML::NodeType::Map);
  if (!slices.empty()) {
    // The EndpointSlices are the truth (the endpoints controller's view of ready pods): every
    // ready address whose pod is a mesh pod, with the pod's service account. Addresses of pods
    // without a sidecar are left out: a client proxy treats them as outside the mesh.
    YAML::Node endpoints(YAML::NodeType::Sequence);
    std::set<std::string> seen;
    for (const json& slice : slices) {
      for (const json& e : ArrayOrEmpty(Member(slice, "endpoints"))) {
        const json* conditions = Member(e, "conditions");
        const json* ready = conditions != nullptr ? Member(*conditions, "ready") : nullptr;
        if (ready != nullptr && !(ready->is_boolean() && ready->get<bool>())) continue;
        const json* ref = Member(e, "targetRef");
        if (ref == nullptr) continue;
        ASSIGN_OR_RETURN(std::string kind, StringAt(*ref, "kind", where, "endpoints[].targetRef"));
        ASSIGN_OR_RETURN(std::string pod, StringAt(*ref, "name", where, "endpoints[].targetRef"));
        ASSIGN_OR_RETURN(std::string ns,
                         StringAt(*ref, "namespace", where, "endpoints[].targetRef"));
        if (kind != "Pod") continue;
        auto it = pods.find(absl::StrCat(ns.empty() ? m.ns : ns, "/", pod));
        // Secure naming holds identities in the Service's namespace only.
        if (it == pods.end() || it->second.ns != m.ns) continue;
        for (const json& address : ArrayOrEmpty(Member(e, "addresses"))) {
          if (!address.is_string() || !seen.insert(address.get<std::string>()).second) continue;
          YAML::Node endpoint(YAML::NodeType::Map);
          endpoint["address"] = address.get<std::string>();
          endpoint["serviceAccount"] = it->second.service_account;
          endpoint["workload"] = it->second.name;
          endpoints.push_back(endpoint);
        }
      }
    }
    out["endpoints"] = endpoints;
  } else if (!selector.empty()) {
    out["selector"] = LabelsNode(selector);
  } else {
    return std::optional<Document>();
  }
  YAML::Node addresses(YAML::NodeType::Sequence);
  for (const json& ip : ArrayOrEmpty(Member(*spec, "clusterIPs"))) {
    if (ip.is_string() && ip.get<std::string>() != "None")
      addresses.push_back(ip.get<std::string>());
  }
  if (addresses.size() == 0) {
    ASSIGN_OR_RETURN(std::string ip, StringAt(*spec, "clusterIP", where, "spec.clusterIP"));
    if (!ip.empty() && ip != "None") addresses.push_back(ip);
  }
  if (addresses.size() > 0) out["addresses"] = addresses;
  YAML::Node hostnames(YAML::NodeType::Sequence);
  hostnames.push_back(absl::StrCat(m.name, ".", m.ns, ".svc.cluster.local"));
  hostnames.push_back(absl::StrCat(m.name, ".", m.ns, ".svc"));
  hostnames.push_back(absl::StrCat(m.name, ".", m.ns));
  out["hostnames"] = hostnames;
  out["ports"] = ports;
  Meta trimmed = m;
  trimmed.labels.clear();
  Document doc = MakeDocument("remora.io/v1", "Service", trimmed, out);
  return std::optional<Document>(std::move(doc));
}

absl::StatusOr<Document> PolicyDocument(const json& object) {
  if (!object.is_object()) return absl::InvalidArgumentError("policy: not a JSON object");
  const json* api_version = Member(object, "apiVersion");
  const json* kind = Member(object, "kind");
  if (api_version == nullptr || !api_version->is_string() || kind == nullptr ||
      !kind->is_string()) {
    return absl::InvalidArgumentError("policy: apiVersion and kind must be strings");
  }
  const std::string k = kind->get<std::string>();
  const std::string v = api_version->get<std::string>();
  const bool known = ((v == "security.istio.io/v1" || v == "security.istio.io/v1beta1") &&
                      (k == "AuthorizationPolicy" || k == "PeerAuthentication")) ||
                     (v == "networking.k8s.io/v1" && k == "NetworkPolicy");
  if (!known) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy: apiVersion \"", v, "\" kind \"", k, "\" is not a policy kind"));
  }
  ASSIGN_OR_RETURN(Meta m, ReadMeta(object, k, /*namespaced=*/true));
  const json* spec = Member(object, "spec");
  // An absent spec is an empty one, as the API server would default it; the policy parser
  // gives it the meaning Istio and Kubernetes give an empty spec.
  return MakeDocument(v, k, m,
                      spec != nullptr ? JsonToYamlNode(*spec) : YAML::Node(YAML::NodeType::Map));
}

}  // namespace remora::xds
