#include "proxy/http/inbound_http.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "proxy/authorize.h"
#include "proxy/http/beast_stream.h"
#include "proxy/http/request_checks.h"
#include "proxy/net/buffer_pool.h"

namespace remora::proxy::http {
namespace {

namespace beast = boost::beast;

using Request = beast_http::request<beast_http::string_body>;

// Bodies up to this size are read through the small buffer Beast keeps between messages.
constexpr uint64_t kSmallBodyBytes = 4096;

std::string LocalResponse(unsigned status, absl::string_view reason, absl::string_view body,
                          bool keep_alive) {
  return absl::StrCat("HTTP/1.1 ", status, " ", reason, "\r\ncontent-type: text/plain\r\n",
                      "content-length: ", body.size(), "\r\nserver: remora\r\n",
                      keep_alive ? "" : "connection: close\r\n", "\r\n", body);
}

bool IsParseError(const error_code& ec) {
  return ec.category() == beast_http::make_error_code(beast_http::error::bad_target).category();
}

void FillHttpAttributes(const Request::header_type& head, const std::string& path,
                        const std::string& authority, filters::RequestAttributes& r) {
  r.http.method = std::string(head.method_string());
  r.http.path = path;
  auto host = head.find(beast_http::field::host);
  r.http.host = host != head.end() ? std::string(host->value()) : authority;
  for (const auto& field : head) {
    std::string name = absl::AsciiStrToLower(
        absl::string_view(field.name_string().data(), field.name_string().size()));
    std::string value(field.value());
    auto [it, inserted] = r.http.headers.try_emplace(name, value);
    if (!inserted) absl::StrAppend(&it->second, ",", value);
  }
}

}  // namespace

awaitable<void> ServeInboundHttp(net::Stream& downstream, filters::RequestAttributes connection,
                                 tcp::endpoint app, std::shared_ptr<const Snapshot> snapshot,
                                 const ListenerRuntime& listener, WorkerResources& worker,
                                 Session& session) {
  const Limits& limits = snapshot->config().limits;
  ListenerStats& stats = *listener.stats;
  const std::string component = absl::StrCat("proxy.", listener.config.name);
  const std::string peer_id = connection.source.principal.empty()
                                  ? std::string()
                                  : absl::StrCat("spiffe://", connection.source.principal);
  const std::string own_id = snapshot->tls() ? snapshot->tls()->identity().id.str() : "";
  const std::string from = connection.source.ip ? connection.source.ip->ToString() : "?";
  BeastStream down(downstream, &session.last_activity);
  beast::flat_buffer down_buffer;
  std::unique_ptr<net::TcpStream> upstream;
  std::unique_ptr<BeastStream> up;
  beast::flat_buffer up_buffer;
  session.Establish(ToChrono(limits.idle_timeout));
  session.Track(&downstream, nullptr);

  auto reply = [&](std::string response) -> awaitable<bool> {
    auto [ec, n] = co_await asio::async_write(down, asio::buffer(response), kUseTuple);
    co_return !ec;
  };
  auto refuse_bad = [&](absl::string_view why) -> awaitable<void> {
    stats.http_bad_request.Inc();
    LOG_WARN(component, "bad request from=", from,
             " peer_identity=", Quote(peer_id.empty() ? "-" : peer_id), " reason=", Quote(why),
             " (answered 400, nothing forwarded)");
    co_await reply(
        LocalResponse(400, "Bad Request", absl::StrCat("bad request: ", why, "\n"), false));
  };

  while (true) {
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(limits.http_max_header_bytes));
    parser.body_limit(static_cast<uint64_t>(limits.http_max_body_bytes));
    auto [ec, n] = co_await beast_http::async_read_header(down, down_buffer, parser, kUseTuple);
    if (ec == beast_http::error::end_of_stream || ec == asio::error::eof) break;
    if (ec) {
      if (IsParseError(ec)) co_await refuse_bad(ec.message());
      break;
    }
    stats.http_requests.Inc();
    Request::header_type& head = parser.get().base();
    if (absl::Status s = CheckRequestHead(head); !s.ok()) {
      co_await refuse_bad(s.message());
      break;
    }
    std::string authority;
    absl::StatusOr<std::string> path =
        NormalizeTarget(absl::string_view(head.target().data(), head.target().size()), &authority);
    if (!path.ok()) {
      co_await refuse_bad(path.status().message());
      break;
    }
    const bool expects_continue = [&] {
      auto it = head.find(beast_http::field::expect);
      return it != head.end() &&
             absl::EqualsIgnoreCase(absl::string_view(it->value().data(), it->value().size()),
                                    "100-continue");
    }();

    filters::RequestAttributes request = connection;
    FillHttpAttributes(head, *path, authority, request);
    // The newest policy decides each request, also on a connection opened before it changed.
    const std::shared_ptr<const Snapshot> current =
        worker.latest != nullptr ? *worker.latest : snapshot;
    Verdict verdict = Authorize(*current, request, component);
    if (!verdict.allowed) {
      stats.http_denied.Inc();
      stats.authz_denied.Inc();
      LOG_WARN(
          component, "denied request from=", from,
          " peer_identity=", Quote(peer_id.empty() ? "-" : peer_id),
          " method=", request.http.method, " path=", Quote(*path),
          " reason=", Quote(verdict.reason),
          verdict.explanation.empty() ? "" : absl::StrCat(" explain=", Quote(verdict.explanation)));
      // The client may be holding its body back for a 100 Continue that will not come: close.
      const bool keep = !expects_continue && parser.get().keep_alive();
      if (keep && !parser.is_done()) {
        // Consume the denied request's body (bounded by the body limit) to reach the next one.
        auto [bec, bn] = co_await beast_http::async_read(down, down_buffer, parser, kUseTuple);
        if (bec) {
          co_await reply(LocalResponse(403, "Forbidden", "RBAC: access denied", false));
          break;
        }
      }
      if (!co_await reply(LocalResponse(403, "Forbidden", "RBAC: access denied", keep)) || !keep)
        break;
      continue;
    }

    if (expects_continue && !parser.is_done()) {
      if (!co_await reply("HTTP/1.1 100 Continue\r\n\r\n")) break;
    }
    // The whole body is read (and its framing checked) before anything reaches the app.
    if (!parser.is_done()) {
      // The same read room for a large request body (see the response below).
      const bool large_request =
          !parser.content_length() || *parser.content_length() > kSmallBodyBytes;
      if (large_request) down_buffer.reserve(static_cast<size_t>(limits.buffer_size));
      auto [bec, bn] = co_await beast_http::async_read(down, down_buffer, parser, kUseTuple);
      if (large_request && down_buffer.size() == 0) down_buffer.shrink_to_fit();
      if (bec == beast_http::error::body_limit) {
        stats.http_bad_request.Inc();
        co_await reply(LocalResponse(413, "Payload Too Large",
                                     absl::StrCat("request body over ", limits.http_max_body_bytes,
                                                  " bytes (limits.http_max_body_bytes)\n"),
                                     false));
        break;
      }
      if (bec) {
        if (IsParseError(bec)) co_await refuse_bad(bec.message());
        break;
      }
    }
    Request forwarded = parser.release();
    forwarded.target(*path);
    forwarded.erase(beast_http::field::expect);
    forwarded.erase("x-forwarded-client-cert");  // only the proxy vouches for the caller
    if (!peer_id.empty()) {
      forwarded.set("x-forwarded-client-cert", absl::StrCat("By=", own_id, ";URI=", peer_id));
    }
    forwarded.prepare_payload();  // a buffered body travels with Content-Length
    const bool head_request = forwarded.method() == beast_http::verb::head;

    if (upstream == nullptr) {
      absl::StatusOr<tcp::socket> socket =
          co_await ConnectUpstream(worker.io, app, session, ToChrono(limits.connect_timeout));
      session.Establish(ToChrono(limits.idle_timeout));
      if (!socket.ok()) {
        stats.upstream_connect_failed.Inc();
        LOG_WARN(component, "app unreachable app=", net::ToString(app),
                 " reason=", Quote(socket.status().message()));
        co_await reply(
            LocalResponse(503, "Service Unavailable", "upstream connect error\n", false));
        break;
      }
      upstream = std::make_unique<net::TcpStream>(std::move(*socket));
      up = std::make_unique<BeastStream>(*upstream, &session.last_activity);
      session.Track(&downstream, upstream.get());
    }
    auto [wec, wn] = co_await beast_http::async_write(*up, forwarded, kUseTuple);
    if (wec) {
      co_await reply(LocalResponse(502, "Bad Gateway", "the app closed the connection\n", false));
      break;
    }

    // The response streams back as it arrives.
    beast_http::response_parser<beast_http::buffer_body> rp;
    rp.body_limit(boost::none);
    if (head_request) rp.skip(true);
    auto [hec, hn] = co_await beast_http::async_read_header(*up, up_buffer, rp, kUseTuple);
    if (hec) {
      co_await reply(LocalResponse(502, "Bad Gateway", "the app sent no valid response\n", false));
      break;
    }
    beast_http::response<beast_http::buffer_body>& response = rp.get();
    const bool upgrade = response.result() == beast_http::status::switching_protocols;
    beast_http::serializer<false, beast_http::buffer_body> serializer{response};
    // A pooled buffer, held only while this response moves: an array here would live in the
    // coroutine frame, costing every idle keep-alive connection 16 KiB.
    net::BufferPool::Lease body = worker.pool.Acquire();
    // Beast reads into a flat_buffer at most its free capacity (512 bytes at the least); once the
    // header is consumed that stays small, and a large body would move 512 bytes per syscall
    // (measured: 4x the CPU per byte of the L4 path). A large body gets read room the size of
    // the body buffer for as long as it moves; it is given back afterwards.
    const bool large_body =
        !rp.is_done() && (!rp.content_length() || *rp.content_length() > kSmallBodyBytes);
    if (large_body) up_buffer.reserve(body.size());
    bool failed = false;
    do {
      if (!rp.is_done()) {
        response.body().data = body.data();
        response.body().size = body.size();
        auto [rec, rn] = co_await beast_http::async_read(*up, up_buffer, rp, kUseTuple);
        if (rec == beast_http::error::need_buffer) rec = {};
        if (rec) {
          failed = true;
          break;
        }
        response.body().size = body.size() - response.body().size;
        response.body().data = body.data();
        response.body().more = !rp.is_done();
      } else {
        response.body().data = nullptr;
        response.body().size = 0;
      }
      auto [sec, sn] = co_await beast_http::async_write(down, serializer, kUseTuple);
      if (sec == beast_http::error::need_buffer) sec = {};
      if (sec) {
        failed = true;
        break;
      }
    } while (!rp.is_done() && !serializer.is_done());
    body.Release();
    if (large_body && up_buffer.size() == 0) up_buffer.shrink_to_fit();
    if (failed) break;
    if (upgrade) {
      // The connection now speaks another protocol (WebSocket...): hand over buffered bytes, then
      // move raw bytes both ways under the same connection-level authorization.
      if (down_buffer.size() > 0) {
        co_await net::WriteAll(*upstream, static_cast<const char*>(down_buffer.data().data()),
                               down_buffer.size());
      }
      if (up_buffer.size() > 0) {
        co_await net::WriteAll(downstream, static_cast<const char*>(up_buffer.data().data()),
                               up_buffer.size());
      }
      co_await Relay(downstream, *upstream, session, stats, worker.pool);
      co_return;
    }
    if (!forwarded.keep_alive() || !response.keep_alive()) break;
  }
  session.Track(nullptr, nullptr);
}

}  // namespace remora::proxy::http
