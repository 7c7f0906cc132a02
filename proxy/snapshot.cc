#include "proxy/snapshot.h"

#include "net/endpoint.h"

namespace remora::proxy {

Snapshot::Snapshot(std::shared_ptr<const ProxyConfig> config,
                   std::shared_ptr<const tls::TlsContexts> tls, uint64_t generation)
    : config_(std::move(config)), tls_(std::move(tls)), generation_(generation) {
  for (const Service& service : config_->services) {
    for (const tcp::endpoint& ep : service.addresses) {
      services_by_address_.emplace(net::ToString(ep), &service);
    }
  }
}

const Service* Snapshot::FindService(const tcp::endpoint& destination) const {
  auto it = services_by_address_.find(net::ToString(destination));
  return it == services_by_address_.end() ? nullptr : it->second;
}

}  // namespace remora::proxy
