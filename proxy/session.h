// Live connections of one worker, so timeouts, drain and policy changes can reach every one.
//
// A Session lives in its connection's coroutine frame and links itself into the worker's list.
// Each timed step of the connection (protocol detection, TLS handshake, upstream connect, the
// established connection's idle time) is a ScopedPhase: a guard on the frame that sets the
// deadline and names the streams or sockets a timeout must close, for as long as it lives. A
// periodic sweep closes the sockets of sessions past their deadline, which makes every pending
// operation of that connection finish with operation_aborted. One timer per worker instead of one
// per connection keeps idle connections cheap.
#pragma once

#include <array>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <initializer_list>

#include "absl/time/time.h"
#include "common/stats.h"
#include "net/asio.h"
#include "proxy/transport/stream.h"

namespace remora::proxy {

namespace filter {
class ConnectionContext;
}  // namespace filter

using Clock = std::chrono::steady_clock;

// An absl::Duration as a Clock duration; InfiniteDuration is Clock::duration::max().
Clock::duration ToChrono(absl::Duration d);

class Session : public boost::intrusive::list_base_hook<
                    boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  // The step a connection is in; names appear in timeout log lines.
  enum class Phase { kSniff, kHandshake, kConnect, kEstablished };

  // What a timeout, a drain or a policy change closes: a socket not yet wrapped in a stream (being
  // sniffed or connected), or a stream.
  class Closable {
   public:
    Closable() = default;
    Closable(tcp::socket* socket) : socket_(socket) {}        // NOLINT: implicit by design
    Closable(transport::Stream* stream) : stream_(stream) {}  // NOLINT: implicit by design
    void Close() const;

   private:
    tcp::socket* socket_ = nullptr;
    transport::Stream* stream_ = nullptr;
  };

  // One timed phase, from construction to destruction: the session is in `phase`, and once the
  // phase's deadline passes the sweep closes `closables` (and those of the phases around it).
  // kEstablished has no fixed deadline: the connection expires after `timeout` without activity
  // (last_activity). Phases nest, innermost last: ending one returns the session to the phase
  // around it (an HTTP connection's idle phase around each upstream connect), and returning to an
  // established phase counts as activity. Outside every phase a session has no deadline; the
  // connection code awaits nothing there. Lives on the connection's coroutine frame: neither
  // copied nor moved, destroyed in reverse order of construction.
  class [[nodiscard]] ScopedPhase {
   public:
    ScopedPhase(Session& session, Phase phase, Clock::duration timeout,
                std::initializer_list<Closable> closables);
    ~ScopedPhase();
    ScopedPhase(const ScopedPhase&) = delete;
    ScopedPhase& operator=(const ScopedPhase&) = delete;

    // Also closes `closable` on timeout from now on (an upstream connected within the phase).
    // At most kMaxClosables per phase.
    void Watch(Closable closable);

   private:
    friend class Session;
    static constexpr size_t kMaxClosables = 2;
    Session& session_;
    ScopedPhase* const outer_;
    const Phase phase_;
    const Clock::duration timeout_;
    const Clock::time_point deadline_;  // kEstablished: unused
    std::array<Closable, kMaxClosables> closables_{};
    size_t count_ = 0;
  };

  // `timeouts` counts this connection if the sweep times it out. Counting at that moment, not when
  // the connection's coroutine unwinds, keeps the stat exact for anyone who sees the close.
  explicit Session(Counter& timeouts) : timeouts_(&timeouts) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Whether the innermost phase is past its deadline (an established one: idle for too long).
  bool Expired(Clock::time_point now) const;
  // Closes what every open phase watches; the connection's coroutines unwind with errors.
  void Abort();
  void MarkTimedOut() {
    timed_out_ = true;
    timeouts_->Inc();
  }
  bool timed_out() const { return timed_out_; }
  // The innermost phase; kSniff before the first.
  Phase phase() const { return innermost_ != nullptr ? innermost_->phase_ : Phase::kSniff; }

  // Stamped by every transfer of an established connection (the idle timeout watches it).
  Clock::time_point last_activity = Clock::now();

  // The connection as its network filters admitted it, while they have; null before admission,
  // and after a policy change closed it. Policies are live values: when a new configuration lands,
  // the worker re-runs the network filters that admitted each connection
  // (filter::RunOnConfigChange).
  filter::ConnectionContext* admitted = nullptr;

 private:
  ScopedPhase* innermost_ = nullptr;
  Counter* timeouts_;
  bool timed_out_ = false;
};

const char* ToString(Session::Phase phase);

using SessionList = boost::intrusive::list<Session, boost::intrusive::constant_time_size<false>>;

}  // namespace remora::proxy
