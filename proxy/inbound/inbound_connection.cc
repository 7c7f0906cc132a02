#include "proxy/inbound/inbound_connection.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "proxy/authorize.h"
#include "proxy/connection_limits.h"
#include "proxy/filter/chains.h"
#include "proxy/filter/connection_context.h"
#include "proxy/http1/inbound_http.h"
#include "proxy/tls/tls_stream.h"
#include "proxy/transport/original_dst.h"
#include "proxy/transport/sniff.h"

namespace remora::proxy::inbound {
namespace {

// Istio's inbound passthrough source addresses; the capture rules let connections from them over
// lo through to the app (iptables-init/rule_model.h: kInboundPassthroughSource*).
const asio::ip::address kPassthroughSourceV4 = asio::ip::make_address("127.0.0.6");
const asio::ip::address kPassthroughSourceV6 = asio::ip::make_address("::6");

// Where the app is reached, and from which source address.
struct AppAddress {
  tcp::endpoint endpoint;
  std::optional<asio::ip::address> source;  // unset: the kernel chooses
};

// The explicit target; else the original destination, which is the pod's own address, as Istio
// does since 1.10: an app listener bound to 127.0.0.1 (pprof, actuator, a local Redis) is then not
// reachable from the network, and the connection comes from the inbound passthrough source. With
// inbound.forward_to: localhost (an explicit opt-in) the old way: 127.0.0.1 and the original port.
absl::StatusOr<AppAddress> AppEndpoint(tcp::socket& socket, const ListenerRuntime& listener,
                                       const ProxyConfig& config,
                                       const std::vector<tcp::endpoint>& own_endpoints) {
  if (listener.config.target.has_value()) return AppAddress{*listener.config.target, std::nullopt};
  absl::StatusOr<tcp::endpoint> original = transport::OriginalDestination(socket);
  if (!original.ok()) return original.status();
  // A connection that reached the capture port directly (it is excluded from capture) would be
  // forwarded to the proxy itself, again and again: refuse any destination the proxy serves.
  if (transport::IsOneOf(*original, own_endpoints)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "original destination ", net::ToString(*original),
        " is one of the proxy's own listeners; refusing to forward the connection to itself"));
  }
  const bool v6 = original->address().is_v6();
  if (config.inbound_forward == InboundForward::kLocalhost) {
    return AppAddress{tcp::endpoint(v6 ? asio::ip::address(asio::ip::address_v6::loopback())
                                       : asio::ip::address(asio::ip::address_v4::loopback()),
                                    original->port()),
                      std::nullopt};
  }
  return AppAddress{*original, v6 ? kPassthroughSourceV6 : kPassthroughSourceV4};
}

// Protocol detection, then the mTLS handshake (or plaintext, as the port's mode allows). The
// stream the connection goes on with, its peer identity and whether it is plaintext in
// `connection`; null once the connection is refused (logged) or gone.
awaitable<std::unique_ptr<transport::Stream>> SettleTransport(
    tcp::socket& socket, filter::ConnectionContext& connection, const Snapshot& snapshot,
    const InboundPort& port, WorkerResources& worker, Session& session) {
  const ListenerRuntime& listener = connection.listener;
  ListenerStats& stats = connection.stats;
  const Limits& limits = snapshot.config().limits;
  const tcp::endpoint& peer = connection.peer;
  const std::string& destination = connection.destination_text;

  // STRICT sniffs too, to tell a plaintext client apart from a TLS failure.
  bool use_tls = port.mode != PeerAuthMode::kDisable;
  // Until it is past detection and handshake, a connection holds one of its source's few slots:
  // a slow or silent client cannot take every inbound connection the proxy allows.
  ConnectionCounts::HandshakeSlot handshake_slot;
  if (use_tls) {
    handshake_slot =
        worker.counts->AcquireHandshake(peer.address(), HandshakesPerSourceLimit(limits));
    if (!handshake_slot) {
      stats.source_overload_refused.Inc();
      stats.downstream_cx_refused.Inc();
      if (int64_t count = 0; worker.source_overload_log.Due(&count)) {
        LOG_WARN(connection.component, "refused ", count,
                 " connection(s) from=", transport::Canonical(peer.address()).to_string(),
                 " reason=",
                 Quote(absl::StrCat(
                     "max_handshakes_per_source=", HandshakesPerSourceLimit(limits),
                     " reached: that source already has as many connections in protocol "
                     "detection or TLS handshake (raise limits.max_handshakes_per_source)")));
      }
      co_return nullptr;
    }
  }
  if (use_tls) {
    transport::Sniffed sniffed;
    {
      Session::ScopedPhase sniffing(session, Session::Phase::kSniff,
                                    ToChrono(limits.handshake_timeout), {&socket});
      Clock::duration wait = ToChrono(
          port.mode == PeerAuthMode::kPermissive ? limits.sniff_timeout : limits.handshake_timeout);
      sniffed = co_await transport::SniffFirstByte(socket, wait);
    }
    // The sweep enforces the same deadline as the sniff timer; whichever fires first, a silent
    // client is a timeout.
    const bool swept = session.timed_out();
    if (swept) sniffed = transport::Sniffed::kSilent;
    if (sniffed == transport::Sniffed::kClosed) {
      co_return nullptr;  // a health check or port scan; nothing to say
    }
    if (port.mode == PeerAuthMode::kStrict && sniffed != transport::Sniffed::kTls) {
      if (sniffed == transport::Sniffed::kSilent && !swept) session.MarkTimedOut();
      stats.plaintext_refused.Inc();
      LogRefusal(listener, peer, destination, "",
                 sniffed == transport::Sniffed::kSilent
                     ? "client sent nothing within the handshake timeout; STRICT requires mTLS"
                     : absl::StrCat("plaintext connection refused: ", destination,
                                    " requires mTLS (STRICT)"));
      co_return nullptr;
    }
    if (swept) co_return nullptr;  // the socket is closed; counted as a timeout
    use_tls = sniffed == transport::Sniffed::kTls;
  }

  if (!use_tls) {
    stats.plaintext_cx.Inc();
    connection.plaintext = true;
    co_return std::make_unique<transport::TcpStream>(std::move(socket));
  }
  const std::shared_ptr<const tls::TlsContexts>& contexts = snapshot.tls();
  if (contexts == nullptr || contexts->identity().leaf.not_after <= absl::Now()) {
    stats.no_identity_refused.Inc();
    LogRefusal(listener, peer, destination, "",
               contexts == nullptr
                   ? "proxy holds no workload certificate yet; refusing mTLS (fail closed)"
                   : "proxy's own certificate has expired; refusing mTLS (fail closed)");
    co_return nullptr;
  }
  absl::StatusOr<std::unique_ptr<tls::TlsStream>> tls_stream =
      tls::TlsStream::Create(std::move(socket), contexts, /*server=*/true);
  if (!tls_stream.ok()) {
    LogRefusal(listener, peer, destination, "", std::string(tls_stream.status().message()));
    co_return nullptr;
  }
  absl::Status handshake;
  {
    Session::ScopedPhase handshaking(session, Session::Phase::kHandshake,
                                     ToChrono(limits.handshake_timeout), {tls_stream->get()});
    handshake = co_await (*tls_stream)->Handshake();
  }
  if (!handshake.ok()) {
    stats.tls_handshake_failed.Inc();
    std::string why =
        session.timed_out() ? "TLS handshake timed out" : std::string(handshake.message());
    LogRefusal(listener, peer, destination, (*tls_stream)->peer_check().presented, why);
    co_return nullptr;
  }
  stats.tls_handshake_ok.Inc();
  connection.peer_identity = (*tls_stream)->peer_id();
  co_return std::move(*tls_stream);
}

// Connects to the app and relays until both directions end.
awaitable<void> ForwardTcp(transport::Stream& downstream,
                           const filter::ConnectionContext& connection,
                           const std::optional<asio::ip::address>& upstream_source,
                           const Limits& limits, WorkerResources& worker, Session& session) {
  ListenerStats& stats = connection.stats;
  const tcp::endpoint& app = connection.destination;
  absl::StatusOr<tcp::socket> upstream_socket = co_await ConnectUpstream(
      worker.io, app, upstream_source, session, ToChrono(limits.connect_timeout));
  if (!upstream_socket.ok()) {
    stats.upstream_connect_failed.Inc();
    LOG_WARN(connection.component, "app unreachable from=", net::ToString(connection.peer),
             " peer_identity=", Quote(connection.IdentityForLog()), " app=", net::ToString(app),
             " reason=", Quote(upstream_socket.status().message()));
    co_return;
  }
  transport::TcpStream upstream(std::move(*upstream_socket));
  absl::Status ended = co_await Relay(downstream, upstream, session, ToChrono(limits.idle_timeout),
                                      stats, worker.pool);
  if (!ended.ok()) {
    stats.cx_error.Inc();
    LOG_DEBUG(connection.component, "connection ended from=", net::ToString(connection.peer),
              " peer_identity=",
              Quote(connection.peer_identity.has_value() ? connection.peer_identity->str() : ""),
              " reason=", Quote(ended.message()));
  }
}

}  // namespace

awaitable<void> ServeInbound(tcp::socket socket, std::shared_ptr<const Snapshot> snapshot,
                             const ListenerRuntime& listener, WorkerResources& worker) {
  error_code ec;
  // Declared before the session, so it outlives the session's pointer to it.
  filter::ConnectionContext connection(listener, filters::Direction::kInbound,
                                       socket.remote_endpoint(ec), socket.local_endpoint(ec));
  Session session(connection.stats.timeout);
  worker.sessions.push_back(session);

  absl::StatusOr<AppAddress> app_address =
      AppEndpoint(socket, listener, snapshot->config(), *worker.own_endpoints);
  if (!app_address.ok()) {
    LogRefusal(listener, connection.peer, "?", "", std::string(app_address.status().message()));
    co_return;
  }
  connection.destination = app_address->endpoint;
  connection.destination_text = absl::StrCat("port ", connection.destination.port());
  if (!snapshot->configured()) {
    LogRefusal(listener, connection.peer, connection.destination_text, "",
               "proxy has no configuration from the control plane yet; serving nothing until its "
               "first complete configuration is applied (fail closed)");
    co_return;
  }

  std::unique_ptr<transport::Stream> downstream = co_await SettleTransport(
      socket, connection, *snapshot, snapshot->config().PortSettings(connection.destination.port()),
      worker, session);
  if (downstream == nullptr) co_return;

  // Admission meets the configuration in force now, not the one the connection was accepted
  // under: sniffing and the handshake take time, and a policy or the port's mode may have
  // changed meanwhile (a connection admitted on stale settings would never be checked again).
  const std::shared_ptr<const Snapshot> current =
      worker.latest != nullptr ? *worker.latest : snapshot;
  const InboundPort port = current->config().PortSettings(connection.destination.port());
  connection.protocol =
      port.protocol == AppProtocol::kHttp ? filters::Protocol::kHttp : filters::Protocol::kTcp;
  connection.attributes =
      InboundAttributes(*current, connection.peer, connection.local, connection.destination.port(),
                        port, connection.peer_identity);
  // Before the app sees a connection. On an HTTP port each request then meets the HTTP filters.
  if (filter::FilterResult admitted =
          filter::RunOnConnection(worker.filters->inbound(), connection, *current);
      !admitted.proceeds()) {
    LogRefusal(listener, connection.peer, connection.destination_text,
               connection.peer_identity.has_value() ? connection.peer_identity->str() : "",
               std::string(admitted.why().message()));
    co_return;
  }
  session.admitted = &connection;
  if (connection.protocol == filters::Protocol::kHttp) {
    co_await http1::ServeInboundHttp(*downstream, connection, app_address->source, current, worker,
                                     session);
    co_return;
  }
  co_await ForwardTcp(*downstream, connection, app_address->source, snapshot->config().limits,
                      worker, session);
}

}  // namespace remora::proxy::inbound
