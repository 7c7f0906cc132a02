// Moves bytes between two streams, one direction per call, with backpressure (a buffer is not
// refilled until it has been written out) and half-close (the end of one direction is passed on
// without closing the other).
#pragma once

#include <chrono>
#include <cstdint>

#include "absl/status/status.h"
#include "common/stats.h"
#include "proxy/transport/buffer_pool.h"
#include "proxy/transport/stream.h"

namespace remora::proxy::transport {

struct PumpResult {
  uint64_t bytes = 0;
  // OK when the source ended cleanly and the end was passed on; otherwise which side failed and
  // how (Unavailable: "read from upstream: Connection reset by peer").
  absl::Status status;
};

// Copies `from` → `to` until `from` reaches EOF, then ends `to`'s write direction. Each chunk moved
// updates `last_activity` (the idle timeout watches it) and adds to `byte_counter`.
awaitable<PumpResult> Pump(Stream& from, Stream& to, BufferPool& pool,
                           std::chrono::steady_clock::time_point& last_activity,
                           Counter& byte_counter, const char* from_name, const char* to_name);

}  // namespace remora::proxy::transport
