// Live connections of one worker, so timeouts and drain can reach every one of them.
//
// A Session lives in its connection's coroutine frame and links itself into the worker's list; a
// periodic sweep closes the sockets of sessions past their deadline, which makes every pending
// operation of that connection finish with operation_aborted. One timer per worker instead of one
// per connection keeps idle connections cheap.
#pragma once

#include <boost/intrusive/list.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/stats.h"
#include "filters/request.h"
#include "proxy/transport/stream.h"

namespace remora::proxy {

using Clock = std::chrono::steady_clock;

class Session : public boost::intrusive::list_base_hook<
                    boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  // The step a connection is in; names appear in timeout log lines.
  enum class Phase { kSniff, kHandshake, kConnect, kEstablished };

  // `timeouts` counts this connection if the sweep times it out. Counting at that moment, not when
  // the connection's coroutine unwinds, keeps the stat exact for anyone who sees the close.
  explicit Session(Counter& timeouts) : timeouts_(&timeouts) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Enters a bounded phase that must finish within `timeout`.
  void Enter(Phase phase, Clock::duration timeout) {
    phase_ = phase;
    deadline_ = Clock::now() + timeout;
  }
  // Established: the deadline moves with activity (idle timeout).
  void Establish(Clock::duration idle_timeout) {
    phase_ = Phase::kEstablished;
    idle_timeout_ = idle_timeout;
    last_activity = Clock::now();
  }

  // The sockets a timeout or drain must close. Either may be null.
  void Track(transport::Stream* a, transport::Stream* b) {
    a_ = a;
    b_ = b;
  }
  void TrackSocket(tcp::socket* s) { raw_ = s; }

  bool Expired(Clock::time_point now) const {
    return phase_ == Phase::kEstablished ? now - last_activity > idle_timeout_ : now > deadline_;
  }
  // Closes everything; the connection's coroutines unwind with errors.
  void Abort() {
    error_code ignored;
    if (raw_ != nullptr) raw_->close(ignored);
    if (a_ != nullptr) a_->Close();
    if (b_ != nullptr) b_->Close();
  }
  void MarkTimedOut() {
    timed_out_ = true;
    timeouts_->Inc();
  }
  bool timed_out() const { return timed_out_; }
  Phase phase() const { return phase_; }

  Clock::time_point last_activity = Clock::now();

  // A connection admitted by policy remembers what it was admitted as, so it can be
  // re-authorized (and closed) when the configuration changes under it: a policy that no longer
  // allows it, or (inbound plaintext) a port that now requires mTLS.
  struct Admission {
    filters::RequestAttributes attributes;
    std::string component;  // log component, "proxy.inbound"
    std::string who;        // "from=... to=... peer_identity=..." for the log line
    Counter* denied = nullptr;
    bool plaintext = false;  // inbound without mTLS: closed if its port turns STRICT
    // An HTTP port: only the connection-level layers (PeerAuthentication, NetworkPolicy) are
    // re-checked here; each request meets AuthorizationPolicy on its own.
    bool connection_only = false;
  };
  std::unique_ptr<Admission> admission;

  // The source address ConnectUpstream binds; unset lets the kernel choose. An inbound connection
  // forwarded to the pod's own address sets Istio's inbound passthrough source (127.0.0.6, ::6),
  // which the capture rules let through to the app (iptables-init/rule_model.h).
  std::optional<asio::ip::address> upstream_source;

 private:
  Phase phase_ = Phase::kSniff;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::duration idle_timeout_ = Clock::duration::max();
  transport::Stream* a_ = nullptr;
  transport::Stream* b_ = nullptr;
  tcp::socket* raw_ = nullptr;
  Counter* timeouts_;
  bool timed_out_ = false;
};

const char* ToString(Session::Phase phase);

using SessionList = boost::intrusive::list<Session, boost::intrusive::constant_time_size<false>>;

}  // namespace remora::proxy
