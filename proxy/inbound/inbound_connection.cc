#include "proxy/inbound/inbound_connection.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "proxy/authorize.h"
#include "proxy/connection_limits.h"
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

}  // namespace

awaitable<void> ServeInbound(tcp::socket socket, std::shared_ptr<const Snapshot> snapshot,
                             const ListenerRuntime& listener, WorkerResources& worker) {
  ListenerStats& stats = *listener.stats;
  Session session(stats.timeout);
  worker.sessions.push_back(session);
  const Limits& limits = snapshot->config().limits;
  error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  const tcp::endpoint local = socket.local_endpoint(ec);

  absl::StatusOr<AppAddress> app_address =
      AppEndpoint(socket, listener, snapshot->config(), *worker.own_endpoints);
  if (!app_address.ok()) {
    LogRefusal(listener, peer, "?", "", std::string(app_address.status().message()));
    co_return;
  }
  const tcp::endpoint* app = &app_address->endpoint;
  session.upstream_source = app_address->source;
  const std::string destination = absl::StrCat("port ", app->port());
  if (!snapshot->configured()) {
    LogRefusal(listener, peer, destination, "",
               "proxy has no configuration from the control plane yet; serving nothing until its "
               "first complete configuration is applied (fail closed)");
    co_return;
  }
  InboundPort port = snapshot->config().PortSettings(app->port());

  // Protocol detection. STRICT sniffs too, to tell a plaintext client apart from a TLS failure.
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
        LOG_WARN(absl::StrCat("proxy.", listener.config.name), "refused ", count,
                 " connection(s) from=", transport::Canonical(peer.address()).to_string(),
                 " reason=",
                 Quote(absl::StrCat(
                     "max_handshakes_per_source=", HandshakesPerSourceLimit(limits),
                     " reached: that source already has as many connections in protocol "
                     "detection or TLS handshake (raise limits.max_handshakes_per_source)")));
      }
      co_return;
    }
  }
  if (use_tls) {
    session.TrackSocket(&socket);
    session.Enter(Session::Phase::kSniff, ToChrono(limits.handshake_timeout));
    Clock::duration wait = ToChrono(
        port.mode == PeerAuthMode::kPermissive ? limits.sniff_timeout : limits.handshake_timeout);
    transport::Sniffed sniffed = co_await transport::SniffFirstByte(socket, wait);
    session.TrackSocket(nullptr);
    // The sweep enforces the same deadline as the sniff timer; whichever fires first, a silent
    // client is a timeout.
    const bool swept = session.timed_out();
    if (swept) sniffed = transport::Sniffed::kSilent;
    if (sniffed == transport::Sniffed::kClosed)
      co_return;  // a health check or port scan; nothing to say
    if (port.mode == PeerAuthMode::kStrict && sniffed != transport::Sniffed::kTls) {
      if (sniffed == transport::Sniffed::kSilent && !swept) session.MarkTimedOut();
      stats.plaintext_refused.Inc();
      LogRefusal(listener, peer, destination, "",
                 sniffed == transport::Sniffed::kSilent
                     ? "client sent nothing within the handshake timeout; STRICT requires mTLS"
                     : absl::StrCat("plaintext connection refused: ", destination,
                                    " requires mTLS (STRICT)"));
      co_return;
    }
    if (swept) co_return;  // the socket is closed; counted as a timeout
    use_tls = sniffed == transport::Sniffed::kTls;
  }

  std::unique_ptr<transport::Stream> downstream;
  std::string peer_identity;
  if (use_tls) {
    const std::shared_ptr<const tls::TlsContexts>& contexts = snapshot->tls();
    if (contexts == nullptr || contexts->identity().leaf.not_after <= absl::Now()) {
      stats.no_identity_refused.Inc();
      LogRefusal(listener, peer, destination, "",
                 contexts == nullptr
                     ? "proxy holds no workload certificate yet; refusing mTLS (fail closed)"
                     : "proxy's own certificate has expired; refusing mTLS (fail closed)");
      co_return;
    }
    absl::StatusOr<std::unique_ptr<tls::TlsStream>> tls_stream =
        tls::TlsStream::Create(std::move(socket), contexts, /*server=*/true);
    if (!tls_stream.ok()) {
      LogRefusal(listener, peer, destination, "", std::string(tls_stream.status().message()));
      co_return;
    }
    session.Track(tls_stream->get(), nullptr);
    session.Enter(Session::Phase::kHandshake, ToChrono(limits.handshake_timeout));
    absl::Status handshake = co_await (*tls_stream)->Handshake();
    session.Track(nullptr, nullptr);
    if (!handshake.ok()) {
      stats.tls_handshake_failed.Inc();
      std::string why =
          session.timed_out() ? "TLS handshake timed out" : std::string(handshake.message());
      LogRefusal(listener, peer, destination, (*tls_stream)->peer_check().presented, why);
      co_return;
    }
    stats.tls_handshake_ok.Inc();
    peer_identity = (*tls_stream)->peer_id().str();
    downstream = std::move(*tls_stream);
  } else {
    stats.plaintext_cx.Inc();
    downstream = std::make_unique<transport::TcpStream>(std::move(socket));
  }

  handshake_slot.Release();

  // Admission meets the configuration in force now, not the one the connection was accepted
  // under: sniffing and the handshake take time, and a policy or the port's mode may have
  // changed meanwhile (a connection admitted on stale settings would never be checked again).
  const std::shared_ptr<const Snapshot> current =
      worker.latest != nullptr ? *worker.latest : snapshot;
  port = current->config().PortSettings(app->port());
  if (!use_tls && port.mode == PeerAuthMode::kStrict) {
    stats.plaintext_refused.Inc();
    LogRefusal(
        listener, peer, destination, "",
        absl::StrCat("plaintext connection refused: ", destination, " requires mTLS (STRICT)"));
    co_return;
  }

  // Authorization, before the app sees a connection. HTTP ports are authorized per request.
  const std::string component = absl::StrCat("proxy.", listener.config.name);
  filters::RequestAttributes attributes =
      InboundAttributes(*current, peer, local, app->port(), port, peer_identity);
  const std::string who =
      absl::StrCat("from=", net::ToString(peer), " to=", destination,
                   " peer_identity=", Quote(peer_identity.empty() ? "-" : peer_identity));
  if (port.protocol == AppProtocol::kHttp) {
    // NetworkPolicy and PeerAuthentication act on the connection; each request then meets
    // AuthorizationPolicy on its own.
    if (Verdict v = AuthorizeConnection(*current, attributes, component); !v.allowed) {
      stats.authz_denied.Inc();
      LogRefusal(listener, peer, destination, peer_identity,
                 v.explanation.empty() ? v.reason : absl::StrCat(v.reason, "; ", v.explanation));
      co_return;
    }
    session.admission = std::make_unique<Session::Admission>(
        Session::Admission{attributes, component, who, &stats.authz_denied, !use_tls,
                           /*connection_only=*/true});
    stats.http_cx.Inc();
    co_await http1::ServeInboundHttp(*downstream, std::move(attributes), *app, current, listener,
                                     worker, session);
    co_return;
  }
  if (Verdict v = Authorize(*current, attributes, component); !v.allowed) {
    stats.authz_denied.Inc();
    LogRefusal(listener, peer, destination, peer_identity,
               v.explanation.empty() ? v.reason : absl::StrCat(v.reason, "; ", v.explanation));
    co_return;
  }
  session.admission = std::make_unique<Session::Admission>(
      Session::Admission{std::move(attributes), component, who, &stats.authz_denied, !use_tls,
                         /*connection_only=*/false});

  absl::StatusOr<tcp::socket> upstream_socket =
      co_await ConnectUpstream(worker.io, *app, session, ToChrono(limits.connect_timeout));
  if (!upstream_socket.ok()) {
    stats.upstream_connect_failed.Inc();
    LOG_WARN(absl::StrCat("proxy.", listener.config.name),
             "app unreachable from=", net::ToString(peer),
             " peer_identity=", Quote(peer_identity.empty() ? "-" : peer_identity),
             " app=", net::ToString(*app), " reason=", Quote(upstream_socket.status().message()));
    co_return;
  }
  transport::TcpStream upstream(std::move(*upstream_socket));
  session.Establish(ToChrono(limits.idle_timeout));
  std::string error = co_await Relay(*downstream, upstream, session, stats, worker.pool);
  if (!error.empty()) {
    stats.cx_error.Inc();
    LOG_DEBUG(absl::StrCat("proxy.", listener.config.name),
              "connection ended from=", net::ToString(peer),
              " peer_identity=", Quote(peer_identity), " reason=", Quote(error));
  }
}

}  // namespace remora::proxy::inbound
