// The informer's retry delays: client-go's reflector backoff (800ms doubling to 30s, up to 100%
// jitter, reset after 2 minutes without failure) with the server's Retry-After as a floor.
#include "kube/backoff.h"

#include "gtest/gtest.h"

namespace remora::kube {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

TEST(BackoffTest, DoublesFromEightHundredMillisecondsToThirtySeconds) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.0; });
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 8; ++i) waits.push_back(backoff.Next(kStart + absl::Seconds(i)));
  EXPECT_EQ(waits, (std::vector<absl::Duration>{
                       absl::Milliseconds(800), absl::Milliseconds(1600), absl::Milliseconds(3200),
                       absl::Milliseconds(6400), absl::Milliseconds(12800),
                       absl::Milliseconds(25600), absl::Seconds(30), absl::Seconds(30)}));
}

TEST(BackoffTest, JitterAddsUpToTheWholeBase) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.5; });
  EXPECT_EQ(backoff.Next(kStart), absl::Milliseconds(1200));
  Backoff most(BackoffPolicy{}, [] { return 0.999; });
  EXPECT_LT(most.Next(kStart), absl::Milliseconds(1600));
}

TEST(BackoffTest, StartsOverAfterTwoQuietMinutes) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.0; });
  backoff.Next(kStart);
  backoff.Next(kStart + absl::Seconds(1));
  EXPECT_EQ(backoff.Next(kStart + absl::Seconds(2)), absl::Milliseconds(3200));
  EXPECT_EQ(backoff.Next(kStart + absl::Minutes(5)), absl::Milliseconds(800));
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.0; });
  backoff.Next(kStart);
  backoff.Next(kStart);
  backoff.Reset();
  EXPECT_EQ(backoff.Next(kStart), absl::Milliseconds(800));
}

TEST(BackoffTest, RetryAfterIsAFloorAndIsClamped) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.0; });
  EXPECT_EQ(backoff.Next(kStart, absl::Seconds(5)), absl::Seconds(5));
  EXPECT_EQ(backoff.Next(kStart, absl::Seconds(1)), absl::Milliseconds(1600));
  EXPECT_EQ(backoff.Next(kStart, absl::Hours(10)), absl::Minutes(2));
}

}  // namespace
}  // namespace remora::kube
