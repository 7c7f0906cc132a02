#include "inject/probes.h"

#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "common/status_macros.h"

namespace remora::inject {
namespace {

struct ProbeKind {
  const char* field;     // Kubernetes container field
  const char* endpoint;  // last segment of the proxy's path
};
constexpr ProbeKind kProbeKinds[] = {
    {"readinessProbe", "readyz"},
    {"livenessProbe", "livez"},
    {"startupProbe", "startupz"},
};

// A probe port: a number, or the name of one of the container's ports (IntOrString).
// Returns 0 when a name does not resolve or a number is out of range (the probe is then left
// alone, with a warning).
absl::StatusOr<int> ResolvePort(const Json& handler, const Json& container,
                                const std::string& path) {
  auto it = handler.find("port");
  if (it == handler.end() || it->is_null()) return 0;
  if (it->is_number_integer()) {
    int64_t port = it->get<int64_t>();
    return port >= 1 && port <= 65535 ? static_cast<int>(port) : 0;
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".port must be a port number or a port name"));
  }
  const std::string name = it->get<std::string>();
  ASSIGN_OR_RETURN(const Json* ports, ArrayField(container, "ports", ""));
  if (ports == nullptr) return 0;
  for (const Json& p : *ports) {
    if (!p.is_object()) continue;
    auto n = p.find("name");
    auto cp = p.find("containerPort");
    if (n != p.end() && n->is_string() && *n == name && cp != p.end() && cp->is_number_integer()) {
      int64_t port = cp->get<int64_t>();
      return port >= 1 && port <= 65535 ? static_cast<int>(port) : 0;
    }
  }
  return 0;
}

// The proxy's form of an httpGet handler.
absl::StatusOr<OrderedJson> HttpGet(const Json& handler, int port, const std::string& path) {
  OrderedJson out = OrderedJson::object();
  out["port"] = port;
  ASSIGN_OR_RETURN(std::string probe_path, StringField(handler, "path", path));
  out["path"] = probe_path.empty() ? "/" : probe_path;
  ASSIGN_OR_RETURN(std::string scheme, StringField(handler, "scheme", path));
  out["scheme"] = scheme.empty() ? "HTTP" : scheme;
  ASSIGN_OR_RETURN(std::string host, StringField(handler, "host", path));
  out["host"] = host;
  OrderedJson headers = OrderedJson::array();
  ASSIGN_OR_RETURN(const Json* list, ArrayField(handler, "httpHeaders", path));
  if (list != nullptr) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string header_path = absl::StrCat(path, ".httpHeaders[", i, "]");
      if (!(*list)[i].is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(header_path, " must be an object"));
      }
      OrderedJson header = OrderedJson::object();
      ASSIGN_OR_RETURN(header["name"], StringField((*list)[i], "name", header_path));
      ASSIGN_OR_RETURN(header["value"], StringField((*list)[i], "value", header_path));
      headers.push_back(std::move(header));
    }
  }
  out["headers"] = std::move(headers);
  return out;
}

}  // namespace

absl::StatusOr<ProbeRewrite> RewriteProbes(const Json& containers,
                                           absl::string_view containers_path) {
  ProbeRewrite result;
  if (!containers.is_array()) return result;
  for (size_t i = 0; i < containers.size(); ++i) {
    const Json& container = containers[i];
    if (!container.is_object()) continue;  // the caller has checked the shape
    const std::string path = absl::StrCat("spec.containers[", i, "]");
    ASSIGN_OR_RETURN(std::string name, StringField(container, "name", path));
    for (const ProbeKind& kind : kProbeKinds) {
      const std::string probe_path = absl::StrCat(path, ".", kind.field);
      ASSIGN_OR_RETURN(const Json* probe, ObjectField(container, kind.field, path));
      if (probe == nullptr) continue;
      ASSIGN_OR_RETURN(const Json* http_get, ObjectField(*probe, "httpGet", probe_path));
      ASSIGN_OR_RETURN(const Json* tcp_socket, ObjectField(*probe, "tcpSocket", probe_path));
      ASSIGN_OR_RETURN(const Json* grpc, ObjectField(*probe, "grpc", probe_path));
      ASSIGN_OR_RETURN(const Json* exec, ObjectField(*probe, "exec", probe_path));
      const int handlers =
          (http_get != nullptr) + (tcp_socket != nullptr) + (grpc != nullptr) + (exec != nullptr);
      if (handlers != 1) continue;  // invalid or empty: the API server reports it
      if (grpc != nullptr) {
        result.warnings.push_back(absl::StrCat(
            "container \"", name, "\" ", kind.field,
            " is a gRPC probe, which is not rewritten: under STRICT mTLS the kubelet cannot reach "
            "it; exclude its port with the annotation sidecar.remora.io/excludeInboundPorts"));
        continue;
      }
      if (exec != nullptr) continue;
      const bool is_http = http_get != nullptr;
      const Json& handler = is_http ? *http_get : *tcp_socket;
      const std::string handler_path =
          absl::StrCat(probe_path, is_http ? ".httpGet" : ".tcpSocket");
      ASSIGN_OR_RETURN(int port, ResolvePort(handler, container, handler_path));
      if (port == 0) {
        result.warnings.push_back(absl::StrCat(
            "container \"", name, "\" ", kind.field, " port ",
            DumpJson(handler.value("port", Json())),
            " is not a port number or a named port of the container; the probe is not rewritten"));
        continue;
      }
      const std::string key = absl::StrCat("/app-health/", name, "/", kind.endpoint);
      OrderedJson app_probe = OrderedJson::object();
      if (is_http) {
        ASSIGN_OR_RETURN(app_probe["http_get"], HttpGet(handler, port, handler_path));
      } else {
        OrderedJson tcp = OrderedJson::object();
        tcp["port"] = port;
        ASSIGN_OR_RETURN(std::string host, StringField(handler, "host", handler_path));
        if (!host.empty()) tcp["host"] = host;
        app_probe["tcp_socket"] = std::move(tcp);
      }
      result.app_probes[key] = std::move(app_probe);
      result.original[key][is_http ? "httpGet" : "tcpSocket"] = OrderedJson(handler);

      // The rewritten probe keeps every timing field of the original and only swaps the handler.
      OrderedJson rewritten = OrderedJson::object();
      OrderedJson target = OrderedJson::object();
      target["path"] = key;
      target["port"] = kHealthPort;
      target["scheme"] = "HTTP";
      rewritten["httpGet"] = std::move(target);
      for (auto it = probe->begin(); it != probe->end(); ++it) {
        if (it.key() == "httpGet" || it.key() == "tcpSocket") continue;
        rewritten[it.key()] = OrderedJson(*it);
      }
      OrderedJson op = OrderedJson::object();
      op["op"] = "replace";
      op["path"] = absl::StrCat(containers_path, "/", i, "/", kind.field);
      op["value"] = std::move(rewritten);
      result.ops.push_back(std::move(op));
    }
  }
  return result;
}

}  // namespace remora::inject
