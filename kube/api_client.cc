#include "kube/api_client.h"

#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kube/api_status.h"

namespace remora::kube {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using Json = nlohmann::json;

constexpr size_t kMaxHeaderBytes = 64 * 1024;
// The read buffer: headers and chunk framing pass through it, bodies go to the parser's sink.
constexpr size_t kMaxReadBuffer = 1 << 20;
// The longest a watch without timeoutSeconds may stay open (kube-apiserver ends its own between
// --min-request-timeout and twice that: 30-60 minutes by default).
constexpr absl::Duration kUnboundedWatch = absl::Hours(2);

std::string Dump(const Json& value) {
  // Invalid UTF-8 in a string must not throw (nlohmann's default): replace it.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool Idempotent(http::verb verb) {
  // RFC 9110 9.2.2. An update (PUT) carries the resourceVersion it replaces: replaying it is
  // refused with a Conflict rather than applied twice.
  return verb == http::verb::get || verb == http::verb::head || verb == http::verb::put ||
         verb == http::verb::delete_;
}

// A transport failure of `verb path` in words.
absl::Status TransportError(absl::string_view verb, absl::string_view path, error_code ec,
                            absl::Duration timeout, size_t limit) {
  const std::string what = absl::StrCat(verb, " ", path, ": ");
  if (ec == http::error::body_limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, "the answer is larger than the limit of ", limit,
                     " bytes (for a list: ask for smaller pages)"));
  }
  if (ec == http::error::header_limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, "the answer's headers are larger than ", kMaxHeaderBytes, " bytes"));
  }
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, "no complete answer within ", absl::FormatDuration(timeout)));
  }
  if (ec == asio::error::operation_aborted) {
    return absl::CancelledError(absl::StrCat(what, "cancelled"));
  }
  return absl::UnavailableError(absl::StrCat(what, ec.message()));
}

// Whether the awaiting coroutine was cancelled (informer Stop). An operation in flight sees the
// cancellation itself; this catches one that came between two operations.
awaitable<bool> CancelRequested() {
  asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

std::string ContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

std::string MetaString(const Json& object, const char* key) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto it = meta->find(key);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

absl::StatusOr<std::shared_ptr<ApiClient>> ApiClient::New(asio::any_io_executor executor,
                                                          ClusterConfig config,
                                                          ApiClientOptions options) {
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> tls = MakeClientTlsContext(config);
  if (!tls.ok()) return tls.status();
  return std::shared_ptr<ApiClient>(
      new ApiClient(std::move(executor), std::move(config), std::move(options), std::move(*tls)));
}

ApiClient::ApiClient(asio::any_io_executor executor, ClusterConfig config, ApiClientOptions options,
                     std::shared_ptr<asio::ssl::context> tls)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      options_(std::move(options)),
      tls_(std::move(tls)) {}

ApiClient::~ApiClient() = default;

size_t ApiClient::idle_connections() const {
  absl::MutexLock lock(&mu_);
  return idle_.size();
}

std::string ApiClient::Target(const std::string& path, const std::string& query) const {
  return query.empty() ? absl::StrCat(config_.server.base_path, path)
                       : absl::StrCat(config_.server.base_path, path, "?", query);
}

void ApiClient::SetCommonHeaders(http::fields& fields) {
  fields.set(http::field::host, config_.server.HostPort());
  fields.set(http::field::user_agent, options_.user_agent);
  fields.set(http::field::accept, "application/json");
  if (config_.token) {
    fields.set(http::field::authorization, absl::StrCat("Bearer ", config_.token->Token()));
  }
}

awaitable<absl::StatusOr<ApiClient::Lease>> ApiClient::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    while (!idle_.empty()) {
      Idle idle = std::move(idle_.back());
      idle_.pop_back();
      if (now - idle.since < options_.idle_timeout && IdleConnectionAlive(*idle.stream)) {
        co_return Lease{std::move(idle.stream), true};
      }
    }
  }
  absl::StatusOr<std::unique_ptr<TlsStream>> stream =
      co_await ConnectTls(executor_, *tls_, config_, options_.connect);
  if (!stream.ok()) co_return stream.status();
  co_return Lease{std::move(*stream), false};
}

void ApiClient::Release(std::unique_ptr<TlsStream> stream) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() < options_.max_idle_connections) {
    idle_.push_back(Idle{std::move(stream), absl::Now()});
  }
}

awaitable<absl::StatusOr<Json>> ApiClient::Call(http::verb verb, std::string path,
                                                std::string query, std::optional<std::string> body,
                                                std::string content_type, RequestOptions request) {
  std::shared_ptr<ApiClient> self = shared_from_this();  // alive until this call completes
  const std::string verb_name(http::to_string(verb));
  const absl::Duration timeout =
      request.timeout > absl::ZeroDuration() ? request.timeout : options_.request_timeout;
  const size_t limit =
      request.max_response_bytes > 0 ? request.max_response_bytes : options_.max_response_bytes;
  for (int attempt = 0;; ++attempt) {
    if (co_await CancelRequested()) co_return absl::CancelledError(verb_name + " " + path);
    absl::StatusOr<Lease> lease = co_await Acquire();
    if (!lease.ok()) co_return lease.status();
    http::request<http::string_body> req(verb, Target(path, query), 11);
    SetCommonHeaders(req);
    if (body) {
      req.set(http::field::content_type, content_type);
      req.body() = *body;
      req.prepare_payload();
    }
    TlsStream& stream = *lease->stream;
    beast::get_lowest_layer(stream).expires_after(absl::ToChronoNanoseconds(timeout));
    auto [wec, written] = co_await http::async_write(stream, req, kUseTuple);
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(limit);
    beast::flat_buffer buffer(kMaxReadBuffer);
    error_code ec = wec;
    if (!ec) {
      auto [rec, read] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      ec = rec;
    }
    if (ec) {
      // A kept-alive connection the server closed while idle fails before any byte of answer:
      // replay once on a new connection when that is safe (Go's net/http does the same).
      const bool stale = lease->reused && !parser.got_some() && ec != beast::error::timeout &&
                         ec != asio::error::operation_aborted;
      if (stale && attempt == 0 && (Idempotent(verb) || wec)) continue;
      co_return TransportError(verb_name, path, ec, timeout, limit);
    }
    beast::get_lowest_layer(stream).expires_never();
    http::response<http::string_body>& res = parser.get();
    const int status = res.result_int();
    if (status == 401 && config_.token) config_.token->Invalidate();
    std::string retry_after(res[http::field::retry_after]);
    if (res.keep_alive() && buffer.size() == 0) Release(std::move(lease->stream));
    co_return ParseApiResponse(verb_name, path, status, retry_after, res.body());
  }
}

awaitable<absl::StatusOr<Json>> ApiClient::Get(ResourceType type, std::string ns, std::string name,
                                               RequestOptions request) {
  co_return co_await Call(http::verb::get, type.ObjectPath(ns, name), "", std::nullopt, "",
                          request);
}

awaitable<absl::StatusOr<Json>> ApiClient::List(ResourceType type, std::string ns,
                                                ListOptions options, RequestOptions request) {
  co_return co_await Call(http::verb::get, type.CollectionPath(ns), options.Query(), std::nullopt,
                          "", request);
}

awaitable<absl::StatusOr<Json>> ApiClient::Create(ResourceType type, std::string ns, Json object,
                                                  RequestOptions request) {
  co_return co_await Call(http::verb::post, type.CollectionPath(ns), "", Dump(object),
                          "application/json", request);
}

awaitable<absl::StatusOr<Json>> ApiClient::Update(ResourceType type, Json object,
                                                  RequestOptions request) {
  const std::string name = MetaString(object, "name");
  const std::string ns = MetaString(object, "namespace");
  if (name.empty() || (type.namespaced && ns.empty())) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("update ", type.Name(), ": the object has no metadata.name",
                     type.namespaced ? " or metadata.namespace" : ""));
  }
  co_return co_await Call(http::verb::put, type.ObjectPath(ns, name), "", Dump(object),
                          "application/json", request);
}

awaitable<absl::StatusOr<Json>> ApiClient::Patch(ResourceType type, std::string ns,
                                                 std::string name, PatchType patch_type, Json patch,
                                                 RequestOptions request) {
  co_return co_await Call(http::verb::patch, type.ObjectPath(ns, name), "", Dump(patch),
                          ContentType(patch_type), request);
}

awaitable<absl::StatusOr<Json>> ApiClient::Delete(ResourceType type, std::string ns,
                                                  std::string name, DeleteOptions options,
                                                  RequestOptions request) {
  std::optional<std::string> body;
  if (!options.precondition_uid.empty() || !options.precondition_resource_version.empty() ||
      !options.propagation_policy.empty()) {
    Json delete_options = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (!options.precondition_uid.empty()) {
      delete_options["preconditions"]["uid"] = options.precondition_uid;
    }
    if (!options.precondition_resource_version.empty()) {
      delete_options["preconditions"]["resourceVersion"] = options.precondition_resource_version;
    }
    if (!options.propagation_policy.empty()) {
      delete_options["propagationPolicy"] = options.propagation_policy;
    }
    body = Dump(delete_options);
  }
  co_return co_await Call(http::verb::delete_, type.ObjectPath(ns, name), "", std::move(body),
                          "application/json", request);
}

awaitable<absl::Status> ApiClient::Watch(ResourceType type, std::string ns, WatchOptions options,
                                         WatchHandler handler) {
  std::shared_ptr<ApiClient> self = shared_from_this();
  const std::string path = type.CollectionPath(ns);
  const std::string what = absl::StrCat("watch ", path);
  const absl::Duration deadline =
      options.timeout_seconds > 0 ? absl::Seconds(options.timeout_seconds) + options_.watch_grace
                                  : kUnboundedWatch;
  for (int attempt = 0;; ++attempt) {
    if (co_await CancelRequested()) co_return absl::CancelledError(what);
    absl::StatusOr<Lease> lease = co_await Acquire();
    if (!lease.ok()) co_return lease.status();
    TlsStream& stream = *lease->stream;
    http::request<http::empty_body> req(http::verb::get, Target(path, options.Query()), 11);
    SetCommonHeaders(req);
    beast::get_lowest_layer(stream).expires_after(
        absl::ToChronoNanoseconds(options_.request_timeout));
    auto [wec, written] = co_await http::async_write(stream, req, kUseTuple);
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(options_.max_response_bytes);
    beast::flat_buffer buffer(kMaxReadBuffer);
    error_code ec = wec;
    if (!ec) {
      auto [hec, read] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
      ec = hec;
    }
    if (ec) {
      const bool stale = lease->reused && !parser.got_some() && ec != beast::error::timeout &&
                         ec != asio::error::operation_aborted;
      if (stale && attempt == 0) continue;
      co_return TransportError("watch", path, ec, options_.request_timeout,
                               options_.max_response_bytes);
    }
    const int status = parser.get().result_int();
    if (status != 200) {
      // The request itself was refused (401, 403, 404, 429, 5xx...): read the Status it carries.
      auto [bec, read] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      if (bec) {
        co_return TransportError("watch", path, bec, options_.request_timeout,
                                 options_.max_response_bytes);
      }
      if (status == 401 && config_.token) config_.token->Invalidate();
      absl::StatusOr<Json> answer = ParseApiResponse(
          "watch", path, status, std::string(parser.get()[http::field::retry_after]),
          parser.get().body());
      co_return answer.ok()
          ? absl::UnknownError(absl::StrCat(what, ": unexpected answer ", status, " to a watch"))
          : answer.status();
    }

    // The stream: events arrive as chunk data, reassembled into lines.
    beast::get_lowest_layer(stream).expires_after(absl::ToChronoNanoseconds(deadline));
    JsonLineBuffer lines(options_.max_event_bytes);
    absl::Status framing;
    auto on_chunk = [&](std::uint64_t, beast::string_view data, error_code& chunk_ec) {
      framing = lines.Append(absl::string_view(data.data(), data.size()));
      if (!framing.ok()) chunk_ec = http::error::body_limit;
      return data.size();
    };
    if (parser.chunked()) {
      parser.body_limit(boost::none);  // the stream is unbounded; each event is bounded
      parser.on_chunk_body(on_chunk);
    } else {
      parser.body_limit(options_.max_event_bytes);
    }
    // Parses every complete line and hands the events over; an ERROR event ends the watch.
    auto deliver = [&]() -> absl::Status {
      std::vector<WatchEvent> events;
      std::string line;
      absl::Status end;
      while (end.ok() && lines.Next(&line)) {
        absl::StatusOr<WatchEvent> event = ParseWatchEvent(line);
        if (!event.ok()) {
          end = absl::Status(event.status().code(),
                             absl::StrCat(what, ": ", event.status().message()));
        } else if (event->type == WatchEvent::Type::kError) {
          end = ErrorFromApiStatus("watch", path, 0, event->object);
        } else {
          events.push_back(std::move(*event));
        }
      }
      if (!events.empty()) {
        if (absl::Status handled = handler(events); !handled.ok()) return handled;
      }
      return end;
    };
    while (!parser.is_done()) {
      if (co_await CancelRequested()) co_return absl::CancelledError(what);
      auto [rec, read] = co_await http::async_read_some(stream, buffer, parser, kUseTuple);
      if (!framing.ok())
        co_return absl::ResourceExhaustedError(absl::StrCat(what, ": ", framing.message()));
      if (absl::Status delivered = deliver(); !delivered.ok()) co_return delivered;
      if (rec) {
        if (rec == beast::error::timeout) {
          co_return absl::DeadlineExceededError(
              absl::StrCat(what, ": the stream stayed open past its timeout (",
                           absl::FormatDuration(deadline), "); the connection is presumed dead"));
        }
        if (rec == asio::error::operation_aborted) {
          co_return absl::CancelledError(absl::StrCat(what, ": cancelled"));
        }
        co_return absl::UnavailableError(absl::StrCat(what, ": the stream broke: ", rec.message()));
      }
    }
    // A clean end. A body that was not chunked holds the events; a last line may lack "\n".
    if (!parser.chunked()) {
      if (absl::Status s = lines.Append(parser.get().body()); !s.ok()) {
        co_return absl::ResourceExhaustedError(absl::StrCat(what, ": ", s.message()));
      }
    }
    (void)lines.Append("\n");
    if (absl::Status delivered = deliver(); !delivered.ok()) co_return delivered;
    beast::get_lowest_layer(stream).expires_never();
    if (parser.get().keep_alive() && buffer.size() == 0) Release(std::move(lease->stream));
    co_return absl::OkStatus();
  }
}

}  // namespace remora::kube
