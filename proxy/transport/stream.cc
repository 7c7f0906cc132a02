#include "proxy/transport/stream.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace remora::proxy::transport {

absl::Status StreamError(absl::string_view what) { return absl::UnavailableError(what); }

awaitable<error_code> Stream::Wait(IoStatus want) {
  auto [ec] = co_await socket_.async_wait(
      want == IoStatus::kWantWrite ? tcp::socket::wait_write : tcp::socket::wait_read, kUseTuple);
  co_return ec;
}

void Stream::Close() {
  error_code ignored;
  socket_.close(ignored);
}

TcpStream::TcpStream(tcp::socket socket) : Stream(std::move(socket)) {
  error_code ignored;
  socket_.non_blocking(true, ignored);
  socket_.set_option(tcp::no_delay(true), ignored);
}

IoResult TcpStream::Read(char* data, size_t len) {
  while (true) {
    ssize_t n = ::recv(socket_.native_handle(), data, len, 0);
    if (n > 0) return {IoStatus::kOk, static_cast<size_t>(n), {}};
    if (n == 0) return {IoStatus::kEof, 0, {}};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::kWantRead, 0, {}};
    return {IoStatus::kError, 0, StreamError(std::strerror(errno))};
  }
}

IoResult TcpStream::Write(const char* data, size_t len) {
  while (true) {
    ssize_t n = ::send(socket_.native_handle(), data, len, MSG_NOSIGNAL);
    if (n >= 0) return {IoStatus::kOk, static_cast<size_t>(n), {}};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::kWantWrite, 0, {}};
    return {IoStatus::kError, 0, StreamError(std::strerror(errno))};
  }
}

IoResult TcpStream::ShutdownWrite() {
  if (::shutdown(socket_.native_handle(), SHUT_WR) != 0 && errno != ENOTCONN) {
    return {IoStatus::kError, 0, StreamError(std::strerror(errno))};
  }
  return {};
}

awaitable<IoResult> WriteAll(Stream& stream, const char* data, size_t len) {
  size_t done = 0;
  while (done < len) {
    IoResult r = stream.Write(data + done, len - done);
    if (r.status == IoStatus::kOk) {
      done += r.bytes;
    } else if (r.status == IoStatus::kWantRead || r.status == IoStatus::kWantWrite) {
      if (error_code ec = co_await stream.Wait(r.status)) {
        co_return IoResult{IoStatus::kError, done, StreamError(ec.message())};
      }
    } else {
      r.bytes = done;
      co_return r;
    }
  }
  co_return IoResult{IoStatus::kOk, done, {}};
}

}  // namespace remora::proxy::transport
