#include "proxy/filter/stats_filter.h"

namespace remora::proxy::filter {

FilterResult StatsNetworkFilter::OnConnection(ConnectionContext& connection, const Snapshot&) {
  if (connection.protocol == filters::Protocol::kHttp) connection.stats.http_cx.Inc();
  return FilterResult::Continue();
}

FilterResult StatsHttpFilter::OnRequestHead(ConnectionContext& connection, HttpRequest&,
                                            const Snapshot&) {
  connection.stats.http_requests.Inc();
  return FilterResult::Continue();
}

}  // namespace remora::proxy::filter
