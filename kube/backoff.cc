#include "kube/backoff.h"

#include <algorithm>

namespace remora::kube {

absl::Duration Backoff::Next(absl::Time now, std::optional<absl::Duration> retry_after) {
  if (now - last_failure_ > policy_.reset_after) base_ = policy_.initial;
  last_failure_ = now;
  const absl::Duration base = base_;
  base_ = std::min(base_ * policy_.factor, policy_.cap);
  const double r = std::clamp(random_(), 0.0, 1.0);
  absl::Duration wait = base + base * (policy_.jitter * r);
  if (retry_after) wait = std::max(wait, std::min(*retry_after, policy_.max_retry_after));
  return wait;
}

void Backoff::Reset() {
  base_ = policy_.initial;
  last_failure_ = absl::InfinitePast();
}

}  // namespace remora::kube
