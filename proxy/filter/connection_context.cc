#include "proxy/filter/connection_context.h"

#include "absl/strings/str_cat.h"
#include "net/endpoint.h"

namespace remora::proxy::filter {

ConnectionContext::ConnectionContext(const ListenerRuntime& listener, filters::Direction direction,
                                     const tcp::endpoint& peer, const tcp::endpoint& local)
    : listener(listener),
      stats(*listener.stats),
      component(absl::StrCat("proxy.", listener.config.name)),
      direction(direction),
      peer(peer),
      local(local) {}

std::string ConnectionContext::IdentityForLog() const {
  return peer_identity.has_value() ? peer_identity->str() : "-";
}

std::string ConnectionContext::Who() const {
  // Outbound lines never named an identity: the peer is this workload's own app.
  if (direction == filters::Direction::kOutbound) {
    return absl::StrCat("from=", net::ToString(peer), " to=", destination_text);
  }
  return absl::StrCat("from=", net::ToString(peer), " to=", destination_text,
                      " peer_identity=", Quote(IdentityForLog()));
}

}  // namespace remora::proxy::filter
