#include "proxy/filter/http_filter.h"

namespace remora::proxy::filter {

FilterResult HttpFilter::OnResponseHead(ConnectionContext&, const HttpRequest&,
                                        const HttpResponse&) {
  return FilterResult::Continue();
}

FilterResult RunOnRequestHead(std::span<HttpFilter* const> chain, ConnectionContext& connection,
                              HttpRequest& request, const Snapshot& snapshot) {
  for (HttpFilter* filter : chain) {
    FilterResult result = filter->OnRequestHead(connection, request, snapshot);
    if (!result.proceeds()) return result;
  }
  return FilterResult::Continue();
}

FilterResult RunOnResponseHead(std::span<HttpFilter* const> chain, ConnectionContext& connection,
                               const HttpRequest& request, const HttpResponse& response) {
  for (HttpFilter* filter : chain) {
    FilterResult result = filter->OnResponseHead(connection, request, response);
    if (!result.proceeds()) return result;
  }
  return FilterResult::Continue();
}

}  // namespace remora::proxy::filter
