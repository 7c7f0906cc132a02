// Serves an inbound connection on a port declared HTTP: every HTTP/1.1 request is parsed strictly
// (400 for what could smuggle a second request past the policy), authorized on its own (403 with
// "RBAC: access denied", and the connection stays usable), and forwarded to the app with the
// caller's identity in x-forwarded-client-cert. The app is connected only once a request is
// allowed, so a client that is only ever denied never reaches it.
#pragma once

#include <memory>

#include "filters/request.h"
#include "proxy/connection.h"

namespace remora::proxy::http1 {

awaitable<void> ServeInboundHttp(transport::Stream& downstream,
                                 filters::RequestAttributes connection, tcp::endpoint app,
                                 std::shared_ptr<const Snapshot> snapshot,
                                 const ListenerRuntime& listener, WorkerResources& worker,
                                 Session& session);

}  // namespace remora::proxy::http1
