#include "proxy/session.h"

#include <cassert>

namespace remora::proxy {

Clock::duration ToChrono(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return Clock::duration::max();
  return std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(d));
}

const char* ToString(Session::Phase phase) {
  switch (phase) {
    case Session::Phase::kSniff:
      return "protocol detection";
    case Session::Phase::kHandshake:
      return "TLS handshake";
    case Session::Phase::kConnect:
      return "upstream connect";
    case Session::Phase::kEstablished:
      return "idle";
  }
  return "?";
}

namespace {

// now + timeout, saturating: an infinite timeout is a deadline that never comes.
Clock::time_point DeadlineAfter(Clock::duration timeout) {
  const Clock::time_point now = Clock::now();
  return timeout >= Clock::time_point::max() - now ? Clock::time_point::max() : now + timeout;
}

}  // namespace

void Session::Closable::Close() const {
  if (socket_ != nullptr) {
    error_code ignored;
    socket_->close(ignored);
  }
  if (stream_ != nullptr) stream_->Close();
}

Session::ScopedPhase::ScopedPhase(Session& session, Phase phase, Clock::duration timeout,
                                  std::initializer_list<Closable> closables)
    : session_(session),
      outer_(session.innermost_),
      phase_(phase),
      timeout_(timeout),
      deadline_(phase == Phase::kEstablished ? Clock::time_point::max() : DeadlineAfter(timeout)) {
  for (const Closable& c : closables) Watch(c);
  if (phase == Phase::kEstablished) session.last_activity = Clock::now();
  session.innermost_ = this;
}

Session::ScopedPhase::~ScopedPhase() {
  assert(session_.innermost_ == this && "phases end in reverse order of their start");
  session_.innermost_ = outer_;
  // Back to an established phase: the step that just ended counts as activity.
  if (outer_ != nullptr && outer_->phase_ == Phase::kEstablished) {
    session_.last_activity = Clock::now();
  }
}

void Session::ScopedPhase::Watch(Closable closable) {
  assert(count_ < kMaxClosables);
  if (count_ < kMaxClosables) closables_[count_++] = closable;
}

bool Session::Expired(Clock::time_point now) const {
  const ScopedPhase* phase = innermost_;
  if (phase == nullptr) return false;
  if (phase->phase_ == Phase::kEstablished) return now - last_activity > phase->timeout_;
  return now > phase->deadline_;
}

void Session::Abort() {
  for (const ScopedPhase* phase = innermost_; phase != nullptr; phase = phase->outer_) {
    for (size_t i = 0; i < phase->count_; ++i) phase->closables_[i].Close();
  }
}

}  // namespace remora::proxy
