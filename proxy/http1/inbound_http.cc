#include "proxy/http1/inbound_http.h"

#include <algorithm>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "proxy/filter/chains.h"
#include "proxy/http1/beast_stream.h"
#include "proxy/http1/lingering_close.h"
#include "proxy/http1/local_reply.h"
#include "proxy/http1/read_request_head.h"
#include "proxy/http1/request_checks.h"
#include "proxy/http1/request_head_filter.h"
#include "proxy/transport/buffer_pool.h"

namespace remora::proxy::http1 {
namespace {

namespace beast = boost::beast;

using Request = beast_http::request<beast_http::string_body>;
using RequestParser = beast_http::request_parser<beast_http::string_body>;
using filter::FilterResult;
using filter::LocalReply;

// Bodies up to this size are read through the small buffer Beast keeps between messages.
constexpr uint64_t kSmallBodyBytes = 4096;

// How long and how much a connection closed after a local reply keeps reading what the client
// still sends (LingeringClose): Envoy's delayed_close_timeout default, and a bound on the bytes.
constexpr Clock::duration kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerBytes = 256 * 1024;

bool IsParseError(const error_code& ec) {
  return ec.category() == beast_http::make_error_code(beast_http::error::bad_target).category();
}

bool ExpectsContinue(const Request::header_type& head) {
  auto it = head.find(beast_http::field::expect);
  return it != head.end() &&
         absl::EqualsIgnoreCase(absl::string_view(it->value().data(), it->value().size()),
                                "100-continue");
}

// One HTTP/1.1 connection: a loop of requests, each in four steps (read the head, run the
// filters, read the body, forward and stream the response back). It lives on ServeInboundHttp's
// frame; each step is a member coroutine, so per-request state lives only while a request does.
class Http1Connection {
 public:
  Http1Connection(transport::Stream& downstream, filter::ConnectionContext& connection,
                  std::optional<asio::ip::address> upstream_source,
                  std::shared_ptr<const Snapshot> snapshot, WorkerResources& worker,
                  Session& session)
      : downstream_(downstream),
        connection_(connection),
        admitted_attributes_(connection.attributes),
        stats_(connection.stats),
        upstream_source_(upstream_source),
        snapshot_(std::move(snapshot)),
        limits_(snapshot_->config().limits),
        worker_(worker),
        session_(session),
        header_limit_(static_cast<size_t>(limits_.http_max_header_bytes)),
        parse_room_(std::max(header_limit_, static_cast<size_t>(limits_.buffer_size))),
        down_(downstream, &session.last_activity),
        down_buffer_(parse_room_),
        up_buffer_(parse_room_) {}

  awaitable<void> Serve();

 private:
  enum class Next { kRequest, kClose };

  awaitable<Next> ServeRequest();
  awaitable<bool> ReadHead(RequestParser& parser);
  awaitable<Next> AnswerLocally(RequestParser& parser, const FilterResult& result,
                                bool expects_continue);
  awaitable<bool> ReadBody(RequestParser& parser, bool expects_continue);
  Request PrepareForwarded(RequestParser& parser, const std::string& path);
  awaitable<Next> Forward(Request forwarded, const filter::HttpRequest& request,
                          std::span<filter::HttpFilter* const> filters);
  awaitable<bool> ConnectApp();
  awaitable<Next> StreamResponse(beast_http::response_parser<beast_http::buffer_body>& rp);
  awaitable<void> Upgrade();

  awaitable<bool> Write(std::string bytes) {
    auto [ec, n] = co_await asio::async_write(down_, asio::buffer(bytes), kUseTuple);
    co_return !ec;
  }
  // Callers pass no braced temporaries into these: with GCC 12, `co_await Reply(LocalReply{...})`
  // inside a switch case corrupted the heap (munmap_chunk: invalid pointer) once the reply was
  // written; GCC's coroutines have known bugs with temporaries of co_await expressions.
  awaitable<bool> Reply(const LocalReply& reply, bool keep_alive) {
    if (!keep_alive) linger_ = true;
    std::string bytes = LocalResponse(reply, keep_alive);
    co_return co_await Write(std::move(bytes));
  }
  awaitable<bool> Reply(unsigned status, absl::string_view reason, absl::string_view body,
                        bool keep_alive) {
    LocalReply reply;
    reply.status = status;
    reply.reason = std::string(reason);
    reply.body = std::string(body);
    co_return co_await Reply(reply, keep_alive);
  }
  awaitable<void> RefuseBad(absl::string_view why) {
    const FilterResult refused = BadRequest(connection_, why);
    co_await Reply(refused.reply(), /*keep_alive=*/false);
  }
  void BadResponse(absl::string_view why) {
    stats_.http_bad_response.Inc();
    LOG_WARN(connection_.component,
             "bad response from app=", net::ToString(connection_.destination),
             " reason=", Quote(why), " (connection closed)");
  }

  transport::Stream& downstream_;
  filter::ConnectionContext& connection_;
  // What each request starts from: the connection's attributes as admitted. A configuration
  // change refreshes the context's own copy (this workload's namespace and labels) for the
  // connection-level re-check; requests keep the admission-time view, as they always have.
  // TODO(issue 11): decide whether requests should see the refreshed workload attributes too.
  const filters::RequestAttributes admitted_attributes_;
  ListenerStats& stats_;
  const std::optional<asio::ip::address> upstream_source_;
  const std::shared_ptr<const Snapshot> snapshot_;
  const Limits& limits_;
  WorkerResources& worker_;
  Session& session_;
  // Every byte held here is bounded. Unparsed bytes, per direction, wait in these buffers: a
  // request or response head (itself bounded by http_max_header_bytes), a chunk-size line with its
  // extensions, a trailer section. Beast 1.81 counts chunk lines and trailers against no limit of
  // its own, so the buffers' max_size is their bound: max(http_max_header_bytes, buffer_size), the
  // latter so a large body can still be read buffer_size bytes at a time. Bodies are bounded
  // apart: a request body by http_max_body_bytes (read whole), a response body by the pooled
  // buffer it streams through.
  const size_t header_limit_;
  const size_t parse_room_;
  BeastStream down_;
  beast::flat_buffer down_buffer_;
  std::unique_ptr<transport::TcpStream> upstream_;  // connected at the first allowed request
  std::unique_ptr<BeastStream> up_;
  beast::flat_buffer up_buffer_;
  Session::ScopedPhase* idle_ = nullptr;  // the connection's established phase
  bool linger_ = false;                   // a local reply closes the connection: close it in stages
};

awaitable<void> Http1Connection::Serve() {
  Session::ScopedPhase idle(session_, Session::Phase::kEstablished, ToChrono(limits_.idle_timeout),
                            {&downstream_});
  idle_ = &idle;
  while (co_await ServeRequest() == Next::kRequest) {
  }
  if (linger_ && !session_.timed_out()) co_await LingeringClose(down_, kLingerTime, kLingerBytes);
}

awaitable<Http1Connection::Next> Http1Connection::ServeRequest() {
  RequestParser parser;
  parser.header_limit(static_cast<uint32_t>(header_limit_));
  parser.body_limit(static_cast<uint64_t>(limits_.http_max_body_bytes));
  if (!co_await ReadHead(parser)) co_return Next::kClose;

  // The filters, with the newest policy: it decides each request, also on a connection opened
  // before it changed.
  Request::header_type& head = parser.get().base();
  RequestHeadChecks checks(head);
  const filter::HttpFilterChain filters = worker_.filters->inbound_http(checks);
  filter::HttpRequest request{admitted_attributes_};
  const std::shared_ptr<const Snapshot> current =
      worker_.latest != nullptr ? *worker_.latest : snapshot_;
  const FilterResult decided = filter::RunOnRequestHead(filters, connection_, request, *current);
  const bool expects_continue = ExpectsContinue(head);
  if (!decided.proceeds()) co_return co_await AnswerLocally(parser, decided, expects_continue);

  if (!co_await ReadBody(parser, expects_continue)) co_return Next::kClose;
  Request forwarded = PrepareForwarded(parser, request.attributes.http.path);
  co_return co_await Forward(std::move(forwarded), request, filters);
}

// The raw head first: its size, its time (request_head_timeout) and obs-fold, which Beast would
// silently join into one value. Then Beast parses it from the buffer without reading. False: the
// connection is over (answered, refused or gone).
awaitable<bool> Http1Connection::ReadHead(RequestParser& parser) {
  const HeadRead head_read = co_await ReadRequestHead(down_, down_buffer_, header_limit_,
                                                      ToChrono(limits_.request_head_timeout));
  if (head_read.outcome == HeadRead::Outcome::kClosed) co_return false;
  if (head_read.outcome == HeadRead::Outcome::kTimedOut) {
    stats_.http_request_head_timeout.Inc();
    LOG_WARN(connection_.component, "request head timeout from=", From(connection_),
             " peer_identity=", Quote(connection_.IdentityForLog()),
             " limit=", absl::FormatDuration(limits_.request_head_timeout),
             " (answered 408, closed; limits.request_head_timeout)");
    co_await Reply(408, "Request Timeout", "request head timeout\n", false);
    co_return false;
  }
  if (head_read.outcome == HeadRead::Outcome::kRefused) {
    co_await RefuseBad(head_read.refusal.message());
    co_return false;
  }
  auto [ec, n] = co_await beast_http::async_read_header(down_, down_buffer_, parser, kUseTuple);
  if (ec) {
    if (IsParseError(ec)) co_await RefuseBad(ec.message());
    co_return false;
  }
  co_return true;
}

// A filter answered the request (or stopped the connection). A reply that keeps the connection
// first consumes the request's body (bounded by the body limit) to reach the next request; a
// client holding its body back for a 100 Continue that will not come is closed instead.
awaitable<Http1Connection::Next> Http1Connection::AnswerLocally(RequestParser& parser,
                                                                const FilterResult& result,
                                                                bool expects_continue) {
  if (result.kind() != FilterResult::Kind::kLocalReply) co_return Next::kClose;
  const LocalReply& reply = result.reply();
  const bool keep = !reply.close && !expects_continue && parser.get().keep_alive();
  if (keep && !parser.is_done()) {
    auto [ec, n] = co_await beast_http::async_read(down_, down_buffer_, parser, kUseTuple);
    if (ec) {
      co_await Reply(reply, false);
      co_return Next::kClose;
    }
  }
  if (!co_await Reply(reply, keep) || !keep) co_return Next::kClose;
  co_return Next::kRequest;
}

// The whole body is read (and its framing checked) before anything reaches the app. False: the
// request was refused (answered) or the connection is gone.
awaitable<bool> Http1Connection::ReadBody(RequestParser& parser, bool expects_continue) {
  if (expects_continue && !parser.is_done()) {
    if (!co_await Write("HTTP/1.1 100 Continue\r\n\r\n")) co_return false;
  }
  const size_t fields_before_body = FieldCount(parser.get().base());
  if (!parser.is_done()) {
    // The same read room for a large request body (see StreamResponse).
    const bool large_request =
        !parser.content_length() || *parser.content_length() > kSmallBodyBytes;
    if (large_request) down_buffer_.reserve(static_cast<size_t>(limits_.buffer_size));
    auto [ec, n] = co_await beast_http::async_read(down_, down_buffer_, parser, kUseTuple);
    if (large_request && down_buffer_.size() == 0) down_buffer_.shrink_to_fit();
    if (ec == beast_http::error::body_limit) {
      stats_.http_bad_request.Inc();
      co_await Reply(413, "Payload Too Large",
                     absl::StrCat("request body over ", limits_.http_max_body_bytes,
                                  " bytes (limits.http_max_body_bytes)\n"),
                     false);
      co_return false;
    }
    if (ec == beast_http::error::buffer_overflow) {
      co_await RefuseBad(absl::StrCat(
          "a chunk-size line (with its extensions) or the trailer section is over ", parse_room_,
          " bytes (limits.http_max_header_bytes, or buffer_size if larger)"));
      co_return false;
    }
    if (ec) {
      if (IsParseError(ec)) co_await RefuseBad(ec.message());
      co_return false;
    }
  }
  if (absl::Status s = CheckNoTrailerFields(fields_before_body, parser.get()); !s.ok()) {
    co_await RefuseBad(s.message());
    co_return false;
  }
  co_return true;
}

// The request as the app gets it: the normalized path, no Expect (the proxy answered it), the
// caller's identity as only the proxy vouches for it (every client spelling was removed by
// RequestHeadChecks), and a buffered body with Content-Length.
Request Http1Connection::PrepareForwarded(RequestParser& parser, const std::string& path) {
  Request forwarded = parser.release();
  forwarded.target(path);
  forwarded.erase(beast_http::field::expect);
  if (connection_.peer_identity.has_value()) {
    const std::string own_id = snapshot_->tls() ? snapshot_->tls()->identity().id.str() : "";
    forwarded.set("x-forwarded-client-cert",
                  absl::StrCat("By=", own_id, ";URI=", connection_.peer_identity->str()));
  }
  forwarded.prepare_payload();
  return forwarded;
}

// Connects to the app at the first forwarded request. False: unreachable (answered 503).
awaitable<bool> Http1Connection::ConnectApp() {
  const tcp::endpoint& app = connection_.destination;
  absl::StatusOr<tcp::socket> socket = co_await ConnectUpstream(
      worker_.io, app, upstream_source_, session_, ToChrono(limits_.connect_timeout));
  if (!socket.ok()) {
    stats_.upstream_connect_failed.Inc();
    LOG_WARN(connection_.component, "app unreachable app=", net::ToString(app),
             " reason=", Quote(socket.status().message()));
    co_await Reply(503, "Service Unavailable", "upstream connect error\n", false);
    co_return false;
  }
  upstream_ = std::make_unique<transport::TcpStream>(std::move(*socket));
  up_ = std::make_unique<BeastStream>(*upstream_, &session_.last_activity);
  idle_->Watch(upstream_.get());
  co_return true;
}

awaitable<Http1Connection::Next> Http1Connection::Forward(
    Request forwarded, const filter::HttpRequest& request,
    std::span<filter::HttpFilter* const> filters) {
  const bool head_request = forwarded.method() == beast_http::verb::head;
  // A 101 is accepted only for a request that asked to upgrade (WebSocket); h2c never gets here.
  const bool asked_upgrade = forwarded.count(beast_http::field::upgrade) > 0;
  if (upstream_ == nullptr && !co_await ConnectApp()) co_return Next::kClose;
  auto [wec, wn] = co_await beast_http::async_write(*up_, forwarded, kUseTuple);
  if (wec) {
    co_await Reply(502, "Bad Gateway", "the app closed the connection\n", false);
    co_return Next::kClose;
  }

  beast_http::response_parser<beast_http::buffer_body> rp;
  rp.header_limit(static_cast<uint32_t>(header_limit_));
  rp.body_limit(boost::none);
  if (head_request) rp.skip(true);
  auto [hec, hn] = co_await beast_http::async_read_header(*up_, up_buffer_, rp, kUseTuple);
  if (hec) {
    BadResponse(absl::StrCat("response head: ", hec.message()));
    co_await Reply(502, "Bad Gateway", "the app sent no valid response\n", false);
    co_return Next::kClose;
  }
  const bool upgrade = rp.get().result() == beast_http::status::switching_protocols;
  if (upgrade && !asked_upgrade) {
    BadResponse("101 Switching Protocols to a request that did not ask to upgrade");
    co_await Reply(502, "Bad Gateway", "the app switched protocols unasked\n", false);
    co_return Next::kClose;
  }
  filter::HttpResponse response_head;
  response_head.status = rp.get().result_int();
  const FilterResult answered =
      filter::RunOnResponseHead(filters, connection_, request, response_head);
  if (!answered.proceeds()) {
    if (answered.kind() == FilterResult::Kind::kLocalReply) {
      co_await Reply(answered.reply(), false);
    }
    co_return Next::kClose;
  }

  if (co_await StreamResponse(rp) == Next::kClose) co_return Next::kClose;
  if (upgrade) {
    co_await Upgrade();
    co_return Next::kClose;
  }
  co_return forwarded.keep_alive() && rp.get().keep_alive() ? Next::kRequest : Next::kClose;
}

// The response streams back as it arrives, through a pooled buffer held only while it moves: an
// array here would live in a coroutine frame, costing every idle keep-alive connection 16 KiB.
awaitable<Http1Connection::Next> Http1Connection::StreamResponse(
    beast_http::response_parser<beast_http::buffer_body>& rp) {
  beast_http::response<beast_http::buffer_body>& response = rp.get();
  beast_http::serializer<false, beast_http::buffer_body> serializer{response};
  transport::BufferPool::Lease body = worker_.pool.Acquire();
  // Beast reads into a flat_buffer at most its free capacity (512 bytes at the least); once the
  // header is consumed that stays small, and a large body would move 512 bytes per syscall
  // (measured: 4x the CPU per byte of the L4 path). A large body gets read room the size of
  // the body buffer for as long as it moves; it is given back afterwards.
  const bool large_body =
      !rp.is_done() && (!rp.content_length() || *rp.content_length() > kSmallBodyBytes);
  if (large_body) up_buffer_.reserve(std::min(body.size(), up_buffer_.max_size()));
  bool failed = false;
  do {
    if (!rp.is_done()) {
      response.body().data = body.data();
      response.body().size = body.size();
      auto [rec, rn] = co_await beast_http::async_read(*up_, up_buffer_, rp, kUseTuple);
      if (rec == beast_http::error::need_buffer) rec = {};
      if (rec) {
        // Cut off mid-body, malformed, or a chunk line/trailer over the buffer's bound.
        BadResponse(absl::StrCat("response body: ", rec.message()));
        if (!serializer.is_header_done()) {
          co_await Reply(502, "Bad Gateway", "the app sent no valid response\n", false);
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
    auto [sec, sn] = co_await beast_http::async_write(down_, serializer, kUseTuple);
    if (sec == beast_http::error::need_buffer) sec = {};
    if (sec) {
      failed = true;
      break;
    }
  } while (!rp.is_done() && !serializer.is_done());
  body.Release();
  if (large_body && up_buffer_.size() == 0) up_buffer_.shrink_to_fit();
  co_return failed ? Next::kClose : Next::kRequest;
}

// The connection now speaks another protocol (WebSocket...): hand over buffered bytes, then move
// raw bytes both ways under the same connection-level authorization.
awaitable<void> Http1Connection::Upgrade() {
  if (down_buffer_.size() > 0) {
    co_await transport::WriteAll(*upstream_, static_cast<const char*>(down_buffer_.data().data()),
                                 down_buffer_.size());
  }
  if (up_buffer_.size() > 0) {
    co_await transport::WriteAll(downstream_, static_cast<const char*>(up_buffer_.data().data()),
                                 up_buffer_.size());
  }
  co_await Relay(downstream_, *upstream_, session_, ToChrono(limits_.idle_timeout), stats_,
                 worker_.pool);
}

}  // namespace

awaitable<void> ServeInboundHttp(transport::Stream& downstream,
                                 filter::ConnectionContext& connection,
                                 std::optional<asio::ip::address> upstream_source,
                                 std::shared_ptr<const Snapshot> snapshot, WorkerResources& worker,
                                 Session& session) {
  Http1Connection http(downstream, connection, upstream_source, std::move(snapshot), worker,
                       session);
  co_await http.Serve();
}

}  // namespace remora::proxy::http1
