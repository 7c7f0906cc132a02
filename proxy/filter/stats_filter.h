// The per-connection and per-request counts the filter chain owns (the transport counts its own:
// handshakes, bytes, timeouts). Last in the inbound network chain, so only an admitted connection
// is counted as served; first in the HTTP chain, so every request the codec parsed is counted,
// also one the codec's own checks then refuse.
#pragma once

#include "proxy/filter/http_filter.h"
#include "proxy/filter/network_filter.h"

namespace remora::proxy::filter {

// http_cx: an admitted connection on an HTTP port.
class StatsNetworkFilter : public NetworkFilter {
 public:
  FilterResult OnConnection(ConnectionContext& connection, const Snapshot& snapshot) override;
};

// http_requests: every request head received.
class StatsHttpFilter : public HttpFilter {
 public:
  FilterResult OnRequestHead(ConnectionContext& connection, HttpRequest& request,
                             const Snapshot& snapshot) override;
};

}  // namespace remora::proxy::filter
