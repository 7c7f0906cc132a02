// The HTTP/1.1 codec's own checks of a request head, run as the HTTP filter right after stats (see
// filter/chains.h): the strict rules that keep the proxy and the app from disagreeing about where
// a request ends (request_checks.h), path normalization, and the removal of what only the proxy
// may say (request_sanitize.h). It fills in the request's HTTP attributes for the filters after
// it, so they see what the app will see. The HTTP/2 codec will bring its own.
#pragma once

#include "absl/strings/string_view.h"
#include "proxy/filter/http_filter.h"
#include "proxy/http1/request_checks.h"

namespace remora::proxy::http1 {

class RequestHeadChecks : public filter::HttpFilter {
 public:
  // `head`: the request head Beast parsed; sanitized in place.
  explicit RequestHeadChecks(beast_http::request_header<>& head) : head_(head) {}

  // Refused heads are answered 400 and the connection closes (BadRequest).
  filter::FilterResult OnRequestHead(filter::ConnectionContext& connection,
                                     filter::HttpRequest& request,
                                     const Snapshot& snapshot) override;

 private:
  beast_http::request_header<>& head_;
};

// A request the codec refuses: counts http_bad_request, logs "bad request from=... reason=...
// (answered 400, nothing forwarded)", and returns the 400 reply after which the connection closes.
filter::FilterResult BadRequest(filter::ConnectionContext& connection, absl::string_view why);

// The client's address as HTTP log lines name it ("?" when unknown).
std::string From(const filter::ConnectionContext& connection);

}  // namespace remora::proxy::http1
