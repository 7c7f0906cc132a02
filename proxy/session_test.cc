#include "proxy/session.h"

#include <chrono>

#include "gtest/gtest.h"

namespace remora::proxy {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

class SessionTest : public ::testing::Test {
 protected:
  tcp::socket OpenSocket() {
    tcp::socket s(io_);
    s.open(tcp::v4());
    return s;
  }
  asio::io_context io_;
  Counter timeouts_;
};

TEST_F(SessionTest, HasNoDeadlineOutsideEveryPhase) {
  Session session(timeouts_);
  EXPECT_FALSE(session.Expired(Clock::now() + hours(24 * 365)));
  EXPECT_EQ(session.phase(), Session::Phase::kSniff);
}

TEST_F(SessionTest, APhaseExpiresAtItsDeadlineAndEndsWithItsGuard) {
  Session session(timeouts_);
  {
    Session::ScopedPhase connecting(session, Session::Phase::kConnect, seconds(5), {});
    EXPECT_EQ(session.phase(), Session::Phase::kConnect);
    EXPECT_FALSE(session.Expired(Clock::now()));
    EXPECT_TRUE(session.Expired(Clock::now() + seconds(6)));
  }
  EXPECT_FALSE(session.Expired(Clock::now() + seconds(6)));
}

TEST_F(SessionTest, AnInfiniteTimeoutNeverExpires) {
  Session session(timeouts_);
  Session::ScopedPhase connecting(session, Session::Phase::kConnect,
                                  ToChrono(absl::InfiniteDuration()), {});
  EXPECT_FALSE(session.Expired(Clock::now() + hours(24 * 365)));
}

TEST_F(SessionTest, EstablishedExpiresAfterIdleTimeAndReturningToItCountsAsActivity) {
  Session session(timeouts_);
  Session::ScopedPhase idle(session, Session::Phase::kEstablished, seconds(10), {});
  session.last_activity = Clock::now() - seconds(9);
  EXPECT_FALSE(session.Expired(Clock::now()));
  EXPECT_TRUE(session.Expired(Clock::now() + seconds(2)));
  {
    Session::ScopedPhase connecting(session, Session::Phase::kConnect, seconds(60), {});
    EXPECT_EQ(session.phase(), Session::Phase::kConnect);
    EXPECT_FALSE(session.Expired(Clock::now() + seconds(2))) << "the inner phase's deadline rules";
  }
  EXPECT_EQ(session.phase(), Session::Phase::kEstablished);
  EXPECT_FALSE(session.Expired(Clock::now() + seconds(2)));
}

TEST_F(SessionTest, AbortClosesWhatEveryOpenPhaseWatches) {
  Session session(timeouts_);
  tcp::socket downstream = OpenSocket();
  tcp::socket upstream = OpenSocket();
  tcp::socket later = OpenSocket();
  Session::ScopedPhase idle(session, Session::Phase::kEstablished, seconds(10), {&downstream});
  Session::ScopedPhase connecting(session, Session::Phase::kConnect, seconds(1), {&upstream});
  connecting.Watch(&later);
  session.Abort();
  EXPECT_FALSE(downstream.is_open());
  EXPECT_FALSE(upstream.is_open());
  EXPECT_FALSE(later.is_open());
}

TEST_F(SessionTest, AnEndedPhaseNoLongerClosesItsSockets) {
  Session session(timeouts_);
  tcp::socket socket = OpenSocket();
  { Session::ScopedPhase sniffing(session, Session::Phase::kSniff, seconds(1), {&socket}); }
  session.Abort();
  EXPECT_TRUE(socket.is_open());
}

TEST_F(SessionTest, ATimeoutIsCountedOnce) {
  Session session(timeouts_);
  session.MarkTimedOut();
  EXPECT_TRUE(session.timed_out());
  EXPECT_EQ(timeouts_.value(), 1u);
}

}  // namespace
}  // namespace remora::proxy
