#include "tests/support/test_app.h"

#include <openssl/evp.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace remora::testing {

TestApp::TestApp(Mode mode) : mode_(mode), acceptor_(io_) {
  tcp::endpoint ep(asio::ip::address_v4::loopback(), 0);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(4096);
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, Accept(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

TestApp::~TestApp() {
  io_.stop();
  thread_.join();
}

std::string TestApp::endpoint() const { return absl::StrCat("127.0.0.1:", port_); }

std::string TestApp::received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

awaitable<void> TestApp::Accept() {
  while (true) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
    if (ec) co_return;
    connections_.fetch_add(1);
    asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
  }
}

awaitable<void> TestApp::Serve(tcp::socket socket) {
  std::vector<char> buf(65536);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  int64_t total = 0;
  std::string http_pending;
  while (true) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), kUseTuple);
    if (ec) break;  // EOF or error
    total += static_cast<int64_t>(n);
    bytes_received_.fetch_add(static_cast<int64_t>(n));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (received_.size() < (1 << 20)) received_.append(buf.data(), n);
    }
    if (mode_ == Mode::kEcho) {
      auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(buf.data(), n), kUseTuple);
      if (wec) co_return;
    } else if (mode_ == Mode::kReport) {
      EVP_DigestUpdate(sha.get(), buf.data(), n);
    } else {
      http_pending.append(buf.data(), n);
      size_t end;
      while ((end = http_pending.find("\r\n\r\n")) != std::string::npos) {
        std::string head = http_pending.substr(0, end);
        http_pending.erase(0, end + 4);
        std::string first = head.substr(0, head.find("\r\n"));
        std::string body = absl::StrCat("hello from app ", first.substr(0, first.rfind(' ')), "\n");
        std::string response = absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(),
                                            "\r\nContent-Type: text/plain\r\n\r\n", body);
        auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(response), kUseTuple);
        if (wec) co_return;
      }
    }
  }
  error_code ignored;
  if (mode_ == Mode::kReport) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(sha.get(), digest, &len);
    std::string reply = absl::StrCat(
        "received=", total, " sha256=",
        absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), len)));
    co_await asio::async_write(socket, asio::buffer(reply), kUseTuple);
  }
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  // Wait for the peer to finish so the close is orderly.
  co_await socket.async_wait(tcp::socket::wait_read, kUseTuple);
}

}  // namespace remora::testing
