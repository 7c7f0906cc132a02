// The strict HTTP/1.1 request rules a proxy in front of an application must apply (RFC 9112) so
// that it and the app can never disagree about where a request ends (request smuggling) or what it
// says. Pure functions over what Beast parsed; the proxy answers 400 when one fails.
#pragma once

#include <boost/beast/http.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::proxy::http {

namespace beast_http = boost::beast::http;

// Checks a parsed request head beyond Beast's own rules: Host present (HTTP/1.1) and single,
// Transfer-Encoding only "chunked" and never with Content-Length (Beast refuses the combination),
// no obsolete line folding or stray CR/LF in values, no CONNECT. Collapses repeated identical
// Content-Length fields into one. InvalidArgument says which rule failed.
absl::Status CheckRequestHead(beast_http::request_header<>& head);

// Normalizes a request target's path the way policies see it (and the app then receives it):
// percent-decodes unreserved characters, refuses malformed escapes, removes "." and ".."
// segments (RFC 3986 5.2.4) and merges repeated slashes. The query string is kept as is. An
// absolute-form target ("http://host/p") becomes its path; `authority` receives its host.
absl::StatusOr<std::string> NormalizeTarget(absl::string_view target, std::string* authority);

}  // namespace remora::proxy::http
