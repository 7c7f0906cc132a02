#include "proxy/transport/sniff.h"

#include <sys/socket.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cerrno>

namespace remora::proxy::transport {

using namespace boost::asio::experimental::awaitable_operators;

const char* ToString(Sniffed s) {
  switch (s) {
    case Sniffed::kTls:
      return "tls";
    case Sniffed::kPlaintext:
      return "plaintext";
    case Sniffed::kSilent:
      return "silent";
    case Sniffed::kClosed:
      return "closed";
  }
  return "?";
}

awaitable<Sniffed> SniffFirstByte(tcp::socket& socket,
                                  std::chrono::steady_clock::duration timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto result = co_await (socket.async_wait(tcp::socket::wait_read, kUseTuple) ||
                          timer.async_wait(kUseTuple));
  if (result.index() == 1) co_return Sniffed::kSilent;
  if (std::get<0>(std::get<0>(result))) co_return Sniffed::kClosed;
  unsigned char byte = 0;
  while (true) {
    ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 1) co_return ClassifyFirstByte(byte);
    if (n < 0 && errno == EINTR) continue;
    co_return Sniffed::kClosed;
  }
}

}  // namespace remora::proxy::transport
