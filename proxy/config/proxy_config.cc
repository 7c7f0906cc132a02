#include "proxy/config/proxy_config.h"

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

InboundPort ProxyConfig::PortSettings(uint16_t port) const {
  auto it = inbound_ports.find(port);
  if (it != inbound_ports.end()) return it->second;
  return InboundPort{.mode = default_mode, .protocol = AppProtocol::kTcp};
}

}  // namespace remora::proxy
