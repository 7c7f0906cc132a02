// An ordinary application for integration tests, knowing nothing of the mesh: a TCP server on
// 127.0.0.1 (own thread) that records every connection and byte it receives.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "net/asio.h"

namespace remora::testing {

class TestApp {
 public:
  enum class Mode {
    kEcho,    // writes back every byte; passes the client's half-close on after the last byte
    kReport,  // reads to EOF, then answers "received=<n> sha256=<hex>" and closes
    kHttp,    // answers each HTTP/1.1 request with 200 "hello from app <method> <path>"
  };

  explicit TestApp(Mode mode);
  ~TestApp();

  std::string endpoint() const;
  uint16_t port() const { return port_; }
  int64_t connections() const { return connections_.load(); }
  int64_t bytes_received() const { return bytes_received_.load(); }
  // Everything received, for small exchanges (capped at 1 MiB).
  std::string received() const;

 private:
  awaitable<void> Accept();
  awaitable<void> Serve(tcp::socket socket);

  Mode mode_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> bytes_received_{0};
  mutable std::mutex mu_;
  std::string received_;
  std::thread thread_;
};

}  // namespace remora::testing
