// Serves one connection accepted on an inbound listener: find the app port, apply the port's
// peer-authentication mode (STRICT / PERMISSIVE / DISABLE), terminate mTLS and verify the client
// as an X.509-SVID of the mesh, then connect to the app at the connection's original destination
// (the pod's own address, from 127.0.0.6; or 127.0.0.1 with inbound.forward_to: localhost) and
// relay. A source holds at most limits.max_handshakes_per_source connections in detection or
// handshake.
#pragma once

#include <memory>

#include "proxy/connection.h"

namespace remora::proxy::inbound {

awaitable<void> ServeInbound(tcp::socket socket, std::shared_ptr<const Snapshot> snapshot,
                             const ListenerRuntime& listener, WorkerResources& worker);

}  // namespace remora::proxy::inbound
