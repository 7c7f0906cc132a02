#include "proxy/filter/peer_authentication_filter.h"

#include "absl/strings/str_cat.h"

namespace remora::proxy::filter {
namespace {

bool PlaintextOnStrictPort(const ConnectionContext& connection, const Snapshot& snapshot) {
  return connection.plaintext &&
         snapshot.config().PortSettings(connection.destination.port()).mode ==
             PeerAuthMode::kStrict;
}

}  // namespace

FilterResult PeerAuthenticationFilter::OnConnection(ConnectionContext& connection,
                                                    const Snapshot& snapshot) {
  if (!PlaintextOnStrictPort(connection, snapshot)) return FilterResult::Continue();
  connection.stats.plaintext_refused.Inc();
  return FilterResult::Stop(absl::UnauthenticatedError(absl::StrCat(
      "plaintext connection refused: ", connection.destination_text, " requires mTLS (STRICT)")));
}

FilterResult PeerAuthenticationFilter::OnConfigChange(ConnectionContext& connection,
                                                      const Snapshot& snapshot) {
  if (!PlaintextOnStrictPort(connection, snapshot)) return FilterResult::Continue();
  return FilterResult::Stop(absl::UnauthenticatedError(
      absl::StrCat("port ", connection.destination.port(), " now requires mTLS (STRICT)")));
}

}  // namespace remora::proxy::filter
