#include "proxy/http1/lingering_close.h"

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <optional>
#include <variant>

namespace remora::proxy::http1 {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

// The write direction's end, waiting as the stream asks (a TLS close_notify may need to write).
awaitable<void> EndWriteDirection(transport::Stream& stream) {
  while (true) {
    transport::IoResult s = stream.ShutdownWrite();
    if (s.status != transport::IoStatus::kWantRead && s.status != transport::IoStatus::kWantWrite) {
      co_return;
    }
    if (error_code ec = co_await stream.Wait(s.status)) co_return;
  }
}

}  // namespace

awaitable<void> LingeringClose(BeastStream& stream, Clock::duration linger, size_t max_bytes) {
  co_await EndWriteDirection(stream.stream());
  asio::steady_timer timer(stream.get_executor());
  timer.expires_after(linger);
  std::array<char, 4096> discard;
  size_t discarded = 0;
  while (discarded < max_bytes) {
    // The read races the deadline; the loser is cancelled (as in ReadRequestHead).
    std::variant<std::tuple<error_code, size_t>, std::tuple<error_code>> first = co_await (
        stream.async_read_some(asio::buffer(discard), kUseTuple) || timer.async_wait(kUseTuple));
    if (first.index() == 1) co_return;
    auto [ec, n] = std::get<0>(first);
    if (ec) co_return;  // the client's end (eof), or the connection failed or was closed
    discarded += n;
  }
}

}  // namespace remora::proxy::http1
