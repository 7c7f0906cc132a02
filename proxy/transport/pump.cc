#include "proxy/transport/pump.h"

#include "absl/strings/str_cat.h"

namespace remora::proxy::transport {
namespace {

// `error` with the step that failed in front of its message, its code kept.
absl::Status Prefixed(const absl::Status& error, absl::string_view step) {
  return absl::Status(error.code(), absl::StrCat(step, ": ", error.message()));
}

}  // namespace

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
        result.status = StreamError(absl::StrCat("read from ", from_name, ": ", ec.message()));
        co_return result;
      }
      continue;
    }
    if (r.status == IoStatus::kEof) break;
    if (r.status == IoStatus::kError) {
      result.status = Prefixed(r.error, absl::StrCat("read from ", from_name));
      co_return result;
    }
    last_activity = std::chrono::steady_clock::now();
    IoResult w = co_await WriteAll(to, buffer.data(), r.bytes);
    if (w.status != IoStatus::kOk) {
      result.status = Prefixed(w.error, absl::StrCat("write to ", to_name));
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
        result.status = StreamError(absl::StrCat("shutdown of ", to_name, ": ", ec.message()));
        co_return result;
      }
      continue;
    }
    if (s.status == IoStatus::kError) {
      result.status = Prefixed(s.error, absl::StrCat("shutdown of ", to_name));
    }
    break;
  }
  co_return result;
}

}  // namespace remora::proxy::transport
