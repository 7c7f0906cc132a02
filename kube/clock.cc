#include "kube/clock.h"

#include <random>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace remora::kube {
namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  awaitable<void> Sleep(absl::Duration d) override {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(absl::ToChronoNanoseconds(d));
    (void)co_await timer.async_wait(kUseTuple);
  }
};

}  // namespace

std::shared_ptr<Clock> RealClock() {
  static const auto clock = std::make_shared<SystemClock>();
  return clock;
}

RandomSource DefaultRandom() {
  struct State {
    absl::Mutex mu;
    std::mt19937_64 engine ABSL_GUARDED_BY(mu){std::random_device{}()};
  };
  auto state = std::make_shared<State>();
  return [state] {
    absl::MutexLock lock(&state->mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(state->engine);
  };
}

}  // namespace remora::kube
