// Fuzz target: the proxy's HTTP request edge (Beast's parser, then the strict request rules and
// the path normalization policies match on) must never crash, whatever the client sends.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>

#include "proxy/http/request_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace beast_http = boost::beast::http;
  beast_http::request_parser<beast_http::empty_body> parser;
  parser.header_limit(16384);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  beast_http::request_header<>& head = parser.get();
  if (!remora::proxy::http::CheckRequestHead(head).ok()) return 0;
  std::string authority;
  (void)remora::proxy::http::NormalizeTarget(
      absl::string_view(head.target().data(), head.target().size()), &authority);
  return 0;
}
