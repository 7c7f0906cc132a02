#include "proxy/config/proxy_config.h"

#include <algorithm>

namespace remora::proxy {

const char* ToString(PeerAuthMode mode) {
  switch (mode) {
    case PeerAuthMode::kStrict:
      return "STRICT";
    case PeerAuthMode::kPermissive:
      return "PERMISSIVE";
    case PeerAuthMode::kDisable:
      return "DISABLE";
  }
  return "?";
}

const char* ToString(AppProtocol protocol) {
  return protocol == AppProtocol::kHttp ? "http" : "tcp";
}

const char* ToString(UnknownDestinationPolicy policy) {
  return policy == UnknownDestinationPolicy::kDeny ? "deny" : "passthrough";
}

const char* ToString(InboundForward forward) {
  return forward == InboundForward::kLocalhost ? "localhost" : "original_destination";
}

int64_t DirectionLimit(const Limits& limits, bool inbound) {
  const int64_t set = inbound ? limits.max_inbound_connections : limits.max_outbound_connections;
  return set > 0 ? set : std::max<int64_t>(1, limits.max_connections / 2);
}

int64_t HandshakesPerSourceLimit(const Limits& limits) {
  if (limits.max_handshakes_per_source > 0) return limits.max_handshakes_per_source;
  return std::max<int64_t>(1, DirectionLimit(limits, /*inbound=*/true) / 8);
}

InboundPort ProxyConfig::PortSettings(uint16_t port) const {
  auto it = inbound_ports.find(port);
  if (it != inbound_ports.end()) return it->second;
  return InboundPort{.mode = default_mode, .protocol = AppProtocol::kTcp};
}

}  // namespace remora::proxy
