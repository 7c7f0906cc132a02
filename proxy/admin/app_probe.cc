#include "proxy/admin/app_probe.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"

namespace remora::proxy::admin {
namespace {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using beast_http::status;
using namespace boost::asio::experimental::awaitable_operators;

template <typename Stream>
awaitable<http::Response> HttpGet(Stream& stream, const AppProbe& probe,
                                  const http::Request& request) {
  http::Request get(beast_http::verb::get, probe.path, 11);
  get.set(beast_http::field::host, absl::StrCat(probe.host, ":", probe.port));
  get.set(beast_http::field::user_agent, "kube-probe (via remora-proxy)");
  get.set(beast_http::field::connection, "close");
  for (const auto& [name, value] : probe.headers) get.set(name, value);
  auto [wec, wn] = co_await beast_http::async_write(stream, get, kUseTuple);
  if (wec)
    co_return http::MakeResponse(request, status::service_unavailable,
                                 absl::StrCat("probe write: ", wec.message(), "\n"));
  beast::flat_buffer buffer;
  beast_http::response_parser<beast_http::string_body> parser;
  parser.body_limit(64 * 1024);
  auto [rec, rn] = co_await beast_http::async_read(stream, buffer, parser, kUseTuple);
  if (rec)
    co_return http::MakeResponse(request, status::service_unavailable,
                                 absl::StrCat("probe read: ", rec.message(), "\n"));
  // The kubelet judges by the status code: pass the app's on.
  http::Response response = http::MakeResponse(request, parser.get().result(), parser.get().body());
  co_return response;
}

}  // namespace

awaitable<http::Response> RunAppProbe(const AppProbe& probe, const http::Request& request,
                                      absl::Duration timeout) {
  auto executor = co_await asio::this_coro::executor;
  error_code ec;
  asio::ip::address address = asio::ip::make_address(probe.host, ec);
  if (ec) {
    co_return http::MakeResponse(
        request, status::service_unavailable,
        absl::StrCat("probe host \"", probe.host, "\" is not an IP address\n"));
  }
  beast::tcp_stream stream(executor);
  stream.expires_after(absl::ToChronoNanoseconds(timeout));
  auto [cec] = co_await stream.async_connect(tcp::endpoint(address, probe.port), kUseTuple);
  if (cec) {
    co_return http::MakeResponse(request, status::service_unavailable,
                                 absl::StrCat("app port ", probe.port, ": ", cec.message(), "\n"));
  }
  if (!probe.http) co_return http::MakeResponse(request, status::ok, "tcp probe: connected\n");
  if (!probe.https) co_return co_await HttpGet(stream, probe, request);
  // HTTPS probes, like the kubelet's, do not verify the app's certificate.
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), ctx);
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kUseTuple);
  if (hec) {
    co_return http::MakeResponse(request, status::service_unavailable,
                                 absl::StrCat("probe TLS handshake: ", hec.message(), "\n"));
  }
  co_return co_await HttpGet(tls, probe, request);
}

}  // namespace remora::proxy::admin
