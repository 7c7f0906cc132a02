// Serves one connection accepted on an outbound listener: find where the app meant to go, and
// either originate mTLS to it while checking that the server is one of the identities allowed to
// serve that destination (secure naming), or pass non-mesh traffic through / refuse it by policy.
#pragma once

#include <memory>

#include "proxy/connection.h"

namespace remora::proxy::outbound {

awaitable<void> ServeOutbound(tcp::socket socket, std::shared_ptr<const Snapshot> snapshot,
                              const ListenerRuntime& listener, WorkerResources& worker);

}  // namespace remora::proxy::outbound
