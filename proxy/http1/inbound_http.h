// Serves an inbound connection on a port declared HTTP: every HTTP/1.1 request is parsed strictly
// (400 for what could smuggle a second request past the policy), runs the HTTP filter chain
// (filter/chains.h: stats, these strict checks, authorization: 403 with "RBAC: access denied",
// and the connection stays usable), and is forwarded to the app with the caller's identity in
// x-forwarded-client-cert. The app is connected only once a request is allowed, so a client that
// is only ever denied never reaches it.
#pragma once

#include <memory>
#include <optional>

#include "proxy/connection.h"
#include "proxy/filter/connection_context.h"

namespace remora::proxy::http1 {

// `connection`: admitted by the network filters; its destination is the app. `upstream_source`:
// the source address to connect to the app from (unset: the kernel chooses). `snapshot`: the
// configuration the connection was admitted under (limits, the proxy's own identity); each
// request meets the newest one's policy.
awaitable<void> ServeInboundHttp(transport::Stream& downstream,
                                 filter::ConnectionContext& connection,
                                 std::optional<asio::ip::address> upstream_source,
                                 std::shared_ptr<const Snapshot> snapshot, WorkerResources& worker,
                                 Session& session);

}  // namespace remora::proxy::http1
