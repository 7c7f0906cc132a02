// The filter chains each path runs, in order, in one place. Filters are stateless, so one
// instance of each serves every connection of the process.
#pragma once

#include <array>
#include <span>

#include "proxy/filter/http_filter.h"
#include "proxy/filter/network_filter.h"

namespace remora::proxy::filter {

// Inbound: the port's PeerAuthentication mode, authorization, stats.
std::span<NetworkFilter* const> InboundNetworkFilters();
// Outbound: authorization (egress NetworkPolicy stops a connection at the client's sidecar).
std::span<NetworkFilter* const> OutboundNetworkFilters();

// The HTTP filters of an inbound HTTP port, for one request of any protocol: stats, then the
// codec's own checks of the head (`codec_checks`: strict parsing rules, path normalization; it
// fills in the request's HTTP attributes), then authorization.
using HttpFilterChain = std::array<HttpFilter*, 3>;
HttpFilterChain InboundHttpFilters(HttpFilter& codec_checks);

}  // namespace remora::proxy::filter
