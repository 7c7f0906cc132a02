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
  // One deadline for the whole detection, however many wakeups it takes.
  asio::steady_timer timer(socket.get_executor(), timeout);
  while (true) {
    auto result = co_await (socket.async_wait(tcp::socket::wait_read, kUseTuple) ||
                            timer.async_wait(kUseTuple));
    if (result.index() == 1) co_return Sniffed::kSilent;
    if (std::get<0>(std::get<0>(result))) co_return Sniffed::kClosed;
    unsigned char byte = 0;
    ssize_t n = 0;
    do {
      n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 1) co_return ClassifyFirstByte(byte);
    // A readiness report is a hint, not a promise of data (epoll(7): spurious wakeups; a reactor
    // may also deliver a stale event): nothing to read yet means wait on, as Envoy's listener
    // filters do on EAGAIN (ListenerFilterBufferImpl::peekFromSocket). Taking it for a close
    // dropped healthy connections before their first byte (the peer's TLS handshake then failed
    // with "unexpected eof while reading").
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    co_return Sniffed::kClosed;  // 0: the client's FIN; other errors: a reset or a failed socket
  }
}

}  // namespace remora::proxy::transport
