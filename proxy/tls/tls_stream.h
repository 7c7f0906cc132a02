// TLS 1.3 over a non-blocking TCP socket, driven directly through OpenSSL's socket BIO: records are
// read and written straight from the socket with no intermediate copy.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "certs/openssl_ptr.h"
#include "proxy/tls/tls_context.h"
#include "proxy/transport/stream.h"

namespace remora::proxy::tls {

class TlsStream final : public transport::Stream {
 public:
  // `contexts` must outlive the stream (the stream keeps a reference). `expected_identities`
  // (client side) must outlive the handshake.
  static absl::StatusOr<std::unique_ptr<TlsStream>> Create(
      tcp::socket socket, std::shared_ptr<const TlsContexts> contexts, bool server,
      const std::vector<std::string>* expected_identities = nullptr, const std::string& sni = "");

  // Runs the handshake. On failure the status message says why in words: the peer's certificate
  // problem, a missing client certificate, or what the peer refused about ours.
  awaitable<absl::Status> Handshake();

  transport::IoResult Read(char* data, size_t len) override;
  transport::IoResult Write(const char* data, size_t len) override;
  transport::IoResult ShutdownWrite() override;

  // Valid after a successful handshake.
  const certs::SpiffeId& peer_id() const { return *check_->peer_id; }
  const PeerCheck& peer_check() const { return *check_; }
  SSL* ssl() const { return ssl_.get(); }

  TlsStream(tcp::socket socket, std::shared_ptr<const TlsContexts> contexts, certs::SslPtr ssl,
            std::unique_ptr<PeerCheck> check);

 private:
  transport::IoResult Result(int rc, const char* op);

  std::shared_ptr<const TlsContexts> contexts_;
  std::unique_ptr<PeerCheck> check_;
  certs::SslPtr ssl_;
  bool shutdown_sent_ = false;
};

}  // namespace remora::proxy::tls
