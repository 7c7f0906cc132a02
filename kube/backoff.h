// Exponential backoff with jitter between failed requests, as client-go's reflector does
// (k8s.io/client-go/tools/cache/reflector.go: wait.NewExponentialBackoffManager(800ms, 30s, 2m,
// 2.0, 1.0, clock)): the n-th consecutive failure waits base * 2^(n-1), base capped at 30s, plus
// up to 100% jitter (so [0.8s, 1.6s), [1.6s, 3.2s), ... up to [30s, 60s)), and the sequence starts
// over after two minutes without a failure. A server's Retry-After (429, 503, 504) is a floor.
#pragma once

#include <optional>

#include "absl/time/time.h"
#include "kube/clock.h"

namespace remora::kube {

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(800);
  absl::Duration cap = absl::Seconds(30);
  absl::Duration reset_after = absl::Minutes(2);
  double factor = 2.0;
  double jitter = 1.0;  // a wait is base * (1 + jitter * random)
  // A server-sent Retry-After longer than this is clamped (a hostile or broken server must not
  // park the informer for hours).
  absl::Duration max_retry_after = absl::Minutes(2);
};

class Backoff {
 public:
  Backoff(BackoffPolicy policy, RandomSource random)
      : policy_(policy), random_(std::move(random)), base_(policy.initial) {}

  // The wait before the next attempt after a failure at `now`; `retry_after` is the server's.
  absl::Duration Next(absl::Time now, std::optional<absl::Duration> retry_after = std::nullopt);
  // A success: the next failure starts from `initial` again.
  void Reset();

 private:
  BackoffPolicy policy_;
  RandomSource random_;
  absl::Duration base_;
  absl::Time last_failure_ = absl::InfinitePast();
};

}  // namespace remora::kube
