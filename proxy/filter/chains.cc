#include "proxy/filter/chains.h"

#include "proxy/filter/authorization_filter.h"
#include "proxy/filter/peer_authentication_filter.h"
#include "proxy/filter/stats_filter.h"

namespace remora::proxy::filter {

// Never destroyed: connections of a worker still unwinding at exit may hold them.
std::span<NetworkFilter* const> InboundNetworkFilters() {
  static NetworkFilter* const chain[] = {new PeerAuthenticationFilter,
                                         new AuthorizationNetworkFilter, new StatsNetworkFilter};
  return chain;
}

std::span<NetworkFilter* const> OutboundNetworkFilters() {
  static NetworkFilter* const chain[] = {new AuthorizationNetworkFilter};
  return chain;
}

HttpFilterChain InboundHttpFilters(HttpFilter& codec_checks) {
  static HttpFilter* const stats = new StatsHttpFilter;
  static HttpFilter* const authorization = new AuthorizationHttpFilter;
  return {stats, &codec_checks, authorization};
}

}  // namespace remora::proxy::filter
