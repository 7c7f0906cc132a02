// A small HTTP/1.1 server for operational endpoints (admin, health, metrics) and the control
// plane's webhook: one handler function `request -> response`, bounded everywhere (header and body
// size, read timeout, connection count), optionally over TLS.
#pragma once

#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "net/asio.h"

namespace boost::asio::ssl {
class context;
}

namespace remora::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
// Called on the server's io_context thread. Must not block.
using Handler = std::function<Response(const Request&)>;
// For answers that need I/O of their own (a probe forwarded to the app).
using AsyncHandler = std::function<awaitable<Response>(const Request&)>;

struct ServerOptions {
  std::string name = "http";        // for logs
  size_t header_limit = 16 * 1024;  // bytes
  size_t body_limit = 1024 * 1024;  // bytes
  absl::Duration read_timeout = absl::Seconds(10);
  int64_t max_connections = 256;
};

// A response with `status`, content type and body; keep-alive follows the request.
Response MakeResponse(const Request& request, beast_http::status status, std::string body,
                      absl::string_view content_type = "text/plain; charset=utf-8");

class Server {
 public:
  // With `tls` non-null the server speaks HTTPS using that context (which must outlive it).
  Server(asio::io_context& io, Handler handler, ServerOptions options,
         std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  Server(asio::io_context& io, AsyncHandler handler, ServerOptions options);
  ~Server();

  absl::Status Listen(const tcp::endpoint& endpoint);
  tcp::endpoint bound() const { return bound_; }
  // Swaps the TLS context for new connections (certificate rotation).
  void SetTls(std::shared_ptr<boost::asio::ssl::context> tls);
  void Start();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  tcp::endpoint bound_;
};

}  // namespace remora::http
