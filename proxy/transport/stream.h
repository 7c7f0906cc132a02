// A non-blocking byte stream over a TCP socket: plain, or TLS on top. The pump moves bytes between
// two streams; the streams only say whether an operation finished or must wait for readiness.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "net/asio.h"

namespace remora::proxy::transport {

enum class IoStatus {
  kOk,         // `bytes` moved (reads: > 0)
  kWantRead,   // retry after the socket is readable
  kWantWrite,  // retry after the socket is writable
  kEof,        // the peer finished sending (FIN, or TLS close_notify)
  kError,      // the stream is broken; `error` says how
};

struct IoResult {
  IoStatus status = IoStatus::kOk;
  size_t bytes = 0;
  // kError only: what broke, in words (Unavailable: "Connection reset by peer", "TLS read: ...").
  absl::Status error;
};

// The Status of a broken stream: Unavailable, as gRPC reports a failed transport.
absl::Status StreamError(absl::string_view what);

class Stream {
 public:
  explicit Stream(tcp::socket socket) : socket_(std::move(socket)) {}
  virtual ~Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Reads up to `len` bytes without blocking.
  virtual IoResult Read(char* data, size_t len) = 0;
  // Writes up to `len` bytes without blocking; may write fewer.
  virtual IoResult Write(const char* data, size_t len) = 0;
  // Ends the write direction (TCP FIN, or TLS close_notify then FIN); the read direction stays
  // open, so half-closed connections keep working. kWantRead/kWantWrite: call again when ready.
  virtual IoResult ShutdownWrite() = 0;

  // Waits for the readiness an earlier kWantRead / kWantWrite asked for.
  awaitable<error_code> Wait(IoStatus want);

  // Closes the socket; pending waits complete with operation_aborted.
  void Close();

  tcp::socket& socket() { return socket_; }

 protected:
  tcp::socket socket_;
};

// Plain TCP.
class TcpStream final : public Stream {
 public:
  explicit TcpStream(tcp::socket socket);
  IoResult Read(char* data, size_t len) override;
  IoResult Write(const char* data, size_t len) override;
  IoResult ShutdownWrite() override;
};

// Writes all of `data`, waiting for writability as needed.
awaitable<IoResult> WriteAll(Stream& stream, const char* data, size_t len);

}  // namespace remora::proxy::transport
