#include "proxy/authorize.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "filters/engine.h"
#include "net/endpoint.h"
#include "proxy/connection.h"

namespace remora::proxy {
namespace {

std::optional<filters::IpAddress> Ip(const tcp::endpoint& ep) {
  absl::StatusOr<filters::IpAddress> ip = filters::IpAddress::Parse(ep.address().to_string());
  if (!ip.ok()) return std::nullopt;
  return *ip;
}

}  // namespace

filters::RequestAttributes InboundAttributes(const Snapshot& snapshot, const tcp::endpoint& peer,
                                             const tcp::endpoint& local, uint16_t app_port,
                                             const InboundPort& port,
                                             const std::optional<certs::SpiffeId>& peer_id) {
  filters::RequestAttributes r;
  r.direction = filters::Direction::kInbound;
  if (peer_id.has_value()) r.source.principal = filters::NormalizePrincipal(peer_id->str());
  r.source.ip = Ip(peer);
  r.source.remote_ip = r.source.ip;
  r.destination.ns = snapshot.ns();
  r.destination.labels = snapshot.labels();
  r.destination.ip = Ip(local);
  r.destination.port = app_port;
  r.destination.port_name = port.name;
  r.destination.protocol =
      port.protocol == AppProtocol::kHttp ? filters::Protocol::kHttp : filters::Protocol::kTcp;
  return r;
}

filters::RequestAttributes OutboundAttributes(const Snapshot& snapshot, const tcp::endpoint& source,
                                              const tcp::endpoint& destination,
                                              const Service* service) {
  filters::RequestAttributes r;
  r.direction = filters::Direction::kOutbound;
  if (snapshot.tls() != nullptr) {
    r.source.principal = filters::NormalizePrincipal(snapshot.tls()->identity().id.str());
  }
  r.source.ns = snapshot.ns();
  r.source.labels = snapshot.labels();
  r.source.ip = Ip(source);
  r.destination.ip = Ip(destination);
  r.destination.port = destination.port();
  if (service != nullptr) {
    r.destination.port_name = service->port_name;
    r.destination.protocol = service->protocol == AppProtocol::kHttp ? filters::Protocol::kHttp
                                                                     : filters::Protocol::kTcp;
  }
  return r;
}

namespace {

Verdict Decide(const Snapshot& snapshot, const filters::RequestAttributes& request,
               const std::string& component, bool connection_only) {
  Verdict verdict;
  const filters::WorkloadPolicy* policy = snapshot.policy();
  if (policy == nullptr) return verdict;
  filters::Decision decision =
      connection_only ? policy->EvaluateConnection(request) : policy->Evaluate(request);
  for (const filters::RuleMatch& audit : decision.audits) {
    LOG_INFO(component, "audit policy=", audit.policy, " rule=", audit.rule, " principal=",
             Quote(request.source.principal.empty() ? "-" : request.source.principal),
             request.destination.protocol == filters::Protocol::kHttp
                 ? absl::StrCat(" method=", request.http.method, " path=", Quote(request.http.path))
                 : std::string());
  }
  if (decision.dry_run.has_value() && decision.dry_run->allowed != decision.final.allowed) {
    LOG_INFO(
        component, "dry-run: would have ", decision.dry_run->allowed ? "allowed" : "denied",
        " principal=", Quote(request.source.principal.empty() ? "-" : request.source.principal),
        " reason=", Quote(filters::DescribeOutcome(*decision.dry_run)));
  }
  verdict.allowed = decision.allowed();
  verdict.reason = filters::DescribeOutcome(decision.final);
  if (!verdict.allowed) {
    verdict.explanation = absl::StrJoin(policy->Explain(request, decision, 8), " | ");
  }
  return verdict;
}

}  // namespace

Verdict Authorize(const Snapshot& snapshot, const filters::RequestAttributes& request,
                  const std::string& component) {
  return Decide(snapshot, request, component, /*connection_only=*/false);
}

Verdict AuthorizeConnection(const Snapshot& snapshot, const filters::RequestAttributes& request,
                            const std::string& component) {
  return Decide(snapshot, request, component, /*connection_only=*/true);
}

}  // namespace remora::proxy
