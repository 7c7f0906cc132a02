// Blocking sockets for integration tests, each operation bounded by a timeout, plus a small TLS
// client that presents whatever certificate a test hands it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "certs/openssl_ptr.h"

namespace remora::testing {

class Conn {
 public:
  static absl::StatusOr<Conn> Dial(const std::string& endpoint,
                                   absl::Duration timeout = absl::Seconds(10));
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&& other) noexcept;
  ~Conn();

  absl::Status SendAll(absl::string_view data);
  // Reads until the peer closes (EOF), up to `max` bytes. A reset after data returns the data.
  absl::StatusOr<std::string> ReadToEof(size_t max = 1 << 20);
  absl::StatusOr<std::string> ReadExactly(size_t n);
  void ShutdownWrite();
  int fd() const { return fd_; }

 private:
  explicit Conn(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// A TLS 1.3 client presenting `chain_pem`/`key_pem` (both empty: no client certificate) and
// trusting `bundle_pem`. It does not check the server's SPIFFE ID: tests read it from the result.
class TlsTestClient {
 public:
  static absl::StatusOr<TlsTestClient> Connect(const std::string& endpoint,
                                               const std::string& chain_pem,
                                               const std::string& key_pem,
                                               const std::string& bundle_pem);
  TlsTestClient(TlsTestClient&&) = default;
  TlsTestClient& operator=(TlsTestClient&&) = default;
  ~TlsTestClient();

  absl::Status Write(absl::string_view data);
  // Reads until close_notify/EOF or an error; returns what arrived and the error, if any.
  std::string ReadAll(std::string* error);
  std::string PeerSerial() const;
  std::string PeerUri() const;

 private:
  TlsTestClient() = default;
  certs::SslCtxPtr ctx_;
  certs::SslPtr ssl_;
  std::unique_ptr<Conn> conn_;
};

// SHA-256 of `data`, hex.
std::string Sha256Hex(absl::string_view data);

}  // namespace remora::testing
