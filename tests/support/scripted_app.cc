#include "tests/support/scripted_app.h"

#include <boost/asio/write.hpp>
#include <vector>

#include "absl/strings/str_cat.h"

namespace remora::testing {

ScriptedApp::ScriptedApp(Script script) : script_(std::move(script)), acceptor_(io_) {
  tcp::endpoint ep(asio::ip::address_v4::loopback(), 0);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(64);
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, Accept(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

ScriptedApp::~ScriptedApp() {
  io_.stop();
  thread_.join();
}

std::string ScriptedApp::endpoint() const { return absl::StrCat("127.0.0.1:", port_); }

std::string ScriptedApp::received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

awaitable<void> ScriptedApp::Accept() {
  while (true) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
    if (ec) co_return;
    connections_.fetch_add(1);
    asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
  }
}

awaitable<void> ScriptedApp::Serve(tcp::socket socket) {
  std::vector<char> buf(65536);
  std::string pending;
  bool echo = false;
  while (true) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), kUseTuple);
    if (ec) co_return;  // EOF or error: the proxy closed first
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (received_.size() < (1 << 20)) received_.append(buf.data(), n);
    }
    pending.append(buf.data(), n);
    size_t end;
    while (!echo && (end = pending.find("\r\n\r\n")) != std::string::npos) {
      const std::string head = pending.substr(0, end + 4);
      pending.erase(0, end + 4);
      Answer answer = script_(head);
      echo = answer.then_echo;
      auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(answer.bytes), kUseTuple);
      if (wec) co_return;
    }
    if (echo && !pending.empty()) {
      auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(pending), kUseTuple);
      if (wec) co_return;
      pending.clear();
    }
  }
}

}  // namespace remora::testing
