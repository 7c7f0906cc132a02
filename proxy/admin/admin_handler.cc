#include "proxy/admin/admin_handler.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "net/endpoint.h"

namespace remora::proxy::admin {
namespace {

using json = nlohmann::json;
namespace beast_http = http::beast_http;
using beast_http::status;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

json CertJson(const certs::CertInfo& info) {
  json j = {{"serial", info.serial_hex},
            {"subject", info.subject},
            {"issuer", info.issuer},
            {"uri_sans", info.uri_sans},
            {"not_before", Rfc3339(info.not_before)},
            {"not_after", Rfc3339(info.not_after)}};
  const absl::Duration left = info.not_after - absl::Now();
  j["seconds_until_expiry"] = static_cast<int64_t>(absl::ToInt64Seconds(left));
  return j;
}

std::string Path(const http::Request& request) {
  std::string target(request.target());
  return target.substr(0, target.find('?'));
}

constexpr char kHelp[] =
    "remora-proxy admin API\n"
    "  GET  /ready            200 when serving with a valid certificate, else 503 and why\n"
    "  GET  /healthz          200 while the process runs\n"
    "  GET  /certs            identity, serial and expiry of the certificate and trust bundle\n"
    "  GET  /config_dump      the configuration in force (JSON)\n"
    "  GET  /stats            counters and gauges\n"
    "  GET  /stats/prometheus the same in Prometheus text format\n"
    "  POST /quitquitquit     drain gracefully and exit, like SIGTERM\n";

}  // namespace

std::string CertsJson(const Snapshot& snapshot) {
  json out;
  const auto& tls = snapshot.tls();
  if (tls == nullptr) {
    out["identity"] = nullptr;
    out["error"] = "no workload certificate loaded";
    return out.dump(2) + "\n";
  }
  const tls::Identity& identity = tls->identity();
  out["identity"] = identity.id.str();
  out["source"] = identity.source;
  out["certificate"] = CertJson(identity.leaf);
  json chain = json::array();
  for (size_t i = 1; i < identity.chain.size(); ++i) {
    chain.push_back(CertJson(certs::DescribeCertificate(identity.chain[i].get())));
  }
  out["intermediates"] = chain;
  json bundle = json::array();
  for (const certs::X509Ptr& root : identity.bundle.roots()) {
    bundle.push_back(CertJson(certs::DescribeCertificate(root.get())));
  }
  out["trust_bundle"] = bundle;
  return out.dump(2) + "\n";
}

std::string ConfigDumpJson(const Snapshot& snapshot) {
  const ProxyConfig& c = snapshot.config();
  auto endpoint_or_null = [](const std::optional<tcp::endpoint>& ep) -> json {
    return ep ? json(net::ToString(*ep)) : json(nullptr);
  };
  json listeners = json::array();
  for (const ListenerConfig& l : c.listeners) {
    listeners.push_back({{"name", l.name},
                         {"direction", l.inbound ? "inbound" : "outbound"},
                         {"address", net::ToString(l.address)},
                         {"target", endpoint_or_null(l.target)}});
  }
  json ports = json::array();
  for (const auto& [port, settings] : c.inbound_ports) {
    ports.push_back({{"port", port},
                     {"mode", ToString(settings.mode)},
                     {"protocol", ToString(settings.protocol)}});
  }
  json services = json::array();
  for (const Service& s : c.services) {
    json addresses = json::array();
    for (const tcp::endpoint& ep : s.addresses) addresses.push_back(net::ToString(ep));
    services.push_back({{"name", s.name},
                        {"addresses", addresses},
                        {"identities", s.identities},
                        {"protocol", ToString(s.protocol)},
                        {"sni", s.sni}});
  }
  const Limits& l = c.limits;
  json out = {
      {"generation", snapshot.generation()},
      {"trust_domain", c.trust_domain},
      {"identity",
       {{"cert_file", c.identity.cert_file},
        {"key_file", c.identity.key_file},
        {"bundle_file", c.identity.bundle_file},
        {"poll_interval", absl::FormatDuration(c.identity.poll_interval)}}},
      {"listeners", listeners},
      {"admin", endpoint_or_null(c.admin)},
      {"prometheus", endpoint_or_null(c.prometheus)},
      {"health", endpoint_or_null(c.health)},
      {"inbound", {{"mode", ToString(c.default_mode)}, {"ports", ports}}},
      {"outbound",
       {{"unknown_destinations", ToString(c.unknown_destinations)}, {"services", services}}},
      {"limits",
       {{"workers", l.workers},
        {"max_connections", l.max_connections},
        {"listen_backlog", l.listen_backlog},
        {"buffer_size", l.buffer_size},
        {"connect_timeout", absl::FormatDuration(l.connect_timeout)},
        {"handshake_timeout", absl::FormatDuration(l.handshake_timeout)},
        {"idle_timeout", absl::FormatDuration(l.idle_timeout)},
        {"sniff_timeout", absl::FormatDuration(l.sniff_timeout)},
        {"drain_timeout", absl::FormatDuration(l.drain_timeout)}}},
  };
  return out.dump(2) + "\n";
}

http::Response HandleAdmin(const http::Request& request, AdminView& view) {
  const std::string path = Path(request);
  if (path == "/quitquitquit") {
    if (request.method() != beast_http::verb::post) {
      return http::MakeResponse(request, status::method_not_allowed, "use POST /quitquitquit\n");
    }
    view.RequestDrain();
    return http::MakeResponse(request, status::ok, "draining\n");
  }
  if (request.method() != beast_http::verb::get && request.method() != beast_http::verb::head) {
    return http::MakeResponse(request, status::method_not_allowed, "only GET is supported here\n");
  }
  if (path == "/ready") {
    Readiness r = view.Ready();
    return http::MakeResponse(request, r.ready ? status::ok : status::service_unavailable,
                              r.reason + "\n");
  }
  if (path == "/healthz") return http::MakeResponse(request, status::ok, "ok\n");
  if (path == "/certs") {
    return http::MakeResponse(request, status::ok, CertsJson(*view.Current()), "application/json");
  }
  if (path == "/config_dump") {
    return http::MakeResponse(request, status::ok, ConfigDumpJson(*view.Current()),
                              "application/json");
  }
  if (path == "/stats") return http::MakeResponse(request, status::ok, view.StatsText(false));
  if (path == "/stats/prometheus" || path == "/metrics") {
    return http::MakeResponse(request, status::ok, view.StatsText(true),
                              "text/plain; version=0.0.4");
  }
  if (path == "/" || path == "/help") return http::MakeResponse(request, status::ok, kHelp);
  return http::MakeResponse(request, status::not_found,
                            absl::StrCat("no admin endpoint ", path, "\n\n", kHelp));
}

http::Response HandleHealth(const http::Request& request, AdminView& view) {
  if (Path(request) == "/healthz/ready") {
    Readiness r = view.Ready();
    return http::MakeResponse(request, r.ready ? status::ok : status::service_unavailable,
                              r.reason + "\n");
  }
  return http::MakeResponse(request, status::not_found, "the health port serves /healthz/ready\n");
}

http::Response HandlePrometheus(const http::Request& request, AdminView& view) {
  const std::string path = Path(request);
  if (path == "/stats/prometheus" || path == "/metrics") {
    return http::MakeResponse(request, status::ok, view.StatsText(true),
                              "text/plain; version=0.0.4");
  }
  return http::MakeResponse(request, status::not_found, "metrics are at /stats/prometheus\n");
}

}  // namespace remora::proxy::admin
