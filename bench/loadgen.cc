// loadgen: the benchmark's HTTP/1.1 load generator. One thread, non-blocking sockets over epoll,
// every loop bounded in time; prints one JSON object per result on stdout.
//
// Modes:
//   closed  N keep-alive connections, each sends its next request when the previous response
//           ends (saturation: requests/s).
//   open    a fixed request rate, open loop: request i is due at t0 + i/rate whatever happened
//           before, and its latency is measured from that intended time, so a stall is charged to
//           every request it delays (no coordinated omission). A due request waits for an idle
//           keep-alive connection in a FIFO inside the generator; that wait counts as latency.
//   churn   a new connection per request (`Connection: close`), N at a time.
//   bulk    one request on one connection; measures the throughput of its (large) response.
//   idle    opens connections up to each of --levels, one request each, and leaves them idle;
//           after each level prints a line and waits for a line on stdin before going on.
//   rawtcp  no HTTP: a forked sink and this process move --bytes over one loopback connection.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace remora::bench {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

int64_t Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kSecond + ts.tv_nsec;
}

int64_t CpuNanos() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * kSecond +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "loadgen: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Options {
  std::string mode = "closed";
  sockaddr_in target{};
  std::string path = "/";
  std::string host = "web";
  double duration = 10;  // seconds of measurement (after the warm-up)
  double warmup = 1;     // seconds run but not recorded
  double rate = 0;       // open: requests per second
  int connections = 64;
  double drain = 5;     // seconds to wait for outstanding responses at the end
  double timeout = 10;  // seconds before a request (or a churn connection) counts as failed
  std::vector<int> levels;
  int64_t bytes = 1LL << 30;  // rawtcp
  int source_cpu = -1;
  int sink_cpu = -1;
  bool events = false;  // print {"event": "start"|"end"} when the measured window opens/closes
};

// ---------------------------------------------------------------------------------------------
// An incremental HTTP/1.1 response parser: status, Content-Length or chunked, or until close.

class ResponseParser {
 public:
  void Reset() { *this = ResponseParser(); }
  bool done() const { return state_ == State::kDone; }
  bool error() const { return error_; }
  int status() const { return status_; }
  int64_t body_bytes() const { return body_bytes_; }
  bool reads_until_close() const { return state_ == State::kUntilClose; }
  // The peer closed: completes a response framed by the end of the connection.
  void OnEof() {
    if (state_ == State::kUntilClose) state_ = State::kDone;
  }

  // Consumes up to `n` bytes; returns how many it used (less than n only once done).
  size_t Feed(const char* p, size_t n) {
    size_t used = 0;
    while (used < n && state_ != State::kDone && !error_) {
      switch (state_) {
        case State::kHead: {
          const size_t before = line_.size();
          line_.append(p + used, n - used);
          size_t start = before >= 3 ? before - 3 : 0;
          size_t end = line_.find("\r\n\r\n", start);
          if (end == std::string::npos) {
            used = n;
            if (line_.size() > 65536) error_ = true;
            break;
          }
          used += end + 4 - before;
          ParseHead(line_.substr(0, end + 2));
          line_.clear();
          break;
        }
        case State::kBody: {
          size_t take = static_cast<size_t>(std::min<int64_t>(remaining_, n - used));
          used += take;
          remaining_ -= static_cast<int64_t>(take);
          body_bytes_ += static_cast<int64_t>(take);
          if (remaining_ == 0) state_ = State::kDone;
          break;
        }
        case State::kUntilClose:
          body_bytes_ += static_cast<int64_t>(n - used);
          used = n;
          break;
        case State::kChunkSize:
        case State::kChunkEnd:
        case State::kTrailer: {
          const char* nl = static_cast<const char*>(std::memchr(p + used, '\n', n - used));
          if (nl == nullptr) {
            line_.append(p + used, n - used);
            used = n;
            if (line_.size() > 4096) error_ = true;
            break;
          }
          line_.append(p + used, nl - (p + used));
          used = nl - p + 1;
          if (!line_.empty() && line_.back() == '\r') line_.pop_back();
          if (state_ == State::kTrailer) {
            if (line_.empty()) state_ = State::kDone;
          } else if (state_ == State::kChunkEnd) {
            state_ = State::kChunkSize;  // the CRLF that ends a chunk's data
          } else {
            remaining_ = std::strtoll(line_.c_str(), nullptr, 16);
            state_ = remaining_ == 0 ? State::kTrailer : State::kChunkData;
          }
          line_.clear();
          break;
        }
        case State::kChunkData: {
          size_t take = static_cast<size_t>(std::min<int64_t>(remaining_, n - used));
          used += take;
          remaining_ -= static_cast<int64_t>(take);
          body_bytes_ += static_cast<int64_t>(take);
          if (remaining_ == 0) state_ = State::kChunkEnd;
          break;
        }
        case State::kDone:
          break;
      }
    }
    return used;
  }

 private:
  enum class State {
    kHead,
    kBody,
    kUntilClose,
    kChunkSize,
    kChunkData,
    kChunkEnd,
    kTrailer,
    kDone
  };

  static bool HeaderIs(const std::string& line, const char* name) {
    size_t len = std::strlen(name);
    return line.size() > len && strncasecmp(line.c_str(), name, len) == 0 && line[len] == ':';
  }

  void ParseHead(const std::string& head) {
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) {
      error_ = true;
      return;
    }
    status_ = std::atoi(head.c_str() + 9);
    int64_t length = -1;
    bool chunked = false;
    size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      std::string line = head.substr(pos, end - pos);
      pos = end + 2;
      if (HeaderIs(line, "content-length")) length = std::strtoll(line.c_str() + 15, nullptr, 10);
      if (HeaderIs(line, "transfer-encoding") && line.find("chunked") != std::string::npos) {
        chunked = true;
      }
    }
    if (status_ == 204 || status_ == 304 || (status_ >= 100 && status_ < 200)) {
      state_ = State::kDone;
    } else if (chunked) {
      state_ = State::kChunkSize;
    } else if (length >= 0) {
      remaining_ = length;
      state_ = length == 0 ? State::kDone : State::kBody;
    } else {
      state_ = State::kUntilClose;
    }
  }

  State state_ = State::kHead;
  std::string line_;
  int status_ = 0;
  int64_t remaining_ = 0;
  int64_t body_bytes_ = 0;
  bool error_ = false;
};

// ---------------------------------------------------------------------------------------------
// Connections and the event loop.

struct Conn {
  enum class State { kFree, kConnecting, kIdle, kBusy };
  int fd = -1;
  State state = State::kFree;
  ResponseParser parser;
  int64_t intended = 0;  // open: when the request was due; otherwise when it was sent
  int64_t opened = 0;    // when connect() started (churn latency, timeouts)
  std::string out;       // unsent request bytes
  size_t out_offset = 0;
};

class Generator {
 public:
  explicit Generator(Options o) : o_(std::move(o)) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) Die("epoll_create1");
    request_ = "GET " + o_.path + " HTTP/1.1\r\nHost: " + o_.host +
               "\r\nUser-Agent: remora-bench\r\nAccept: */*\r\n\r\n";
    close_request_ = "GET " + o_.path + " HTTP/1.1\r\nHost: " + o_.host +
                     "\r\nUser-Agent: remora-bench\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    buffer_.resize(256 * 1024);
  }

  int Run() {
    if (o_.mode == "closed") return Closed();
    if (o_.mode == "open") return Open();
    if (o_.mode == "churn") return Churn();
    if (o_.mode == "bulk") return Bulk();
    if (o_.mode == "idle") return Idle();
    std::fprintf(stderr, "loadgen: unknown mode %s\n", o_.mode.c_str());
    return 2;
  }

 private:
  // Starts a non-blocking connect on `c`.
  bool Open(Conn& c, int64_t now) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++errors_;
      return false;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&o_.target), sizeof(o_.target));
    if (rc != 0 && errno != EINPROGRESS) {
      ::close(fd);
      ++errors_;
      return false;
    }
    c.fd = fd;
    c.state = Conn::State::kConnecting;
    c.opened = now;
    c.out.clear();
    c.out_offset = 0;
    c.parser.Reset();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = &c;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) Die("epoll_ctl");
    return true;
  }

  void CloseConn(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);  // closing removes it from the epoll set
    c.fd = -1;
    c.state = Conn::State::kFree;
  }

  // Queues `request` on `c` and tries to send it now.
  void Send(Conn& c, const std::string& request, int64_t intended) {
    c.out = request;
    c.out_offset = 0;
    c.intended = intended;
    c.parser.Reset();
    c.state = Conn::State::kBusy;
    Flush(c);
  }

  void Flush(Conn& c) {
    while (c.out_offset < c.out.size()) {
      ssize_t n =
          ::send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_offset += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return;  // EAGAIN: EPOLLOUT resumes; an error shows up on read
    }
  }

  enum class Event { kNone, kConnected, kResponse, kFailed };

  // Handles readiness on `c`; returns what happened (a complete response, a failure...).
  Event Handle(Conn& c, uint32_t events) {
    if (c.state == Conn::State::kConnecting) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return Event::kNone;
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Event::kFailed;
      c.state = Conn::State::kIdle;
      return Event::kConnected;
    }
    if (c.state == Conn::State::kBusy && (events & EPOLLOUT)) Flush(c);
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) return Event::kNone;
    while (true) {
      ssize_t n = ::recv(c.fd, buffer_.data(), buffer_.size(), 0);
      if (n > 0) {
        bytes_ += n;
        if (c.state != Conn::State::kBusy) return Event::kFailed;  // unsolicited bytes
        c.parser.Feed(buffer_.data(), static_cast<size_t>(n));
        if (c.parser.error()) return Event::kFailed;
        if (c.parser.done()) return Event::kResponse;
        continue;
      }
      if (n == 0) {
        if (c.state == Conn::State::kBusy) {
          c.parser.OnEof();
          if (c.parser.done()) return Event::kResponse;
        }
        return Event::kFailed;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return Event::kNone;
      return Event::kFailed;
    }
  }

  // Waits for events until `deadline` (absolute, ns) at the latest, with ns precision.
  int Wait(int64_t deadline, epoll_event* events, int max) {
    int64_t wait = std::max<int64_t>(0, deadline - Now());
    timespec ts{static_cast<time_t>(wait / kSecond), static_cast<long>(wait % kSecond)};
    int n = epoll_pwait2(ep_, events, max, &ts, nullptr);
    if (n < 0 && errno != EINTR) Die("epoll_pwait2");
    return std::max(n, 0);
  }

  void Record(int64_t latency) { latencies_.push_back(latency); }

  // The measured window of a run: after the warm-up, for --duration.
  struct Window {
    int64_t from;
    int64_t end;
    bool measuring = false;
    bool ended = false;
    int64_t cpu_start = 0;  // this process's CPU time when the window opened
  };

  // Opens and closes `w` as time passes it; errors count from its opening.
  void Advance(Window& w, int64_t now) {
    if (!w.measuring && now >= w.from) {
      w.measuring = true;
      w.cpu_start = CpuNanos();
      errors_ = 0;
      Marker("start");
    }
    if (!w.ended && now >= w.end) {
      w.ended = true;
      Marker("end");
    }
  }

  // Tells the driver when the measured window opens and closes, so it can read CPU counters of
  // the proxies over exactly that window.
  void Marker(const char* event) {
    if (!o_.events) return;
    std::printf("{\"event\": \"%s\"}\n", event);
    std::fflush(stdout);
  }

  void PrintLatencies(const char* prefix) {
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [&](double q) -> double {
      if (latencies_.empty()) return 0;
      size_t i = static_cast<size_t>(std::ceil(q * latencies_.size()));
      i = std::clamp<size_t>(i, 1, latencies_.size()) - 1;
      return latencies_[i] / 1e3;
    };
    std::printf(
        "%s\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
        "\"max_us\": %.1f, \"samples\": %zu",
        prefix, pct(0.5), pct(0.9), pct(0.99), pct(0.999),
        latencies_.empty() ? 0.0 : latencies_.back() / 1e3, latencies_.size());
  }

  // Opens `count` connections and waits (up to 10 s) until they are connected.
  int ConnectAll(std::vector<Conn>& conns) {
    const int64_t start = Now();
    for (Conn& c : conns) Open(c, start);
    int pending = 0;
    for (Conn& c : conns) pending += c.state == Conn::State::kConnecting;
    epoll_event events[256];
    while (pending > 0 && Now() - start < 10 * kSecond) {
      int n = Wait(start + 10 * kSecond, events, 256);
      for (int i = 0; i < n; ++i) {
        Conn& c = *static_cast<Conn*>(events[i].data.ptr);
        if (c.state != Conn::State::kConnecting) continue;
        Event e = Handle(c, events[i].events);
        if (e == Event::kConnected) --pending;
        if (e == Event::kFailed) {
          --pending;
          ++errors_;
          CloseConn(c);
        }
      }
    }
    int connected = 0;
    for (Conn& c : conns) connected += c.state == Conn::State::kIdle;
    return connected;
  }

  // --- closed loop ---------------------------------------------------------------------------
  int Closed() {
    std::vector<Conn> conns(o_.connections);
    if (ConnectAll(conns) == 0) return Fail("no connection could be opened");
    const int64_t t0 = Now();
    const int64_t measure_from = t0 + static_cast<int64_t>(o_.warmup * kSecond);
    const int64_t end = measure_from + static_cast<int64_t>(o_.duration * kSecond);
    const int64_t hard_end = end + static_cast<int64_t>(o_.drain * kSecond);
    for (Conn& c : conns) {
      if (c.state == Conn::State::kIdle) Send(c, request_, Now());
    }
    int64_t completed = 0;
    Window measured{measure_from, end};
    epoll_event events[512];
    while (true) {
      const int64_t now = Now();
      Advance(measured, now);
      if (now >= hard_end ||
          (now >= end && std::none_of(conns.begin(), conns.end(), [](const Conn& c) {
             return c.state == Conn::State::kBusy || c.state == Conn::State::kConnecting;
           }))) {
        break;
      }
      int n = Wait(std::min(now + kSecond / 10, now >= end ? hard_end : end), events, 512);
      for (int i = 0; i < n; ++i) {
        Conn& c = *static_cast<Conn*>(events[i].data.ptr);
        if (c.state == Conn::State::kFree) continue;
        const int64_t t = Now();
        Event e = Handle(c, events[i].events);
        if (e == Event::kResponse) {
          if (c.parser.status() != 200) ++errors_;
          if (c.intended >= measure_from && t <= end) {
            ++completed;
            Record(t - c.intended);
          }
          if (t < end) {
            Send(c, request_, t);
          } else {
            c.state = Conn::State::kIdle;
          }
        } else if (e == Event::kConnected) {
          if (t < end) Send(c, request_, t);
        } else if (e == Event::kFailed) {
          ++errors_;
          CloseConn(c);
          if (t < end) Open(c, t);
        }
      }
    }
    const double cpu = (CpuNanos() - measured.cpu_start) / 1e9;
    const double window = o_.duration;
    std::printf(
        "{\"mode\": \"closed\", \"connections\": %d, \"requests\": %lld, \"rps\": %.1f, "
        "\"errors\": %lld, \"gen_cpu_pct\": %.1f, ",
        o_.connections, static_cast<long long>(completed), completed / window,
        static_cast<long long>(errors_), 100.0 * cpu / window);
    PrintLatencies("");
    std::printf("}\n");
    return 0;
  }

  // --- open loop -----------------------------------------------------------------------------
  int Open() {
    if (o_.rate <= 0) return Fail("--rate is required for open mode");
    std::vector<Conn> conns(o_.connections);
    if (ConnectAll(conns) == 0) return Fail("no connection could be opened");
    std::deque<Conn*> idle;
    for (Conn& c : conns) {
      if (c.state == Conn::State::kIdle) idle.push_back(&c);
    }
    const double interval = kSecond / o_.rate;
    const int64_t t0 = Now() + kSecond / 100;
    const int64_t measure_from = t0 + static_cast<int64_t>(o_.warmup * kSecond);
    const int64_t end = measure_from + static_cast<int64_t>(o_.duration * kSecond);
    const int64_t hard_end = end + static_cast<int64_t>(o_.drain * kSecond);
    auto due = [&](int64_t i) { return t0 + static_cast<int64_t>(i * interval); };
    int64_t scheduled = 0;   // requests whose due time has come
    int64_t dispatched = 0;  // of those, the ones sent (FIFO)
    int64_t completed = 0, in_window_due = 0, lost = 0;
    Window measured{measure_from, end};
    std::vector<int64_t> send_lag;  // how late requests left (generator health)
    epoll_event events[512];
    auto dispatch = [&](int64_t now) {
      while (dispatched < scheduled && !idle.empty()) {
        Conn* c = idle.front();
        idle.pop_front();
        const int64_t intended = due(dispatched++);
        if (intended >= measure_from) send_lag.push_back(now - intended);
        Send(*c, request_, intended);
      }
    };
    while (true) {
      int64_t now = Now();
      Advance(measured, now);
      while (due(scheduled) <= now && due(scheduled) < end) {
        if (due(scheduled) >= measure_from) ++in_window_due;
        ++scheduled;
      }
      dispatch(now);
      const bool all_due = due(scheduled) >= end;
      if (now >= hard_end || (all_due && dispatched == scheduled &&
                              std::none_of(conns.begin(), conns.end(), [](const Conn& c) {
                                return c.state == Conn::State::kBusy;
                              }))) {
        break;
      }
      int64_t wake = all_due ? hard_end : due(scheduled);
      wake = std::min(wake, now + kSecond / 10);
      int n = Wait(wake, events, 512);
      for (int i = 0; i < n; ++i) {
        Conn& c = *static_cast<Conn*>(events[i].data.ptr);
        if (c.state == Conn::State::kFree) continue;
        const int64_t t = Now();
        const bool was_busy = c.state == Conn::State::kBusy;
        Event e = Handle(c, events[i].events);
        if (e == Event::kResponse) {
          if (c.parser.status() != 200) ++errors_;
          if (c.intended >= measure_from) {
            ++completed;
            Record(t - c.intended);
          }
          c.state = Conn::State::kIdle;
          idle.push_back(&c);
        } else if (e == Event::kConnected) {
          idle.push_back(&c);
        } else if (e == Event::kFailed) {
          ++errors_;
          if (was_busy && c.intended >= measure_from) ++lost;
          idle.erase(std::remove(idle.begin(), idle.end(), &c), idle.end());
          CloseConn(c);
          Open(c, t);  // a replacement; it joins the idle queue once connected
        }
      }
      dispatch(Now());
    }
    const double cpu = (CpuNanos() - measured.cpu_start) / 1e9;
    // Requests never answered in time count as lost; those never sent, as unsent.
    int64_t unsent = scheduled - dispatched;
    for (Conn& c : conns) {
      if (c.state == Conn::State::kBusy && c.intended >= measure_from) ++lost;
    }
    std::sort(send_lag.begin(), send_lag.end());
    auto lag = [&](double q) {
      return send_lag.empty() ? 0.0
                              : send_lag[std::min(send_lag.size() - 1,
                                                  static_cast<size_t>(q * send_lag.size()))] /
                                    1e3;
    };
    std::printf(
        "{\"mode\": \"open\", \"rate\": %.0f, \"connections\": %d, \"due\": %lld, "
        "\"completed\": %lld, \"achieved_rps\": %.1f, \"errors\": %lld, \"lost\": %lld, "
        "\"unsent\": %lld, \"send_lag_p50_us\": %.1f, \"send_lag_p99_us\": %.1f, "
        "\"gen_cpu_pct\": %.1f, ",
        o_.rate, o_.connections, static_cast<long long>(in_window_due),
        static_cast<long long>(completed), completed / o_.duration, static_cast<long long>(errors_),
        static_cast<long long>(lost), static_cast<long long>(unsent), lag(0.5), lag(0.99),
        100.0 * cpu / o_.duration);
    PrintLatencies("");
    std::printf("}\n");
    return 0;
  }

  // --- churn ---------------------------------------------------------------------------------
  int Churn() {
    std::vector<Conn> conns(o_.connections);
    const int64_t t0 = Now();
    const int64_t measure_from = t0 + static_cast<int64_t>(o_.warmup * kSecond);
    const int64_t end = measure_from + static_cast<int64_t>(o_.duration * kSecond);
    const int64_t hard_end = end + static_cast<int64_t>(o_.drain * kSecond);
    const int64_t timeout = static_cast<int64_t>(o_.timeout * kSecond);
    for (Conn& c : conns) Open(c, t0);
    int64_t completed = 0, timeouts = 0;
    Window measured{measure_from, end};
    epoll_event events[512];
    int64_t last_sweep = t0;
    while (true) {
      const int64_t now = Now();
      Advance(measured, now);
      if (now >= hard_end ||
          (now >= end && std::all_of(conns.begin(), conns.end(), [](const Conn& c) {
             return c.state == Conn::State::kFree;
           }))) {
        break;
      }
      if (now - last_sweep > kSecond / 10) {
        last_sweep = now;
        for (Conn& c : conns) {
          if (c.state != Conn::State::kFree && now - c.opened > timeout) {
            ++timeouts;
            ++errors_;
            CloseConn(c);
            if (now < end) Open(c, now);
          }
        }
      }
      int n = Wait(std::min(now + kSecond / 10, now >= end ? hard_end : end), events, 512);
      for (int i = 0; i < n; ++i) {
        Conn& c = *static_cast<Conn*>(events[i].data.ptr);
        if (c.state == Conn::State::kFree) continue;
        Event e = Handle(c, events[i].events);
        const int64_t t = Now();
        if (e == Event::kConnected) {
          Send(c, close_request_, c.opened);
          continue;
        }
        if (e == Event::kResponse) {
          if (c.parser.status() != 200) {
            ++errors_;
          } else if (c.opened >= measure_from && t <= end) {
            ++completed;
            Record(t - c.opened);
          }
        } else if (e == Event::kFailed) {
          ++errors_;
        } else {
          continue;
        }
        CloseConn(c);
        if (t < end) Open(c, t);
      }
    }
    const double cpu = (CpuNanos() - measured.cpu_start) / 1e9;
    std::printf(
        "{\"mode\": \"churn\", \"connections\": %d, \"requests\": %lld, \"cps\": %.1f, "
        "\"errors\": %lld, \"timeouts\": %lld, \"gen_cpu_pct\": %.1f, ",
        o_.connections, static_cast<long long>(completed), completed / o_.duration,
        static_cast<long long>(errors_), static_cast<long long>(timeouts),
        100.0 * cpu / o_.duration);
    PrintLatencies("");
    std::printf("}\n");
    return 0;
  }

  // --- bulk ----------------------------------------------------------------------------------
  int Bulk() {
    std::vector<Conn> conns(1);
    if (ConnectAll(conns) == 0) return Fail("no connection could be opened");
    Conn& c = conns[0];
    const int64_t start = Now();
    const int64_t cpu_start = CpuNanos();
    const int64_t hard_end = start + static_cast<int64_t>(o_.timeout * kSecond);
    Send(c, request_, start);
    epoll_event events[4];
    bool ok = false;
    while (Now() < hard_end) {
      int n = Wait(hard_end, events, 4);
      if (n == 0) continue;
      Event e = Handle(c, events[0].events);
      if (e == Event::kResponse) {
        ok = c.parser.status() == 200;
        break;
      }
      if (e == Event::kFailed) break;
    }
    const double elapsed = (Now() - start) / 1e9;
    const double cpu = (CpuNanos() - cpu_start) / 1e9;
    const int64_t body = c.parser.body_bytes();
    std::printf(
        "{\"mode\": \"bulk\", \"ok\": %s, \"body_bytes\": %lld, \"seconds\": %.3f, "
        "\"mbytes_per_s\": %.1f, \"gen_cpu_pct\": %.1f}\n",
        ok ? "true" : "false", static_cast<long long>(body), elapsed, body / elapsed / 1e6,
        100.0 * cpu / elapsed);
    return ok ? 0 : 1;
  }

  // --- idle connections ----------------------------------------------------------------------
  int Idle() {
    if (o_.levels.empty()) return Fail("--levels is required for idle mode");
    const int total = o_.levels.back();
    std::vector<Conn> conns(total);
    constexpr int kInFlight = 64;  // connections being set up at once
    int next = 0, established = 0, failed = 0, in_flight = 0;
    epoll_event events[512];
    for (int target : o_.levels) {
      const int64_t deadline = Now() + static_cast<int64_t>(o_.timeout * kSecond) +
                               static_cast<int64_t>(target) * kSecond / 200;
      while (established + failed < target && Now() < deadline) {
        while (in_flight < kInFlight && next < target) {
          if (Open(conns[next], Now())) {
            ++in_flight;
          } else {
            ++failed;
          }
          ++next;
        }
        int n = Wait(std::min(deadline, Now() + kSecond / 10), events, 512);
        for (int i = 0; i < n; ++i) {
          Conn& c = *static_cast<Conn*>(events[i].data.ptr);
          if (c.state == Conn::State::kFree || c.state == Conn::State::kIdle) continue;
          Event e = Handle(c, events[i].events);
          if (e == Event::kConnected) {
            Send(c, request_, Now());
          } else if (e == Event::kResponse) {
            c.state = Conn::State::kIdle;
            --in_flight;
            if (c.parser.status() == 200) {
              ++established;
            } else {
              ++failed;
              CloseConn(c);
            }
          } else if (e == Event::kFailed) {
            --in_flight;
            ++failed;
            CloseConn(c);
          }
        }
      }
      std::printf("{\"mode\": \"idle\", \"level\": %d, \"established\": %d, \"failed\": %d}\n",
                  target, established, failed);
      std::fflush(stdout);
      char line[64];
      if (std::fgets(line, sizeof(line), stdin) == nullptr) break;
    }
    // Which connections did the proxies keep while they sat idle?
    int alive = 0;
    for (Conn& c : conns) {
      if (c.state != Conn::State::kIdle) continue;
      char b;
      ssize_t n = ::recv(c.fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
      if (n < 0 && errno == EAGAIN) ++alive;
    }
    std::printf("{\"mode\": \"idle\", \"alive\": %d, \"established\": %d}\n", alive, established);
    for (Conn& c : conns) CloseConn(c);
    return 0;
  }

  int Fail(const char* why) {
    std::printf("{\"mode\": \"%s\", \"error\": \"%s\"}\n", o_.mode.c_str(), why);
    return 1;
  }

  Options o_;
  int ep_ = -1;
  std::string request_;
  std::string close_request_;
  std::vector<char> buffer_;
  std::vector<int64_t> latencies_;
  int64_t errors_ = 0;
  int64_t bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Raw loopback TCP: the ceiling for moving bytes between two processes on this machine.

void Pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

int RawTcp(const Options& o) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  if (::listen(listener, 1) != 0) Die("listen");
  pid_t child = fork();
  if (child == 0) {
    Pin(o.sink_cpu);
    int fd = ::accept(listener, nullptr, nullptr);
    std::vector<char> buf(256 * 1024);
    int64_t got = 0;
    while (true) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      got += n;
    }
    _exit(got == o.bytes ? 0 : 1);
  }
  Pin(o.source_cpu);
  ::close(listener);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
  std::vector<char> buf(256 * 1024, 'x');
  const int64_t start = Now();
  int64_t sent = 0;
  while (sent < o.bytes) {
    ssize_t n = ::write(fd, buf.data(), std::min<int64_t>(buf.size(), o.bytes - sent));
    if (n <= 0) Die("write");
    sent += n;
  }
  ::shutdown(fd, SHUT_WR);
  int status = 0;
  waitpid(child, &status, 0);
  const double elapsed = (Now() - start) / 1e9;
  ::close(fd);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf(
      "{\"mode\": \"rawtcp\", \"ok\": %s, \"bytes\": %lld, \"seconds\": %.3f, "
      "\"mbytes_per_s\": %.1f}\n",
      ok ? "true" : "false", static_cast<long long>(sent), elapsed, sent / elapsed / 1e6);
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------

constexpr char kUsage[] =
    "usage: loadgen --mode=closed|open|churn|bulk|idle|rawtcp [--target=127.0.0.1:PORT]\n"
    "               [--path=/] [--host=web] [--connections=64] [--duration=10] [--warmup=1]\n"
    "               [--rate=RPS] [--drain=5] [--timeout=10] [--levels=1000,2000]\n"
    "               [--bytes=N --source-cpu=N --sink-cpu=N]\n";

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) return false;
    std::string key = arg.substr(2, eq - 2), value = arg.substr(eq + 1);
    if (key == "mode") {
      o->mode = value;
    } else if (key == "target") {
      size_t colon = value.rfind(':');
      if (colon == std::string::npos) return false;
      o->target.sin_family = AF_INET;
      o->target.sin_port = htons(static_cast<uint16_t>(std::atoi(value.c_str() + colon + 1)));
      if (inet_pton(AF_INET, value.substr(0, colon).c_str(), &o->target.sin_addr) != 1)
        return false;
    } else if (key == "path") {
      o->path = value;
    } else if (key == "host") {
      o->host = value;
    } else if (key == "duration") {
      o->duration = std::atof(value.c_str());
    } else if (key == "warmup") {
      o->warmup = std::atof(value.c_str());
    } else if (key == "rate") {
      o->rate = std::atof(value.c_str());
    } else if (key == "connections") {
      o->connections = std::atoi(value.c_str());
    } else if (key == "drain") {
      o->drain = std::atof(value.c_str());
    } else if (key == "timeout") {
      o->timeout = std::atof(value.c_str());
    } else if (key == "levels") {
      for (size_t p = 0; p < value.size();) {
        size_t comma = value.find(',', p);
        o->levels.push_back(std::atoi(value.substr(p, comma - p).c_str()));
        p = comma == std::string::npos ? value.size() : comma + 1;
      }
    } else if (key == "bytes") {
      o->bytes = std::atoll(value.c_str());
    } else if (key == "source-cpu") {
      o->source_cpu = std::atoi(value.c_str());
    } else if (key == "sink-cpu") {
      o->sink_cpu = std::atoi(value.c_str());
    } else if (key == "events") {
      o->events = value == "1" || value == "true";
    } else {
      return false;
    }
  }
  // Every loop is bounded: refuse runaway parameters.
  return o->duration > 0 && o->duration <= 3600 && o->warmup >= 0 && o->connections > 0 &&
         o->connections <= 20000 && o->timeout > 0 && o->rate >= 0 && o->rate <= 2e6;
}

}  // namespace
}  // namespace remora::bench

int main(int argc, char** argv) {
  remora::bench::Options o;
  if (!remora::bench::ParseArgs(argc, argv, &o)) {
    std::fputs(remora::bench::kUsage, stderr);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Timers here must be precise: the default 50 us slack would blur the open-loop schedule.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (o.mode == "rawtcp") return remora::bench::RawTcp(o);
  if (o.target.sin_family != AF_INET) {
    std::fputs(remora::bench::kUsage, stderr);
    return 2;
  }
  // A load generator must never be pointed at someone else's machine by a typo.
  if ((ntohl(o.target.sin_addr.s_addr) >> 24) != 127) {
    std::fputs("loadgen: --target must be a loopback address (127.0.0.0/8)\n", stderr);
    return 2;
  }
  return remora::bench::Generator(o).Run();
}
