#include "proxy/connection.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "proxy/transport/pump.h"

namespace remora::proxy {

using namespace boost::asio::experimental::awaitable_operators;

const char* ToString(Session::Phase phase) {
  switch (phase) {
    case Session::Phase::kSniff:
      return "protocol detection";
    case Session::Phase::kHandshake:
      return "TLS handshake";
    case Session::Phase::kConnect:
      return "upstream connect";
    case Session::Phase::kEstablished:
      return "idle";
  }
  return "?";
}

Clock::duration ToChrono(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return Clock::duration::max();
  return std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(d));
}

std::string Quote(absl::string_view text) {
  return absl::StrCat(
      "\"", absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", " "}}), "\"");
}

awaitable<absl::StatusOr<tcp::socket>> ConnectUpstream(asio::io_context& io,
                                                       const tcp::endpoint& to, Session& session,
                                                       Clock::duration timeout) {
  tcp::socket socket(io);
  if (session.upstream_source.has_value()) {
    const tcp::endpoint from(*session.upstream_source, 0);
    error_code ec;
    if (socket.open(to.protocol(), ec); !ec) socket.bind(from, ec);
    if (ec) {
      co_return absl::UnavailableError(absl::StrCat(
          "connect to ", net::ToString(to), ": bind ", net::ToString(from), ": ", ec.message(),
          ec.value() == EADDRNOTAVAIL
              ? " (remora-init adds ::6 to lo when it captures IPv6; run it with --ipv6=on)"
              : ""));
    }
  }
  session.TrackSocket(&socket);
  session.Enter(Session::Phase::kConnect, timeout);
  auto [ec] = co_await socket.async_connect(to, kUseTuple);
  session.TrackSocket(nullptr);
  if (ec) {
    std::string why = session.timed_out() ? "timed out" : ec.message();
    co_return absl::UnavailableError(absl::StrCat("connect to ", net::ToString(to), ": ", why));
  }
  co_return socket;
}

namespace {

// One direction of a relay. The first direction to fail closes both streams, so the other one
// wakes up at once instead of waiting for bytes that will never come; its error is the one kept.
awaitable<void> PumpOrAbort(transport::Stream& from, transport::Stream& to, Session& session,
                            transport::BufferPool& pool, Counter& bytes, const char* from_name,
                            const char* to_name, std::string& first_error) {
  transport::PumpResult r =
      co_await transport::Pump(from, to, pool, session.last_activity, bytes, from_name, to_name);
  if (!r.error.empty() && first_error.empty()) {
    first_error = std::move(r.error);
    session.Abort();
  }
}

}  // namespace

awaitable<std::string> Relay(transport::Stream& downstream, transport::Stream& upstream,
                             Session& session, ListenerStats& stats, transport::BufferPool& pool) {
  session.Track(&downstream, &upstream);
  std::string error;
  co_await (PumpOrAbort(downstream, upstream, session, pool, stats.bytes_from_downstream,
                        "downstream", "upstream", error) &&
            PumpOrAbort(upstream, downstream, session, pool, stats.bytes_to_downstream, "upstream",
                        "downstream", error));
  session.Track(nullptr, nullptr);
  if (session.timed_out()) error = "idle timeout";
  co_return error;
}

void LogRefusal(const ListenerRuntime& listener, const tcp::endpoint& peer,
                const std::string& destination, const std::string& identity,
                const std::string& reason) {
  listener.stats->downstream_cx_refused.Inc();
  LOG_WARN(absl::StrCat("proxy.", listener.config.name),
           "refused connection from=", net::ToString(peer), " to=", destination,
           " peer_identity=", Quote(identity.empty() ? "-" : identity), " reason=", Quote(reason));
}

}  // namespace remora::proxy
