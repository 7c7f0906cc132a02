// Reads one HTTP/1.1 request head off a connection into a buffer, under the two bounds a head
// has: its size (limits.http_max_header_bytes) and the time it may take once it has started
// (limits.request_head_timeout, Envoy's request_headers_timeout: armed by the head's first byte,
// disarmed by its last). Waiting for that first byte is the connection idling between requests
// and stays under the idle timeout, so keep-alive connections are not cut by this one.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <cstddef>

#include "absl/status/status.h"
#include "proxy/http1/beast_stream.h"
#include "proxy/session.h"

namespace remora::proxy::http1 {

struct HeadRead {
  enum class Outcome {
    kComplete,  // `buffer` starts with a whole head (obs-fold refused, within the size bound)
    kClosed,    // the client closed before a head began, or the connection failed / was closed
    kTimedOut,  // the head began but did not complete within the timeout
    kRefused,   // `refusal` says why: obs-fold, over the size bound, or cut off by the client
  };
  Outcome outcome = Outcome::kClosed;
  absl::Status refusal;
};

// Reads until `buffer` (which may already hold pipelined bytes) starts with a complete request
// head of at most `limit` bytes. `buffer`'s own max_size bounds what it may hold; it must be at
// least `limit`.
awaitable<HeadRead> ReadRequestHead(BeastStream& stream, boost::beast::flat_buffer& buffer,
                                    size_t limit, Clock::duration timeout);

}  // namespace remora::proxy::http1
