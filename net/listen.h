// Listening sockets for the workers: one per worker on the same address with SO_REUSEPORT, so the
// kernel spreads connections across workers without a shared accept lock.
#pragma once

#include "absl/status/statusor.h"
#include "net/asio.h"

namespace remora::net {

// Binds and listens on `endpoint` within `io`; "[::]" accepts IPv4 as well (dual stack). With
// `reuse_port`, several acceptors may share the address. `what` names the listener in errors
// ("inbound listener 0.0.0.0:15006").
absl::StatusOr<tcp::acceptor> Listen(asio::io_context& io, const tcp::endpoint& endpoint,
                                     bool reuse_port, int backlog, absl::string_view what);

}  // namespace remora::net
