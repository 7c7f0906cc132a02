// An HTTP filter sees each request head once the codec has parsed it, and each response head
// before it goes back to the client, whatever the protocol: the HTTP/1.1 path runs the chain
// today, the HTTP/2 path will run the same filters on each stream. The request is the policy
// engine's view of it (filters::RequestAttributes: the connection's attributes plus method,
// normalized path, host, headers), so a filter needs nothing of the codec.
#pragma once

#include <span>

#include "filters/request.h"
#include "proxy/filter/connection_context.h"
#include "proxy/filter/filter_result.h"
#include "proxy/snapshot.h"

namespace remora::proxy::filter {

struct HttpRequest {
  filters::RequestAttributes attributes;
};

struct HttpResponse {
  unsigned status = 0;
};

class HttpFilter {
 public:
  virtual ~HttpFilter() = default;

  // Called once per request, in chain order, with the newest configuration (also on a connection
  // opened before it changed). A filter may fill in the request for the filters after it.
  // Continue passes it on; LocalReply answers it instead of forwarding (the codec writes the
  // reply, then keeps the connection or closes it); Stop closes the connection unanswered. A
  // filter logs and counts what it decides.
  virtual FilterResult OnRequestHead(ConnectionContext& connection, HttpRequest& request,
                                     const Snapshot& snapshot) = 0;

  // Called once per forwarded request when the upstream's response head arrives, before any of it
  // reaches the client. LocalReply replaces the response, Stop closes the connection. Default:
  // Continue.
  virtual FilterResult OnResponseHead(ConnectionContext& connection, const HttpRequest& request,
                                      const HttpResponse& response);
};

// The first result of `chain` that is not Continue, else Continue.
FilterResult RunOnRequestHead(std::span<HttpFilter* const> chain, ConnectionContext& connection,
                              HttpRequest& request, const Snapshot& snapshot);
FilterResult RunOnResponseHead(std::span<HttpFilter* const> chain, ConnectionContext& connection,
                               const HttpRequest& request, const HttpResponse& response);

}  // namespace remora::proxy::filter
