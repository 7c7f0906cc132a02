#include "proxy/http1/read_request_head.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/read_size.hpp>
#include <optional>
#include <variant>

#include "proxy/http1/request_checks.h"

namespace remora::proxy::http1 {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

absl::string_view Bytes(const boost::beast::flat_buffer& buffer) {
  return {static_cast<const char*>(buffer.data().data()), buffer.size()};
}

// Room for the next read: what the buffer already has free (at least 512 bytes), within its bound.
size_t ReadRoom(const boost::beast::flat_buffer& buffer) {
  return boost::beast::read_size(buffer, 65536);
}

}  // namespace

awaitable<HeadRead> ReadRequestHead(BeastStream& stream, boost::beast::flat_buffer& buffer,
                                    size_t limit, Clock::duration timeout) {
  if (buffer.size() == 0) {
    // Between requests: the idle timeout (the session's sweep) bounds this wait.
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(ReadRoom(buffer)), kUseTuple);
    buffer.commit(n);
    if (n == 0) co_return HeadRead{HeadRead::Outcome::kClosed, {}};
  }
  const Clock::time_point deadline = timeout >= Clock::time_point::max() - Clock::now()
                                         ? Clock::time_point::max()
                                         : Clock::now() + timeout;
  std::optional<asio::steady_timer> timer;
  while (true) {
    absl::StatusOr<size_t> end = FindRequestHeadEnd(Bytes(buffer), limit);
    if (!end.ok()) co_return HeadRead{HeadRead::Outcome::kRefused, end.status()};
    if (*end > 0) co_return HeadRead{HeadRead::Outcome::kComplete, {}};
    const size_t room = ReadRoom(buffer);
    if (room == 0) {  // only when the buffer's bound is below `limit`
      co_return HeadRead{HeadRead::Outcome::kRefused,
                         absl::ResourceExhaustedError("request head over the read buffer")};
    }
    if (!timer.has_value()) {
      timer.emplace(stream.get_executor());
      timer->expires_at(deadline);
    }
    // The read races the deadline; the loser is cancelled (BeastStream's wait on the socket
    // supports per-operation cancellation).
    std::variant<std::tuple<error_code, size_t>, std::tuple<error_code>> first = co_await (
        stream.async_read_some(buffer.prepare(room), kUseTuple) || timer->async_wait(kUseTuple));
    if (first.index() == 1) co_return HeadRead{HeadRead::Outcome::kTimedOut, {}};
    auto [ec, n] = std::get<0>(first);
    buffer.commit(n);
    if (ec == asio::error::eof) {
      co_return HeadRead{HeadRead::Outcome::kRefused,
                         absl::InvalidArgumentError(
                             "the connection ended inside a request head (partial message)")};
    }
    // Anything else: the connection failed, or was closed under us (idle sweep, drain).
    if (ec) co_return HeadRead{HeadRead::Outcome::kClosed, {}};
  }
}

}  // namespace remora::proxy::http1
