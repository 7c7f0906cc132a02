// The port's PeerAuthentication mode, re-read from the configuration in force: a plaintext
// connection on a port that is (or becomes) STRICT is refused (or closed). Under Istio, STRICT
// removes the inbound listener's plaintext filter chain, and Envoy drains the connections of a
// filter chain it removes ("filter chain only update"). Inbound only.
#pragma once

#include "proxy/filter/network_filter.h"

namespace remora::proxy::filter {

class PeerAuthenticationFilter : public NetworkFilter {
 public:
  // Counts plaintext_refused; "plaintext connection refused: port N requires mTLS (STRICT)".
  FilterResult OnConnection(ConnectionContext& connection, const Snapshot& snapshot) override;
  // "port N now requires mTLS (STRICT)".
  FilterResult OnConfigChange(ConnectionContext& connection, const Snapshot& snapshot) override;
};

}  // namespace remora::proxy::filter
