// Serves one connection accepted on an inbound listener: find the app port, apply the port's
// peer-authentication mode (STRICT / PERMISSIVE / DISABLE), terminate mTLS and verify the client
// as an X.509-SVID of the mesh, then connect to the app on 127.0.0.1 and relay.
#pragma once

#include <memory>

#include "proxy/connection.h"

namespace remora::proxy::inbound {

awaitable<void> ServeInbound(tcp::socket socket, std::shared_ptr<const Snapshot> snapshot,
                             const ListenerRuntime& listener, WorkerResources& worker);

}  // namespace remora::proxy::inbound
