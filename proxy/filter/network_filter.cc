#include "proxy/filter/network_filter.h"

namespace remora::proxy::filter {

FilterResult NetworkFilter::OnConfigChange(ConnectionContext&, const Snapshot&) {
  return FilterResult::Continue();
}

FilterResult RunOnConnection(std::span<NetworkFilter* const> chain, ConnectionContext& connection,
                             const Snapshot& snapshot) {
  for (NetworkFilter* filter : chain) {
    FilterResult result = filter->OnConnection(connection, snapshot);
    if (!result.proceeds()) return result;
  }
  connection.admitted_by = chain;
  return FilterResult::Continue();
}

FilterResult RunOnConfigChange(ConnectionContext& connection, const Snapshot& snapshot) {
  for (NetworkFilter* filter : connection.admitted_by) {
    FilterResult result = filter->OnConfigChange(connection, snapshot);
    if (!result.proceeds()) return result;
  }
  return FilterResult::Continue();
}

}  // namespace remora::proxy::filter
