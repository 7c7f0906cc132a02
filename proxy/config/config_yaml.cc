#include "proxy/config/config_yaml.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "certs/spiffe_id.h"
#include "common/status_macros.h"
#include "common/yaml.h"
#include "net/endpoint.h"

namespace remora::proxy {
namespace {

absl::StatusOr<tcp::endpoint> Endpoint(const YamlField& field) {
  ASSIGN_OR_RETURN(std::string text, field.String());
  absl::StatusOr<tcp::endpoint> ep = net::ParseEndpoint(text);
  if (!ep.ok()) return field.Error(ep.status().message());
  return ep;
}

// "off" disables an optional listener; absent keeps the default.
absl::Status OptionalEndpoint(const YamlField& field, std::optional<tcp::endpoint>* out) {
  if (field.IsMissing()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string text, field.String());
  if (text == "off") {
    out->reset();
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(*out, Endpoint(field));
  return absl::OkStatus();
}

absl::StatusOr<PeerAuthMode> Mode(const YamlField& field) {
  ASSIGN_OR_RETURN(std::string text, field.String());
  if (text == "STRICT") return PeerAuthMode::kStrict;
  if (text == "PERMISSIVE") return PeerAuthMode::kPermissive;
  if (text == "DISABLE") return PeerAuthMode::kDisable;
  return field.Error(absl::StrCat("\"", text, "\" is not STRICT, PERMISSIVE or DISABLE"));
}

absl::StatusOr<AppProtocol> Protocol(const YamlField& field) {
  if (field.IsMissing()) return AppProtocol::kTcp;
  ASSIGN_OR_RETURN(std::string text, field.String());
  if (text == "tcp" || text == "TCP") return AppProtocol::kTcp;
  if (text == "http" || text == "HTTP") return AppProtocol::kHttp;
  return field.Error(absl::StrCat("\"", text, "\" is not tcp or http"));
}

absl::Status ParseListeners(const YamlField& field, std::vector<ListenerConfig>* out) {
  if (field.IsMissing()) return absl::OkStatus();
  if (!field.IsSequence()) return field.Error("must be a list of listeners");
  out->clear();
  std::set<std::string> names;
  for (size_t i = 0; i < field.size(); ++i) {
    YamlField l = field.At(i);
    RETURN_IF_ERROR(l.OnlyKeys({"name", "direction", "address", "target"}));
    ListenerConfig listener;
    ASSIGN_OR_RETURN(std::string direction, l["direction"].String());
    if (direction != "inbound" && direction != "outbound") {
      return l["direction"].Error(absl::StrCat("\"", direction, "\" is not inbound or outbound"));
    }
    listener.inbound = direction == "inbound";
    listener.name = direction;
    if (!l["name"].IsMissing()) {
      ASSIGN_OR_RETURN(listener.name, l["name"].String());
    }
    if (!names.insert(listener.name).second) {
      return l["name"].Error(absl::StrCat("listener name \"", listener.name,
                                          "\" is used twice; give each listener its own name"));
    }
    ASSIGN_OR_RETURN(listener.address, Endpoint(l["address"]));
    if (!l["target"].IsMissing()) {
      ASSIGN_OR_RETURN(listener.target, Endpoint(l["target"]));
    }
    out->push_back(std::move(listener));
  }
  return absl::OkStatus();
}

absl::Status ParseInbound(const YamlField& field, ProxyConfig* config) {
  RETURN_IF_ERROR(field.OnlyKeys({"mode", "ports", "forward_to"}));
  if (!field["mode"].IsMissing()) {
    ASSIGN_OR_RETURN(config->default_mode, Mode(field["mode"]));
  }
  if (!field["forward_to"].IsMissing()) {
    ASSIGN_OR_RETURN(std::string forward, field["forward_to"].String());
    if (forward == "original_destination") {
      config->inbound_forward = InboundForward::kOriginalDestination;
    } else if (forward == "localhost") {
      config->inbound_forward = InboundForward::kLocalhost;
    } else {
      return field["forward_to"].Error(
          absl::StrCat("\"", forward, "\" is not original_destination or localhost"));
    }
  }
  YamlField ports = field["ports"];
  if (ports.IsMissing()) return absl::OkStatus();
  if (!ports.IsSequence()) return ports.Error("must be a list of {port, mode, protocol}");
  for (size_t i = 0; i < ports.size(); ++i) {
    YamlField p = ports.At(i);
    RETURN_IF_ERROR(p.OnlyKeys({"port", "mode", "protocol"}));
    ASSIGN_OR_RETURN(int64_t port, p["port"].Int(1, 65535));
    InboundPort settings{.mode = config->default_mode, .protocol = AppProtocol::kTcp};
    if (!p["mode"].IsMissing()) {
      ASSIGN_OR_RETURN(settings.mode, Mode(p["mode"]));
    }
    ASSIGN_OR_RETURN(settings.protocol, Protocol(p["protocol"]));
    if (!config->inbound_ports.emplace(static_cast<uint16_t>(port), settings).second) {
      return p["port"].Error(absl::StrCat("port ", port, " is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseOutbound(const YamlField& field, const std::string& trust_domain,
                           ProxyConfig* config) {
  RETURN_IF_ERROR(field.OnlyKeys({"unknown_destinations", "services"}));
  if (!field["unknown_destinations"].IsMissing()) {
    ASSIGN_OR_RETURN(std::string policy, field["unknown_destinations"].String());
    if (policy == "passthrough") {
      config->unknown_destinations = UnknownDestinationPolicy::kPassthrough;
    } else if (policy == "deny") {
      config->unknown_destinations = UnknownDestinationPolicy::kDeny;
    } else {
      return field["unknown_destinations"].Error(
          absl::StrCat("\"", policy, "\" is not passthrough or deny"));
    }
  }
  YamlField services = field["services"];
  if (services.IsMissing()) return absl::OkStatus();
  if (!services.IsSequence()) return services.Error("must be a list of services");
  for (size_t i = 0; i < services.size(); ++i) {
    YamlField s = services.At(i);
    RETURN_IF_ERROR(s.OnlyKeys({"name", "addresses", "identities", "protocol", "sni"}));
    Service service;
    ASSIGN_OR_RETURN(service.name, s["name"].String());
    YamlField addresses = s["addresses"];
    if (!addresses.IsSequence() || addresses.size() == 0) {
      return addresses.Error("must list at least one ip:port the app dials");
    }
    for (size_t j = 0; j < addresses.size(); ++j) {
      ASSIGN_OR_RETURN(tcp::endpoint ep, Endpoint(addresses.At(j)));
      service.addresses.push_back(ep);
    }
    ASSIGN_OR_RETURN(service.identities, s["identities"].StringList());
    if (service.identities.empty()) {
      return s["identities"].Error(
          "must list the SPIFFE identities that may serve this service (secure naming)");
    }
    for (size_t j = 0; j < service.identities.size(); ++j) {
      absl::StatusOr<certs::SpiffeId> id = certs::SpiffeId::Parse(service.identities[j]);
      if (!id.ok()) return s["identities"].At(j).Error(id.status().message());
      if (id->trust_domain() != trust_domain) {
        return s["identities"].At(j).Error(absl::StrCat("identity is in trust domain \"",
                                                        id->trust_domain(), "\", not \"",
                                                        trust_domain, "\""));
      }
    }
    ASSIGN_OR_RETURN(service.protocol, Protocol(s["protocol"]));
    if (!s["sni"].IsMissing()) {
      ASSIGN_OR_RETURN(service.sni, s["sni"].String());
    }
    config->services.push_back(std::move(service));
  }
  return absl::OkStatus();
}

absl::Status ParseControlPlane(const YamlField& field, ProxyConfig* config) {
  if (field.IsMissing()) return absl::OkStatus();
  RETURN_IF_ERROR(field.OnlyKeys({"address", "server_name", "token_file", "ca_file",
                                  "cert_lifetime", "retry_initial", "retry_max", "delta"}));
  ControlPlaneConfig cp;
  ASSIGN_OR_RETURN(cp.address, field["address"].String());
  if (cp.address.find(':') == std::string::npos) {
    return field["address"].Error(absl::StrCat("\"", cp.address, "\" is not host:port"));
  }
  if (!field["server_name"].IsMissing()) {
    ASSIGN_OR_RETURN(cp.server_name, field["server_name"].String());
  }
  ASSIGN_OR_RETURN(cp.token_file, field["token_file"].String());
  ASSIGN_OR_RETURN(cp.ca_file, field["ca_file"].String());
  struct DurationField {
    const char* name;
    absl::Duration* target;
  };
  if (!field["cert_lifetime"].IsMissing()) {
    ASSIGN_OR_RETURN(cp.cert_lifetime, field["cert_lifetime"].Duration());
  }
  for (const DurationField& d : {DurationField{"retry_initial", &cp.retry_initial},
                                 DurationField{"retry_max", &cp.retry_max}}) {
    if (field[d.name].IsMissing()) continue;
    ASSIGN_OR_RETURN(*d.target, field[d.name].Duration());
    if (*d.target < absl::Milliseconds(10)) return field[d.name].Error("must be at least 10ms");
  }
  if (cp.retry_max < cp.retry_initial) {
    return field["retry_max"].Error("must not be shorter than retry_initial");
  }
  if (!field["delta"].IsMissing()) {
    ASSIGN_OR_RETURN(cp.delta, field["delta"].Bool());
  }
  config->control_plane = std::move(cp);
  return absl::OkStatus();
}

absl::Status ParseWorkload(const YamlField& field, bool required, WorkloadConfig* workload) {
  if (field.IsMissing()) {
    if (required) {
      return field.Error("is required with control_plane: name and namespace identify the proxy");
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(field.OnlyKeys({"name", "namespace", "service_account", "ip", "labels"}));
  if (required || !field["name"].IsMissing()) {
    ASSIGN_OR_RETURN(workload->name, field["name"].String());
  }
  if (required || !field["namespace"].IsMissing()) {
    ASSIGN_OR_RETURN(workload->ns, field["namespace"].String());
  }
  if (required || !field["service_account"].IsMissing()) {
    ASSIGN_OR_RETURN(workload->service_account, field["service_account"].String());
  }
  if (!workload->ns.empty() || !workload->service_account.empty()) {
    absl::StatusOr<certs::SpiffeId> id = certs::SpiffeId::ForServiceAccount(
        "cluster.local", workload->ns.empty() ? "x" : workload->ns,
        workload->service_account.empty() ? "x" : workload->service_account);
    if (!id.ok()) return field.Error(id.status().message());
  }
  if (!field["ip"].IsMissing()) {
    ASSIGN_OR_RETURN(workload->ip, field["ip"].String());
  }
  ASSIGN_OR_RETURN(workload->labels, field["labels"].StringMap());
  return absl::OkStatus();
}

absl::Status ParseAppProbes(const YamlField& field, std::map<std::string, AppProbe>* out) {
  ASSIGN_OR_RETURN(auto entries, field.Entries());
  for (auto& [path, probe] : entries) {
    if (path.rfind("/app-health/", 0) != 0) {
      return probe.Error("probe paths start with /app-health/");
    }
    RETURN_IF_ERROR(probe.OnlyKeys({"http_get", "tcp_socket"}));
    AppProbe p;
    YamlField http = probe["http_get"];
    YamlField tcp = probe["tcp_socket"];
    if (http.IsMissing() == tcp.IsMissing())
      return probe.Error("needs exactly one of http_get and tcp_socket");
    YamlField spec = http.IsMissing() ? tcp : http;
    p.http = !http.IsMissing();
    RETURN_IF_ERROR(spec.OnlyKeys({"port", "path", "scheme", "host", "headers"}));
    ASSIGN_OR_RETURN(int64_t port, spec["port"].Int(1, 65535));
    p.port = static_cast<uint16_t>(port);
    if (!spec["host"].IsMissing()) {
      ASSIGN_OR_RETURN(std::string host, spec["host"].String());
      if (!host.empty()) p.host = host;
    }
    if (p.http) {
      if (!spec["path"].IsMissing()) {
        ASSIGN_OR_RETURN(p.path, spec["path"].String());
      }
      if (p.path.empty() || p.path[0] != '/') p.path = "/" + p.path;
      if (!spec["scheme"].IsMissing()) {
        ASSIGN_OR_RETURN(std::string scheme, spec["scheme"].String());
        if (scheme != "HTTP" && scheme != "HTTPS")
          return spec["scheme"].Error("must be HTTP or HTTPS");
        p.https = scheme == "HTTPS";
      }
      YamlField headers = spec["headers"];
      for (size_t i = 0; i < headers.size(); ++i) {
        ASSIGN_OR_RETURN(std::string name, headers.At(i)["name"].String());
        ASSIGN_OR_RETURN(std::string value, headers.At(i)["value"].String());
        p.headers.emplace_back(std::move(name), std::move(value));
      }
    }
    (*out)[path] = std::move(p);
  }
  return absl::OkStatus();
}

absl::Status ParseLimits(const YamlField& field, Limits* limits) {
  RETURN_IF_ERROR(field.OnlyKeys(
      {"workers", "max_connections", "max_inbound_connections", "max_outbound_connections",
       "max_handshakes_per_source", "listen_backlog", "buffer_size", "connect_timeout",
       "handshake_timeout", "idle_timeout", "sniff_timeout", "drain_timeout",
       "request_head_timeout", "http_max_header_bytes", "http_max_body_bytes", "max_policies"}));
  struct IntLimit {
    const char* name;
    int64_t* target;
    int64_t min, max;
  };
  for (const IntLimit& l :
       {IntLimit{"workers", &limits->workers, 1, 256},
        IntLimit{"max_connections", &limits->max_connections, 1, 10000000},
        IntLimit{"max_inbound_connections", &limits->max_inbound_connections, 1, 10000000},
        IntLimit{"max_outbound_connections", &limits->max_outbound_connections, 1, 10000000},
        IntLimit{"max_handshakes_per_source", &limits->max_handshakes_per_source, 1, 10000000},
        IntLimit{"listen_backlog", &limits->listen_backlog, 1, 65535},
        IntLimit{"buffer_size", &limits->buffer_size, 1024, 1 << 20},
        IntLimit{"http_max_header_bytes", &limits->http_max_header_bytes, 1024, 1 << 20},
        IntLimit{"http_max_body_bytes", &limits->http_max_body_bytes, 0, int64_t{1} << 32},
        IntLimit{"max_policies", &limits->max_policies, 0, 10000000}}) {
    if (!field[l.name].IsMissing()) {
      ASSIGN_OR_RETURN(*l.target, field[l.name].Int(l.min, l.max));
    }
  }
  struct DurationLimit {
    const char* name;
    absl::Duration* target;
  };
  for (const DurationLimit& l :
       {DurationLimit{"connect_timeout", &limits->connect_timeout},
        DurationLimit{"handshake_timeout", &limits->handshake_timeout},
        DurationLimit{"idle_timeout", &limits->idle_timeout},
        DurationLimit{"sniff_timeout", &limits->sniff_timeout},
        DurationLimit{"drain_timeout", &limits->drain_timeout},
        DurationLimit{"request_head_timeout", &limits->request_head_timeout}}) {
    if (field[l.name].IsMissing()) continue;
    ASSIGN_OR_RETURN(*l.target, field[l.name].Duration());
    if (*l.target <= absl::ZeroDuration() && std::string(l.name) != "drain_timeout") {
      return field[l.name].Error("must be greater than zero");
    }
  }
  // A direction left unset gets half of the overall limit, so neither can take every slot.
  for (auto [name, target] :
       {std::pair{"max_inbound_connections", &limits->max_inbound_connections},
        std::pair{"max_outbound_connections", &limits->max_outbound_connections}}) {
    if (*target == 0) *target = std::max<int64_t>(1, limits->max_connections / 2);
    if (*target > limits->max_connections) {
      return field[name].Error(
          absl::StrCat("must not exceed max_connections (", limits->max_connections, ")"));
    }
  }
  limits->max_handshakes_per_source = HandshakesPerSourceLimit(*limits);
  return absl::OkStatus();
}

absl::StatusOr<ProxyConfig> Parse(absl::string_view text) {
  ASSIGN_OR_RETURN(std::vector<YamlDocument> docs,
                   LoadYamlDocuments(text, "proxy config", 1 << 20));
  if (docs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("proxy config: expected exactly one YAML document, found ", docs.size()));
  }
  YamlField root(docs[0].root, "");
  if (!root.IsMap()) return root.Error("the configuration must be a YAML map");
  RETURN_IF_ERROR(root.OnlyKeys({"trust_domain", "log_level", "identity", "control_plane",
                                 "workload", "policy_files", "listeners", "admin", "prometheus",
                                 "health", "inbound", "outbound", "limits", "app_probes"}));
  ProxyConfig config;
  config.admin = *net::ParseEndpoint("127.0.0.1:15000");
  config.prometheus = *net::ParseEndpoint("0.0.0.0:15090");
  config.health = *net::ParseEndpoint("0.0.0.0:15021");
  // IPv6 capture (remora-init) redirects to [pod IP]:15006 and [::1]:15001: the defaults serve
  // both families; the IPv6 ones are skipped where the node has no IPv6.
  config.listeners = {
      ListenerConfig{"inbound", true, *net::ParseEndpoint("[::]:15006"), std::nullopt, false},
      ListenerConfig{"outbound", false, *net::ParseEndpoint("127.0.0.1:15001"), std::nullopt,
                     false},
      ListenerConfig{"outbound-ipv6", false, *net::ParseEndpoint("[::1]:15001"), std::nullopt,
                     true}};

  if (!root["trust_domain"].IsMissing()) {
    ASSIGN_OR_RETURN(config.trust_domain, root["trust_domain"].String());
    if (absl::Status s = certs::ValidateTrustDomain(config.trust_domain); !s.ok()) {
      return root["trust_domain"].Error(s.message());
    }
  }
  if (!root["log_level"].IsMissing()) {
    ASSIGN_OR_RETURN(config.log_level, root["log_level"].String());
    if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warn" &&
        config.log_level != "error") {
      return root["log_level"].Error("must be debug, info, warn or error");
    }
  }
  RETURN_IF_ERROR(ParseControlPlane(root["control_plane"], &config));
  RETURN_IF_ERROR(
      ParseWorkload(root["workload"], config.control_plane.has_value(), &config.workload));
  ASSIGN_OR_RETURN(config.policy_files, root["policy_files"].StringList());
  YamlField identity = root["identity"];
  RETURN_IF_ERROR(identity.OnlyKeys({"cert_file", "key_file", "bundle_file", "poll_interval"}));
  if (config.control_plane.has_value()) {
    if (!identity.IsMissing()) {
      return identity.Error(
          "the certificate comes from the control plane's CA when control_plane is set; remove "
          "identity or control_plane");
    }
  } else {
    if (identity.IsMissing()) {
      return root.Error(
          "identity (certificate files) or control_plane (certificates from remora-control) is "
          "required");
    }
    ASSIGN_OR_RETURN(config.identity.cert_file, identity["cert_file"].String());
    ASSIGN_OR_RETURN(config.identity.key_file, identity["key_file"].String());
    ASSIGN_OR_RETURN(config.identity.bundle_file, identity["bundle_file"].String());
  }
  if (!identity["poll_interval"].IsMissing()) {
    ASSIGN_OR_RETURN(config.identity.poll_interval, identity["poll_interval"].Duration());
    if (config.identity.poll_interval < absl::Milliseconds(10)) {
      return identity["poll_interval"].Error("must be at least 10ms");
    }
  }
  RETURN_IF_ERROR(ParseListeners(root["listeners"], &config.listeners));
  RETURN_IF_ERROR(OptionalEndpoint(root["admin"], &config.admin));
  RETURN_IF_ERROR(OptionalEndpoint(root["prometheus"], &config.prometheus));
  RETURN_IF_ERROR(OptionalEndpoint(root["health"], &config.health));
  RETURN_IF_ERROR(ParseInbound(root["inbound"], &config));
  RETURN_IF_ERROR(ParseOutbound(root["outbound"], config.trust_domain, &config));
  RETURN_IF_ERROR(ParseLimits(root["limits"], &config.limits));
  RETURN_IF_ERROR(ParseAppProbes(root["app_probes"], &config.app_probes));
  return config;
}

}  // namespace

absl::StatusOr<ProxyConfig> ParseProxyConfigYaml(absl::string_view text) {
  return GuardYaml<ProxyConfig>("proxy config", [&] { return Parse(text); });
}

}  // namespace remora::proxy
