#include "proxy/http1/request_checks.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace remora::proxy::http1 {
namespace {

absl::Status Bad(absl::string_view why) { return absl::InvalidArgumentError(why); }

}  // namespace

absl::StatusOr<size_t> FindRequestHeadEnd(absl::string_view buffered, size_t limit) {
  const size_t scan = std::min(buffered.size(), limit);
  for (size_t i = 0; i < scan; ++i) {
    if (buffered[i] != '\n') continue;
    if (i + 1 >= buffered.size()) break;  // the next line's first byte decides
    const char next = buffered[i + 1];
    if (next == ' ' || next == '\t') {
      return Bad("a header line starts with whitespace (obsolete line folding, RFC 9112 5.2)");
    }
    // The empty line that ends the head: CRLF, or a bare LF that Beast then refuses.
    size_t end = 0;
    if (next == '\n') {
      end = i + 2;
    } else if (next == '\r') {
      if (i + 2 >= buffered.size()) break;
      if (buffered[i + 2] == '\n') end = i + 3;
    }
    if (end > limit) break;
    if (end > 0) return end;
  }
  if (buffered.size() >= limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request head over ", limit, " bytes (limits.http_max_header_bytes)"));
  }
  return 0;
}

absl::Status CheckRequestHead(beast_http::request_header<>& head) {
  if (head.method() == beast_http::verb::connect) {
    return Bad("CONNECT is not supported on a sidecar's HTTP port");
  }
  if (head.method() == beast_http::verb::unknown) return Bad("unknown method");
  size_t hosts = 0;
  std::vector<std::string> lengths;
  size_t encodings = 0;
  for (const auto& field : head) {
    const absl::string_view value(field.value().data(), field.value().size());
    if (value.find_first_of("\r\n") != absl::string_view::npos) {
      return Bad(absl::StrCat("header ", std::string(field.name_string()),
                              " has a bare CR or LF in its value"));
    }
    if (field.name() == beast_http::field::host) ++hosts;
    if (field.name() == beast_http::field::content_length) lengths.emplace_back(value);
    if (field.name() == beast_http::field::transfer_encoding) {
      ++encodings;
      if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(value), "chunked")) {
        return Bad(
            absl::StrCat("Transfer-Encoding \"", value, "\" is not supported; only chunked"));
      }
    }
  }
  if (head.version() >= 11 && hosts == 0) return Bad("HTTP/1.1 request without Host");
  if (hosts > 1) return Bad("more than one Host header");
  if (encodings > 1) return Bad("more than one Transfer-Encoding header");
  if (encodings > 0 && !lengths.empty()) return Bad("both Transfer-Encoding and Content-Length");
  if (lengths.size() > 1) {
    for (const std::string& l : lengths) {
      if (l != lengths.front()) return Bad("conflicting Content-Length headers");
    }
    head.erase(beast_http::field::content_length);
    head.set(beast_http::field::content_length, lengths.front());
  }
  return absl::OkStatus();
}

size_t FieldCount(const beast_http::fields& fields) {
  return static_cast<size_t>(std::distance(fields.begin(), fields.end()));
}

absl::Status CheckNoTrailerFields(size_t fields_before_body, const beast_http::fields& fields) {
  if (FieldCount(fields) == fields_before_body) return absl::OkStatus();
  return Bad(
      "the chunked body ends with trailer fields; the proxy authorizes the request head alone and "
      "accepts no trailer section");
}

}  // namespace remora::proxy::http1
