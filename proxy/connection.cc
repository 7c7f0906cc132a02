#include "proxy/connection.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cerrno>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "proxy/transport/pump.h"

namespace remora::proxy {

using namespace boost::asio::experimental::awaitable_operators;

std::string Quote(absl::string_view text) {
  return absl::StrCat(
      "\"", absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", " "}}), "\"");
}

awaitable<absl::StatusOr<tcp::socket>> ConnectUpstream(
    asio::io_context& io, const tcp::endpoint& to, const std::optional<asio::ip::address>& source,
    Session& session, Clock::duration timeout, Session::Closable also) {
  tcp::socket socket(io);
  if (source.has_value()) {
    const tcp::endpoint from(*source, 0);
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
  error_code ec;
  {
    Session::ScopedPhase connecting(session, Session::Phase::kConnect, timeout, {&socket, also});
    std::tie(ec) = co_await socket.async_connect(to, kUseTuple);
  }
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
                            const char* to_name, absl::Status& first_error) {
  transport::PumpResult r =
      co_await transport::Pump(from, to, pool, session.last_activity, bytes, from_name, to_name);
  if (!r.status.ok() && first_error.ok()) {
    first_error = std::move(r.status);
    session.Abort();
  }
}

}  // namespace

awaitable<absl::Status> Relay(transport::Stream& downstream, transport::Stream& upstream,
                              Session& session, Clock::duration idle_timeout, ListenerStats& stats,
                              transport::BufferPool& pool) {
  Session::ScopedPhase established(session, Session::Phase::kEstablished, idle_timeout,
                                   {&downstream, &upstream});
  absl::Status error;
  co_await (PumpOrAbort(downstream, upstream, session, pool, stats.bytes_from_downstream,
                        "downstream", "upstream", error) &&
            PumpOrAbort(upstream, downstream, session, pool, stats.bytes_to_downstream, "upstream",
                        "downstream", error));
  if (session.timed_out()) error = absl::DeadlineExceededError("idle timeout");
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
