// The filter chains each path runs, in order, in one place. Filters are stateless; each worker
// owns one set (FilterChains) that outlives its io_context, so every connection it serves, even
// one still unwinding when the worker stops, refers to filters that exist.
#pragma once

#include <array>
#include <span>

#include "proxy/filter/authorization_filter.h"
#include "proxy/filter/http_filter.h"
#include "proxy/filter/network_filter.h"
#include "proxy/filter/peer_authentication_filter.h"
#include "proxy/filter/stats_filter.h"

namespace remora::proxy::filter {

// The HTTP filters of an inbound HTTP port, for one request of any protocol: stats, then the
// codec's own checks of the head (strict parsing rules, path normalization; they fill in the
// request's HTTP attributes), then authorization.
using HttpFilterChain = std::array<HttpFilter*, 3>;

class FilterChains {
 public:
  FilterChains() = default;
  FilterChains(const FilterChains&) = delete;
  FilterChains& operator=(const FilterChains&) = delete;

  // Inbound: the port's PeerAuthentication mode, authorization, stats.
  std::span<NetworkFilter* const> inbound() const { return inbound_; }
  // Outbound: authorization (egress NetworkPolicy stops a connection at the client's sidecar).
  std::span<NetworkFilter* const> outbound() const { return outbound_; }
  // `codec_checks` is the codec's filter for this request (HTTP/1.1 today).
  HttpFilterChain inbound_http(HttpFilter& codec_checks) const {
    return {&http_stats_, &codec_checks, &http_authorization_};
  }

 private:
  // Filters are stateless: the chains hand out non-const pointers to members that never change.
  mutable PeerAuthenticationFilter peer_authentication_;
  mutable AuthorizationNetworkFilter authorization_;
  mutable StatsNetworkFilter stats_;
  mutable StatsHttpFilter http_stats_;
  mutable AuthorizationHttpFilter http_authorization_;
  const std::array<NetworkFilter*, 3> inbound_{&peer_authentication_, &authorization_, &stats_};
  const std::array<NetworkFilter*, 1> outbound_{&authorization_};
};

}  // namespace remora::proxy::filter
