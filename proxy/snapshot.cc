#include "proxy/snapshot.h"

#include "net/endpoint.h"

namespace remora::proxy {

Snapshot::Snapshot(std::shared_ptr<const ProxyConfig> config,
                   std::shared_ptr<const tls::TlsContexts> tls,
                   std::shared_ptr<const filters::WorkloadPolicy> policy, filters::Labels labels,
                   uint64_t generation, bool configured)
    : config_(std::move(config)),
      tls_(std::move(tls)),
      policy_(std::move(policy)),
      labels_(std::move(labels)),
      generation_(generation),
      configured_(configured) {
  // The namespace comes from the certificate when there is one: it is what peers see.
  if (tls_ != nullptr && tls_->identity().id.Namespace().has_value()) {
    ns_ = *tls_->identity().id.Namespace();
  } else {
    ns_ = config_->workload.ns;
  }
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
