// What a client may send but must never reach the app from it: the proxy removes these fields
// from every request head before it is authorized (the policy sees what the app will see, as
// Envoy's connection manager sanitizes before its filters run) and forwarded.
#pragma once

#include <boost/beast/http.hpp>

#include "absl/strings/string_view.h"

namespace remora::proxy::http1 {

namespace beast_http = boost::beast::http;

// Whether `name` is x-forwarded-client-cert in any spelling an app may read as that header:
// case-insensitive, '_' and '-' alike (CGI and WSGI servers map both to
// HTTP_X_FORWARDED_CLIENT_CERT, so "x_forwarded_client_cert" would reach the app as the caller's
// identity). Only the proxy vouches for the caller.
bool IsForwardedClientCertName(absl::string_view name);

// Removes every spelling of x-forwarded-client-cert, and an offer to upgrade to HTTP/2 in
// cleartext: the "h2c" token of Upgrade, HTTP2-Settings, and their tokens in Connection (as
// Envoy's HTTP/1 codec does). After a 101 the connection would be relayed raw, and the HTTP/2
// requests on it would skip per-request authorization. Other upgrades (WebSocket) are kept: the
// request that upgrades is authorized like any other.
void SanitizeRequestHead(beast_http::request_header<>& head);

}  // namespace remora::proxy::http1
