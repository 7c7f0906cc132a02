// Closing an HTTP connection the proxy ends while the client may still be sending (a refused head
// whose rest is unread, a body never read): closing a socket with unread input makes the kernel
// answer with a TCP reset, which can destroy the response before the client has read it. RFC 9112
// section 9.6 asks a server to close in stages: end its own direction first, then keep reading
// (and discarding) for a while; nginx does this as lingering_close, Envoy as delayed_close_timeout.
#pragma once

#include <cstddef>

#include "proxy/http1/beast_stream.h"
#include "proxy/session.h"

namespace remora::proxy::http1 {

// Ends `stream`'s write direction (TLS: close_notify), then reads and discards until the client
// ends its side, `max_bytes` were discarded, or `linger` passed, whichever comes first. Errors
// end it early: the connection is closing anyway.
awaitable<void> LingeringClose(BeastStream& stream, Clock::duration linger, size_t max_bytes);

}  // namespace remora::proxy::http1
