#include "http/http_server.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "net/endpoint.h"
#include "net/listen.h"

namespace remora::http {

namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;

Response MakeResponse(const Request& request, beast_http::status status, std::string body,
                      absl::string_view content_type) {
  Response response(status, request.version());
  response.set(beast_http::field::server, "remora");
  response.set(beast_http::field::content_type, std::string(content_type));
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

class Server::Impl {
 public:
  Impl(asio::io_context& io, AsyncHandler handler, ServerOptions options,
       std::shared_ptr<ssl::context> tls)
      : tls_(std::move(tls)),
        io_(io),
        handler_(std::move(handler)),
        options_(std::move(options)),
        acceptor_(io) {}

  absl::Status Listen(const tcp::endpoint& endpoint, tcp::endpoint* bound) {
    absl::StatusOr<tcp::acceptor> acceptor =
        net::Listen(io_, endpoint, false, 128,
                    absl::StrCat(options_.name, " listener ", net::ToString(endpoint)));
    if (!acceptor.ok()) return acceptor.status();
    acceptor_ = std::move(*acceptor);
    error_code ec;
    *bound = acceptor_.local_endpoint(ec);
    return absl::OkStatus();
  }

  void Start() {
    asio::co_spawn(io_, AcceptLoop(), [name = options_.name](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        LOG_ERROR(name, "accept loop failed: ", ex.what());
      }
    });
  }

  void Stop() {
    stopped_ = true;
    error_code ignored;
    acceptor_.close(ignored);
  }

  std::shared_ptr<ssl::context> tls_;

 private:
  awaitable<void> AcceptLoop() {
    while (!stopped_) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
      if (ec == asio::error::operation_aborted || stopped_) break;
      if (ec) {
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(kUseTuple);
        continue;
      }
      if (active_ >= options_.max_connections) continue;  // closes the socket
      ++active_;
      auto done = [this, name = options_.name](std::exception_ptr e) {
        --active_;
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          LOG_WARN(name, "connection failed: ", ex.what());
        }
      };
      if (tls_ != nullptr) {
        asio::co_spawn(io_, ServeTls(std::move(socket), tls_), done);
      } else {
        asio::co_spawn(io_, ServePlain(std::move(socket)), done);
      }
    }
  }

  awaitable<void> ServePlain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await Serve(stream);
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  awaitable<void> ServeTls(tcp::socket socket, std::shared_ptr<ssl::context> tls) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    beast::get_lowest_layer(stream).expires_after(ToChrono(options_.read_timeout));
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
    if (ec) {
      LOG_DEBUG(options_.name, "TLS handshake failed: ", ec.message());
      co_return;
    }
    co_await Serve(stream);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(kUseTuple);
  }

  template <typename Stream>
  awaitable<void> Serve(Stream& stream) {
    beast::flat_buffer buffer(options_.header_limit + 1024);
    while (true) {
      beast_http::request_parser<beast_http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options_.header_limit));
      parser.body_limit(options_.body_limit);
      beast::get_lowest_layer(stream).expires_after(ToChrono(options_.read_timeout));
      auto [ec, n] = co_await beast_http::async_read(stream, buffer, parser, kUseTuple);
      if (ec == beast_http::error::end_of_stream || ec == asio::error::eof) co_return;
      if (ec) {
        if (ec.category() ==
            beast_http::make_error_code(beast_http::error::bad_target).category()) {
          Request dummy;
          dummy.version(11);
          dummy.keep_alive(false);
          beast_http::status status = ec == beast_http::error::body_limit
                                          ? beast_http::status::payload_too_large
                                          : beast_http::status::bad_request;
          Response response = MakeResponse(
              dummy, status,
              absl::StrCat("bad request: ", ec.message(),
                           ec == beast_http::error::body_limit
                               ? absl::StrCat(" (limit ", options_.body_limit, " bytes)")
                               : "",
                           "\n"));
          co_await beast_http::async_write(stream, response, kUseTuple);
        }
        co_return;
      }
      Request request = parser.release();
      Response response = co_await handler_(request);
      beast::get_lowest_layer(stream).expires_after(ToChrono(options_.read_timeout));
      auto [wec, wn] = co_await beast_http::async_write(stream, response, kUseTuple);
      if (wec || !response.keep_alive()) co_return;
    }
  }

  static std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        absl::ToChronoNanoseconds(d));
  }

  asio::io_context& io_;
  AsyncHandler handler_;
  ServerOptions options_;
  tcp::acceptor acceptor_;
  int64_t active_ = 0;
  bool stopped_ = false;
};

Server::Server(asio::io_context& io, Handler handler, ServerOptions options,
               std::shared_ptr<ssl::context> tls)
    : impl_(std::make_unique<Impl>(
          io,
          [handler = std::move(handler)](const Request& r) -> awaitable<Response> {
            co_return handler(r);
          },
          std::move(options), std::move(tls))) {}

Server::Server(asio::io_context& io, AsyncHandler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(handler), std::move(options), nullptr)) {}

Server::~Server() = default;

absl::Status Server::Listen(const tcp::endpoint& endpoint) {
  return impl_->Listen(endpoint, &bound_);
}

void Server::SetTls(std::shared_ptr<ssl::context> tls) { impl_->tls_ = std::move(tls); }

void Server::Start() { impl_->Start(); }

void Server::Stop() { impl_->Stop(); }

}  // namespace remora::http
