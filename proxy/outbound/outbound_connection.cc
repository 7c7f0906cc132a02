#include "proxy/outbound/outbound_connection.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "proxy/authorize.h"
#include "proxy/filter/chains.h"
#include "proxy/filter/connection_context.h"
#include "proxy/tls/tls_stream.h"
#include "proxy/transport/original_dst.h"

namespace remora::proxy::outbound {

awaitable<void> ServeOutbound(tcp::socket socket, std::shared_ptr<const Snapshot> snapshot,
                              const ListenerRuntime& listener, WorkerResources& worker) {
  error_code ec;
  // Declared before the session, so it outlives the session's pointer to it.
  filter::ConnectionContext connection(listener, filters::Direction::kOutbound,
                                       socket.remote_endpoint(ec), socket.local_endpoint(ec));
  ListenerStats& stats = connection.stats;
  Session session(stats.timeout);
  worker.sessions.push_back(session);
  const Limits& limits = snapshot->config().limits;
  const tcp::endpoint& peer = connection.peer;

  absl::StatusOr<tcp::endpoint> destination =
      listener.config.target.has_value() ? absl::StatusOr<tcp::endpoint>(*listener.config.target)
                                         : transport::OriginalDestination(socket);
  if (!destination.ok()) {
    LogRefusal(listener, peer, "?", "", std::string(destination.status().message()));
    co_return;
  }
  connection.destination = *destination;
  connection.destination_text = net::ToString(*destination);
  const std::string& dest_text = connection.destination_text;
  // Compared in one spelling: a dual-stack socket reports ::ffff:a.b.c.d for what conntrack calls
  // a.b.c.d (the inbound side's loop, issue 16 item 8).
  if (transport::Canonical(*destination) == transport::Canonical(listener.bound)) {
    LogRefusal(listener, peer, dest_text, "", "destination is this listener itself (a loop)");
    co_return;
  }
  // Before its first complete configuration the proxy does not know which destinations are mesh
  // services: passing the app's connections through would send them in plaintext where mTLS
  // belongs. Like an Istio sidecar, which has no outbound listener until configured, it serves
  // nothing (issue 16 item 5).
  if (!snapshot->configured()) {
    LogRefusal(listener, peer, dest_text, "",
               "proxy has no configuration from the control plane yet; serving nothing until its "
               "first complete configuration is applied (fail closed)");
    co_return;
  }

  const Service* service = snapshot->FindService(*destination);
  if (service == nullptr &&
      snapshot->config().unknown_destinations == UnknownDestinationPolicy::kDeny) {
    LogRefusal(listener, peer, dest_text, "",
               "destination is not a mesh service and outbound policy is deny "
               "(add it as a service, or set outbound.unknown_destinations: passthrough)");
    co_return;
  }
  if (service != nullptr) {
    connection.sni = service->sni;
    connection.protocol = service->protocol == AppProtocol::kHttp ? filters::Protocol::kHttp
                                                                  : filters::Protocol::kTcp;
  }
  // Egress policy (NetworkPolicy) stops a connection at the client's own sidecar.
  connection.attributes = OutboundAttributes(*snapshot, peer, *destination, service);
  if (filter::FilterResult admitted =
          filter::RunOnConnection(worker.filters->outbound(), connection, *snapshot);
      !admitted.proceeds()) {
    LogRefusal(listener, peer, dest_text, "", std::string(admitted.why().message()));
    co_return;
  }
  session.admitted = &connection;
  // A virtual address is served by one of the service's endpoints, taken in turn.
  tcp::endpoint connect_to = *destination;
  if (service != nullptr && !service->endpoints.empty() &&
      std::find(service->endpoints.begin(), service->endpoints.end(), *destination) ==
          service->endpoints.end()) {
    connect_to = service->endpoints[worker.round_robin++ % service->endpoints.size()];
  } else if (service != nullptr && service->identities.empty()) {
    LogRefusal(listener, peer, dest_text, "",
               absl::StrCat("service ", service->name, " has no workload to serve it"));
    co_return;
  }
  transport::TcpStream downstream(std::move(socket));
  const std::shared_ptr<const tls::TlsContexts>& contexts = snapshot->tls();
  if (service != nullptr &&
      (contexts == nullptr || contexts->identity().leaf.not_after <= absl::Now())) {
    stats.no_identity_refused.Inc();
    LogRefusal(listener, peer, dest_text, "",
               contexts == nullptr
                   ? "proxy holds no workload certificate yet; refusing mTLS (fail closed)"
                   : "proxy's own certificate has expired; refusing mTLS (fail closed)");
    co_return;
  }

  absl::StatusOr<tcp::socket> upstream_socket = co_await ConnectUpstream(
      worker.io, connect_to, std::nullopt, session, ToChrono(limits.connect_timeout), &downstream);
  if (!upstream_socket.ok()) {
    stats.upstream_connect_failed.Inc();
    LOG_WARN(connection.component, "upstream unreachable from=", net::ToString(peer),
             " to=", dest_text, " service=", Quote(service ? service->name : "-"),
             " reason=", Quote(upstream_socket.status().message()));
    co_return;
  }

  std::unique_ptr<transport::Stream> upstream;
  if (service != nullptr) {
    absl::StatusOr<std::unique_ptr<tls::TlsStream>> tls_stream =
        tls::TlsStream::Create(std::move(*upstream_socket), contexts, /*server=*/false,
                               &service->identities, service->sni);
    if (!tls_stream.ok()) {
      LogRefusal(listener, peer, dest_text, "", std::string(tls_stream.status().message()));
      co_return;
    }
    absl::Status handshake;
    {
      Session::ScopedPhase handshaking(session, Session::Phase::kHandshake,
                                       ToChrono(limits.handshake_timeout),
                                       {&downstream, tls_stream->get()});
      handshake = co_await (*tls_stream)->Handshake();
    }
    if (!handshake.ok()) {
      stats.tls_handshake_failed.Inc();
      LogRefusal(
          listener, peer, absl::StrCat(dest_text, " (", service->name, ")"),
          (*tls_stream)->peer_check().presented,
          session.timed_out() ? "TLS handshake timed out" : std::string(handshake.message()));
      co_return;
    }
    stats.tls_handshake_ok.Inc();
    upstream = std::move(*tls_stream);
  } else {
    stats.plaintext_cx.Inc();
    upstream = std::make_unique<transport::TcpStream>(std::move(*upstream_socket));
  }

  absl::Status ended = co_await Relay(downstream, *upstream, session, ToChrono(limits.idle_timeout),
                                      stats, worker.pool);
  if (!ended.ok()) {
    stats.cx_error.Inc();
    LOG_DEBUG(connection.component, "connection ended from=", net::ToString(peer),
              " to=", dest_text, " reason=", Quote(ended.message()));
  }
}

}  // namespace remora::proxy::outbound
