// Time for the informer's backoff and watch bookkeeping, behind an interface so tests can replace
// waiting (STYLE.md: interfaces at real seams; the clock is one).
#pragma once

#include <functional>
#include <memory>

#include "absl/time/time.h"
#include "net/asio.h"

namespace remora::kube {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Completes after `d` on the awaiting coroutine's executor. Cancellable: a terminal
  // cancellation of the awaiting coroutine ends the wait early.
  virtual awaitable<void> Sleep(absl::Duration d) = 0;
};

// absl::Now() and an asio steady_timer.
std::shared_ptr<Clock> RealClock();

// Uniform in [0, 1): the jitter of backoffs. Thread-safe.
using RandomSource = std::function<double()>;
RandomSource DefaultRandom();

}  // namespace remora::kube
