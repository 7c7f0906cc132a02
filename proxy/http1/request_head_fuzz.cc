// Fuzz target: the proxy's HTTP request edge, in the order the proxy runs it, must never crash
// whatever the client sends: the raw head scan (obs-fold, head bound), Beast's parser, the strict
// request rules, the sanitizer (x-forwarded-client-cert spellings, h2c), the path normalization
// policies match on, then the body (chunk extensions, trailer sections) and the trailer check.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>

#include "filters/request_target.h"
#include "proxy/http1/request_checks.h"
#include "proxy/http1/request_sanitize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace beast_http = boost::beast::http;
  namespace http1 = remora::proxy::http1;
  constexpr size_t kLimit = 16384;  // as limits.http_max_header_bytes
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<size_t> head_end = http1::FindRequestHeadEnd(input, kLimit);
  if (!head_end.ok() || *head_end == 0) return 0;

  beast_http::request_parser<beast_http::string_body> parser;
  parser.header_limit(kLimit);
  parser.body_limit(1 << 20);
  boost::system::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(input.data(), *head_end), ec);
  if (ec || !parser.is_header_done()) return 0;
  beast_http::request_header<>& head = parser.get();
  if (!http1::CheckRequestHead(head).ok()) return 0;
  http1::SanitizeRequestHead(head);
  std::string authority;
  if (!remora::filters::NormalizeTarget(
           absl::string_view(head.target().data(), head.target().size()), &authority)
           .ok()) {
    return 0;
  }

  // The body as the proxy reads it: Beast consumes what it can, the rest must fit the buffer.
  const size_t fields = http1::FieldCount(head);
  parser.eager(true);
  absl::string_view rest = input.substr(used);
  while (!rest.empty() && !parser.is_done()) {
    const absl::string_view window = rest.substr(0, kLimit);
    const size_t n = parser.put(boost::asio::buffer(window.data(), window.size()), ec);
    rest.remove_prefix(n);
    if (ec == beast_http::error::need_more) {
      if (window.size() == kLimit && n == 0) return 0;  // over the buffer bound: refused
      ec = {};
    } else if (ec) {
      return 0;
    }
    if (n == 0) break;  // the input ends inside the message
  }
  if (parser.is_done()) (void)http1::CheckNoTrailerFields(fields, parser.get());
  return 0;
}
