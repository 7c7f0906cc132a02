#include "filters/request_json.h"

#include <algorithm>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "certs/spiffe_id.h"
#include "common/json_nesting.h"
#include "common/json_text.h"
#include "common/status_macros.h"

namespace remora::filters {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxBytes = 1 << 20;
constexpr int kMaxDepth = 32;

std::string Join(const std::string& path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

absl::Status Error(const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path.empty() ? "(request)" : path, ": ", why));
}

// Error messages quote values; DumpJson cannot throw, whatever the value holds.
std::string Dump(const json& v) { return DumpJson(v); }

std::string Kind(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return absl::StrCat("the string ", Dump(v));
    case json::value_t::boolean:
      return absl::StrCat("the boolean ", Dump(v));
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return absl::StrCat("the number ", Dump(v));
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "an object";
    default:
      return "null";
  }
}

// An object (or null / absent) whose keys are all in `known`.
absl::Status Object(const json& v, const std::string& path,
                    std::initializer_list<absl::string_view> known) {
  if (v.is_null()) return absl::OkStatus();
  if (!v.is_object()) return Error(path, absl::StrCat("must be an object, not ", Kind(v)));
  for (const auto& [key, value] : v.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Error(Join(path, key),
                   absl::StrCat("unknown field (known fields: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

const json& Field(const json& object, absl::string_view key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(std::string(key));
  return it == object.end() ? kNull : *it;
}

absl::StatusOr<std::string> String(const json& v, const std::string& path) {
  if (v.is_null()) return std::string();
  if (!v.is_string()) return Error(path, absl::StrCat("must be a string, not ", Kind(v)));
  return v.get<std::string>();
}

absl::StatusOr<Labels> StringMap(const json& v, const std::string& path) {
  Labels out;
  if (v.is_null()) return out;
  if (!v.is_object()) {
    return Error(path, absl::StrCat("must be an object of strings, not ", Kind(v)));
  }
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) {
      return Error(Join(path, key), absl::StrCat("must be a string, not ", Kind(value)));
    }
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::optional<IpAddress>> Ip(const json& v, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, String(v, path));
  if (text.empty()) return std::optional<IpAddress>();
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  if (!ip.ok()) return Error(path, ip.status().message());
  return std::optional<IpAddress>(*ip);
}

absl::Status ReadSource(const json& v, const std::string& path, SourceAttributes* out) {
  RETURN_IF_ERROR(
      Object(v, path, {"principal", "namespace", "ip", "remote_ip", "labels", "namespace_labels"}));
  ASSIGN_OR_RETURN(std::string principal, String(Field(v, "principal"), Join(path, "principal")));
  if (!principal.empty()) {
    // Accept the SPIFFE ID or Istio's scheme-less form; keep Istio's form.
    std::string uri =
        absl::StartsWith(principal, "spiffe://") ? principal : absl::StrCat("spiffe://", principal);
    absl::StatusOr<certs::SpiffeId> id = certs::SpiffeId::Parse(uri);
    if (!id.ok()) return Error(Join(path, "principal"), id.status().message());
    out->principal = NormalizePrincipal(id->str());
  }
  ASSIGN_OR_RETURN(out->ns, String(Field(v, "namespace"), Join(path, "namespace")));
  const absl::string_view cert_ns = PrincipalNamespace(out->principal);
  if (!out->ns.empty() && !cert_ns.empty() && out->ns != cert_ns) {
    return Error(Join(path, "namespace"),
                 absl::StrCat("\"", out->ns, "\" disagrees with the namespace \"", cert_ns,
                              "\" of source.principal; a pod's identity is in its own namespace"));
  }
  ASSIGN_OR_RETURN(out->ip, Ip(Field(v, "ip"), Join(path, "ip")));
  ASSIGN_OR_RETURN(out->remote_ip, Ip(Field(v, "remote_ip"), Join(path, "remote_ip")));
  ASSIGN_OR_RETURN(out->labels, StringMap(Field(v, "labels"), Join(path, "labels")));
  ASSIGN_OR_RETURN(out->namespace_labels,
                   StringMap(Field(v, "namespace_labels"), Join(path, "namespace_labels")));
  return absl::OkStatus();
}

absl::Status ReadDestination(const json& v, const std::string& path, bool has_http,
                             DestinationAttributes* out) {
  RETURN_IF_ERROR(Object(
      v, path, {"namespace", "labels", "namespace_labels", "ip", "port", "port_name", "protocol"}));
  ASSIGN_OR_RETURN(out->ns, String(Field(v, "namespace"), Join(path, "namespace")));
  ASSIGN_OR_RETURN(out->labels, StringMap(Field(v, "labels"), Join(path, "labels")));
  ASSIGN_OR_RETURN(out->namespace_labels,
                   StringMap(Field(v, "namespace_labels"), Join(path, "namespace_labels")));
  ASSIGN_OR_RETURN(out->ip, Ip(Field(v, "ip"), Join(path, "ip")));
  const json& port = Field(v, "port");
  if (!port.is_null()) {
    if (!port.is_number_integer() || port.get<int64_t>() < 1 || port.get<int64_t>() > 65535) {
      return Error(Join(path, "port"),
                   absl::StrCat("must be an integer from 1 to 65535, not ", Kind(port)));
    }
    out->port = static_cast<uint16_t>(port.get<int64_t>());
  }
  ASSIGN_OR_RETURN(out->port_name, String(Field(v, "port_name"), Join(path, "port_name")));
  ASSIGN_OR_RETURN(std::string protocol, String(Field(v, "protocol"), Join(path, "protocol")));
  protocol = absl::AsciiStrToLower(protocol);
  if (protocol.empty()) {
    out->protocol = has_http ? Protocol::kHttp : Protocol::kTcp;
  } else if (protocol == "http") {
    out->protocol = Protocol::kHttp;
  } else if (protocol == "tcp") {
    if (has_http) {
      return Error(Join(path, "protocol"),
                   "is \"tcp\" but the request has HTTP attributes (request.*); remove them or "
                   "use \"http\"");
    }
    out->protocol = Protocol::kTcp;
  } else {
    return Error(Join(path, "protocol"),
                 absl::StrCat("\"", protocol, "\" is not \"http\" or \"tcp\""));
  }
  return absl::OkStatus();
}

absl::Status ReadHttp(const json& v, const std::string& path, HttpAttributes* out) {
  RETURN_IF_ERROR(Object(v, path, {"method", "path", "host", "headers"}));
  ASSIGN_OR_RETURN(out->method, String(Field(v, "method"), Join(path, "method")));
  ASSIGN_OR_RETURN(out->path, String(Field(v, "path"), Join(path, "path")));
  ASSIGN_OR_RETURN(out->host, String(Field(v, "host"), Join(path, "host")));
  const json& headers = Field(v, "headers");
  const std::string hpath = Join(path, "headers");
  if (headers.is_null()) return absl::OkStatus();
  if (!headers.is_object()) {
    return Error(hpath, absl::StrCat("must be an object of header: value, not ", Kind(headers)));
  }
  for (const auto& [name, value] : headers.items()) {
    const std::string where = Join(hpath, name);
    if (name.empty()) return Error(hpath, "a header name must not be empty");
    std::vector<std::string> values;
    if (value.is_string()) {
      values.push_back(value.get<std::string>());
    } else if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_string()) {
          return Error(absl::StrCat(where, "[", i, "]"),
                       absl::StrCat("must be a string, not ", Kind(value[i])));
        }
        values.push_back(value[i].get<std::string>());
      }
    } else {
      return Error(where, absl::StrCat("must be a string or a list of strings, not ", Kind(value)));
    }
    // Header names are case-insensitive; repeated headers read as one comma-joined value.
    std::string& slot = out->headers[absl::AsciiStrToLower(name)];
    for (const std::string& s : values) {
      if (!slot.empty()) slot.push_back(',');
      slot += s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RequestAttributes> RequestFromJson(const json& v, const std::string& path) {
  if (!v.is_object()) return Error(path, absl::StrCat("must be an object, not ", Kind(v)));
  RETURN_IF_ERROR(Object(v, path, {"source", "destination", "request", "connection", "direction"}));
  RequestAttributes r;
  ASSIGN_OR_RETURN(std::string direction, String(Field(v, "direction"), Join(path, "direction")));
  if (direction.empty() || direction == "inbound") {
    r.direction = Direction::kInbound;
  } else if (direction == "outbound") {
    r.direction = Direction::kOutbound;
  } else {
    return Error(Join(path, "direction"),
                 absl::StrCat("\"", direction, "\" is not \"inbound\" or \"outbound\""));
  }
  RETURN_IF_ERROR(ReadSource(Field(v, "source"), Join(path, "source"), &r.source));
  const json& http = Field(v, "request");
  RETURN_IF_ERROR(ReadHttp(http, Join(path, "request"), &r.http));
  const bool has_http = !http.is_null() && !http.empty();
  RETURN_IF_ERROR(ReadDestination(Field(v, "destination"), Join(path, "destination"), has_http,
                                  &r.destination));
  const json& conn = Field(v, "connection");
  RETURN_IF_ERROR(Object(conn, Join(path, "connection"), {"sni"}));
  ASSIGN_OR_RETURN(r.sni, String(Field(conn, "sni"), Join(path, "connection.sni")));
  if (r.direction == Direction::kInbound && r.destination.ns.empty()) {
    return Error(Join(path, "destination.namespace"),
                 "is required for an inbound request: it names the workload whose policies apply");
  }
  if (r.direction == Direction::kOutbound && r.source.ns.empty()) {
    if (PrincipalNamespace(r.source.principal).empty()) {
      return Error(Join(path, "source.namespace"),
                   "is required for an outbound request: it names the workload whose policies "
                   "apply");
    }
    r.source.ns = std::string(PrincipalNamespace(r.source.principal));
  }
  return r;
}

absl::StatusOr<RequestAttributes> ParseRequestJson(absl::string_view text) {
  if (text.size() > kMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("request: ", text.size(), " bytes is over the limit of ", kMaxBytes));
  }
  if (JsonNestsDeeperThan(text, kMaxDepth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request: JSON nested deeper than ", kMaxDepth, " levels"));
  }
  // JSON is UTF-8 (RFC 8259 section 8.1); say where it is not rather than quote the bytes back.
  RETURN_IF_ERROR(CheckUtf8(text, "request: not UTF-8 JSON"));
  // nlohmann reports malformed input by throwing; this is the one place that catches it.
  json value;
  try {
    value = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("request: not valid JSON: ", e.what()));
  }
  return RequestFromJson(value, "");
}

}  // namespace remora::filters
