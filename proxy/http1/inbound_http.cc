#include "proxy/http1/inbound_http.h"

#include <algorithm>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "filters/request_target.h"
#include "net/endpoint.h"
#include "proxy/authorize.h"
#include "proxy/http1/beast_stream.h"
#include "proxy/http1/read_request_head.h"
#include "proxy/http1/request_checks.h"
#include "proxy/http1/request_sanitize.h"
#include "proxy/transport/buffer_pool.h"

namespace remora::proxy::http1 {
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

awaitable<void> ServeInboundHttp(transport::Stream& downstream,
                                 filters::RequestAttributes connection, tcp::endpoint app,
                                 std::shared_ptr<const Snapshot> snapshot,
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
  // Every byte held here is bounded. Unparsed bytes, per direction, wait in these buffers: a
  // request or response head (itself bounded by http_max_header_bytes), a chunk-size line with its
  // extensions, a trailer section. Beast 1.81 counts chunk lines and trailers against no limit of
  // its own, so the buffers' max_size is their bound: max(http_max_header_bytes, buffer_size), the
  // latter so a large body can still be read buffer_size bytes at a time. Bodies are bounded
  // apart: a request body by http_max_body_bytes (read whole), a response body by the pooled
  // buffer it streams through.
  const size_t header_limit = static_cast<size_t>(limits.http_max_header_bytes);
  const size_t parse_room = std::max(header_limit, static_cast<size_t>(limits.buffer_size));
  beast::flat_buffer down_buffer(parse_room);
  std::unique_ptr<transport::TcpStream> upstream;
  std::unique_ptr<BeastStream> up;
  beast::flat_buffer up_buffer(parse_room);
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
    // The raw head first: its size, its time (request_head_timeout) and obs-fold, which Beast
    // would silently join into one value.
    const HeadRead head_read = co_await ReadRequestHead(down, down_buffer, header_limit,
                                                        ToChrono(limits.request_head_timeout));
    if (head_read.outcome == HeadRead::Outcome::kClosed) break;
    if (head_read.outcome == HeadRead::Outcome::kTimedOut) {
      stats.http_request_head_timeout.Inc();
      LOG_WARN(component, "request head timeout from=", from,
               " peer_identity=", Quote(peer_id.empty() ? "-" : peer_id),
               " limit=", absl::FormatDuration(limits.request_head_timeout),
               " (answered 408, closed; limits.request_head_timeout)");
      co_await reply(LocalResponse(408, "Request Timeout", "request head timeout\n", false));
      break;
    }
    if (head_read.outcome == HeadRead::Outcome::kRefused) {
      co_await refuse_bad(head_read.refusal.message());
      break;
    }
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(header_limit));
    parser.body_limit(static_cast<uint64_t>(limits.http_max_body_bytes));
    // The whole head is buffered: this parses it without reading.
    auto [ec, n] = co_await beast_http::async_read_header(down, down_buffer, parser, kUseTuple);
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
    absl::StatusOr<std::string> path = filters::NormalizeTarget(
        absl::string_view(head.target().data(), head.target().size()), &authority);
    if (!path.ok()) {
      co_await refuse_bad(path.status().message());
      break;
    }
    // The policy sees what the app will see: no forged x-forwarded-client-cert, no h2c offer.
    SanitizeRequestHead(head);
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
    const size_t fields_before_body = FieldCount(head);
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
      if (bec == beast_http::error::buffer_overflow) {
        co_await refuse_bad(absl::StrCat(
            "a chunk-size line (with its extensions) or the trailer section is over ", parse_room,
            " bytes (limits.http_max_header_bytes, or buffer_size if larger)"));
        break;
      }
      if (bec) {
        if (IsParseError(bec)) co_await refuse_bad(bec.message());
        break;
      }
    }
    if (absl::Status s = CheckNoTrailerFields(fields_before_body, parser.get()); !s.ok()) {
      co_await refuse_bad(s.message());
      break;
    }
    Request forwarded = parser.release();
    forwarded.target(*path);
    forwarded.erase(beast_http::field::expect);
    // Only the proxy vouches for the caller (every client spelling was removed above).
    if (!peer_id.empty()) {
      forwarded.set("x-forwarded-client-cert", absl::StrCat("By=", own_id, ";URI=", peer_id));
    }
    forwarded.prepare_payload();  // a buffered body travels with Content-Length
    const bool head_request = forwarded.method() == beast_http::verb::head;
    // A 101 is accepted only for a request that asked to upgrade (WebSocket); h2c never gets here.
    const bool asked_upgrade = forwarded.count(beast_http::field::upgrade) > 0;

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
      upstream = std::make_unique<transport::TcpStream>(std::move(*socket));
      up = std::make_unique<BeastStream>(*upstream, &session.last_activity);
      session.Track(&downstream, upstream.get());
    }
    auto [wec, wn] = co_await beast_http::async_write(*up, forwarded, kUseTuple);
    if (wec) {
      co_await reply(LocalResponse(502, "Bad Gateway", "the app closed the connection\n", false));
      break;
    }

    // The response streams back as it arrives.
    auto bad_response = [&](absl::string_view why) {
      stats.http_bad_response.Inc();
      LOG_WARN(component, "bad response from app=", net::ToString(app), " reason=", Quote(why),
               " (connection closed)");
    };
    beast_http::response_parser<beast_http::buffer_body> rp;
    rp.header_limit(static_cast<uint32_t>(header_limit));
    rp.body_limit(boost::none);
    if (head_request) rp.skip(true);
    auto [hec, hn] = co_await beast_http::async_read_header(*up, up_buffer, rp, kUseTuple);
    if (hec) {
      bad_response(absl::StrCat("response head: ", hec.message()));
      co_await reply(LocalResponse(502, "Bad Gateway", "the app sent no valid response\n", false));
      break;
    }
    beast_http::response<beast_http::buffer_body>& response = rp.get();
    const bool upgrade = response.result() == beast_http::status::switching_protocols;
    if (upgrade && !asked_upgrade) {
      bad_response("101 Switching Protocols to a request that did not ask to upgrade");
      co_await reply(
          LocalResponse(502, "Bad Gateway", "the app switched protocols unasked\n", false));
      break;
    }
    beast_http::serializer<false, beast_http::buffer_body> serializer{response};
    // A pooled buffer, held only while this response moves: an array here would live in the
    // coroutine frame, costing every idle keep-alive connection 16 KiB.
    transport::BufferPool::Lease body = worker.pool.Acquire();
    // Beast reads into a flat_buffer at most its free capacity (512 bytes at the least); once the
    // header is consumed that stays small, and a large body would move 512 bytes per syscall
    // (measured: 4x the CPU per byte of the L4 path). A large body gets read room the size of
    // the body buffer for as long as it moves; it is given back afterwards.
    const bool large_body =
        !rp.is_done() && (!rp.content_length() || *rp.content_length() > kSmallBodyBytes);
    if (large_body) up_buffer.reserve(std::min(body.size(), up_buffer.max_size()));
    bool failed = false;
    do {
      if (!rp.is_done()) {
        response.body().data = body.data();
        response.body().size = body.size();
        auto [rec, rn] = co_await beast_http::async_read(*up, up_buffer, rp, kUseTuple);
        if (rec == beast_http::error::need_buffer) rec = {};
        if (rec) {
          // Cut off mid-body, malformed, or a chunk line/trailer over the buffer's bound.
          bad_response(absl::StrCat("response body: ", rec.message()));
          if (!serializer.is_header_done()) {
            co_await reply(
                LocalResponse(502, "Bad Gateway", "the app sent no valid response\n", false));
          }
          failed = true;
          break;
        }
        response.body().size = body.size() - response.body().size;
        response.body().data = body.data();
        response.body().more = !rp.is_done();
      } else {
        // No body (204, 304, 101, HEAD, Content-Length: 0) or its end: `more` must say so, or
        // the serializer waits for a buffer and writes nothing, not even the head.
        response.body().data = nullptr;
        response.body().size = 0;
        response.body().more = false;
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
        co_await transport::WriteAll(*upstream, static_cast<const char*>(down_buffer.data().data()),
                                     down_buffer.size());
      }
      if (up_buffer.size() > 0) {
        co_await transport::WriteAll(downstream, static_cast<const char*>(up_buffer.data().data()),
                                     up_buffer.size());
      }
      co_await Relay(downstream, *upstream, session, stats, worker.pool);
      co_return;
    }
    if (!forwarded.keep_alive() || !response.keep_alive()) break;
  }
  session.Track(nullptr, nullptr);
}

}  // namespace remora::proxy::http1
