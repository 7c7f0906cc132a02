// An application for integration tests whose answers the test scripts: a TCP server on 127.0.0.1
// (own thread) that hands each HTTP request head it receives to a function and writes back what
// that returns. An answer may switch the connection to echoing every later byte (a protocol
// switched by a 101), and the server never closes a connection first, so a test can make it send
// a response that never ends.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "net/asio.h"

namespace remora::testing {

class ScriptedApp {
 public:
  struct Answer {
    std::string bytes;       // written back as is
    bool then_echo = false;  // afterwards echo every byte the connection receives
  };
  using Script = std::function<Answer(const std::string& head)>;

  explicit ScriptedApp(Script script);
  ~ScriptedApp();

  std::string endpoint() const;
  uint16_t port() const { return port_; }
  int64_t connections() const { return connections_.load(); }
  // Everything received, over all connections (capped at 1 MiB).
  std::string received() const;

 private:
  awaitable<void> Accept();
  awaitable<void> Serve(tcp::socket socket);

  Script script_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<int64_t> connections_{0};
  mutable std::mutex mu_;
  std::string received_;
  std::thread thread_;
};

}  // namespace remora::testing
