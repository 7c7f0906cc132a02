// The strict HTTP/1.1 request rules a proxy in front of an application must apply (RFC 9112) so
// that it and the app can never disagree about where a request ends (request smuggling) or what it
// says. Pure functions over the raw head and over what Beast parsed; the proxy answers 400 (408,
// 413) when one fails. The path policies match is filters/request_target.h.
#pragma once

#include <boost/beast/http.hpp>
#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::proxy::http1 {

namespace beast_http = boost::beast::http;

// Where the request head at the start of `buffered` ends (the offset just past its empty line), or
// 0 while it is incomplete. Looks at raw bytes because Beast 1.81 silently joins obs-fold lines
// into one value: a line of the head that starts with SP or HTAB (obs-fold, RFC 9112 5.2, or
// whitespace before the first field, RFC 9112 2.2) is refused (InvalidArgument) instead, so no
// reader after the proxy can take a folded line for a field of its own. ResourceExhausted when no
// head ends within `limit` bytes.
absl::StatusOr<size_t> FindRequestHeadEnd(absl::string_view buffered, size_t limit);

// Checks a parsed request head beyond Beast's own rules: Host present (HTTP/1.1) and single,
// Transfer-Encoding only "chunked" and never with Content-Length (Beast refuses the combination),
// no stray CR/LF in values, no CONNECT. Collapses repeated identical Content-Length fields into
// one. InvalidArgument says which rule failed.
absl::Status CheckRequestHead(beast_http::request_header<>& head);

// The number of fields in `fields`.
size_t FieldCount(const beast_http::fields& fields);

// Beast adds the fields of a chunked body's trailer section (RFC 9112 7.1.2) to the head it
// parsed. The proxy authorizes the head alone and forwards the body with Content-Length, so a
// request whose parse added fields after the head (`fields_before_body` were there before) is
// refused: no field the policy did not see may reach the app. Envoy drops HTTP/1 trailers by
// default (http_protocol_options.enable_trailers); refusing also catches a malformed trailer
// section that another parser could read as a request line.
absl::Status CheckNoTrailerFields(size_t fields_before_body, const beast_http::fields& fields);

}  // namespace remora::proxy::http1
