#include "proxy/transport/pump.h"

#include "absl/strings/str_cat.h"

namespace remora::proxy::transport {

awaitable<PumpResult> Pump(Stream& from, Stream& to, BufferPool& pool,
                           std::chrono::steady_clock::time_point& last_activity,
                           Counter& byte_counter, const char* from_name, const char* to_name) {
  PumpResult result;
  BufferPool::Lease buffer;
  while (true) {
    if (!buffer) buffer = pool.Acquire();
    IoResult r = from.Read(buffer.data(), buffer.size());
    if (r.status == IoStatus::kWantRead || r.status == IoStatus::kWantWrite) {
      // Idle: hand the buffer back so waiting connections hold no buffer memory.
      buffer.Release();
      if (error_code ec = co_await from.Wait(r.status)) {
        result.error = absl::StrCat("read from ", from_name, ": ", ec.message());
        co_return result;
      }
      continue;
    }
    if (r.status == IoStatus::kEof) break;
    if (r.status == IoStatus::kError) {
      result.error = absl::StrCat("read from ", from_name, ": ", r.error);
      co_return result;
    }
    last_activity = std::chrono::steady_clock::now();
    IoResult w = co_await WriteAll(to, buffer.data(), r.bytes);
    if (w.status != IoStatus::kOk) {
      result.error = absl::StrCat("write to ", to_name, ": ", w.error);
      co_return result;
    }
    result.bytes += r.bytes;
    byte_counter.Inc(r.bytes);
  }
  buffer.Release();
  while (true) {
    IoResult s = to.ShutdownWrite();
    if (s.status == IoStatus::kWantRead || s.status == IoStatus::kWantWrite) {
      if (error_code ec = co_await to.Wait(s.status)) {
        result.error = absl::StrCat("shutdown of ", to_name, ": ", ec.message());
        co_return result;
      }
      continue;
    }
    if (s.status == IoStatus::kError) {
      result.error = absl::StrCat("shutdown of ", to_name, ": ", s.error);
    }
    break;
  }
  co_return result;
}

}  // namespace remora::proxy::transport
