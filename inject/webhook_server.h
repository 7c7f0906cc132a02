// The injection webhook over HTTPS: POST /inject (port 15017 by default) answered by
// ReviewAdmission, on an io_context the caller runs (the control plane's). TLS 1.2 or 1.3 (the API
// server speaks both), ECDHE with AEAD ciphers only for 1.2; the serving certificate and key come
// from files and are reloaded when they change (a broken new pair is logged and the previous one
// kept), so a rotated Secret applies without a restart.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "http/http_server.h"
#include "inject/admission.h"
#include "inject/settings.h"
#include "net/asio.h"

namespace boost::asio::ssl {
class context;
}

namespace remora::inject {

inline constexpr char kWebhookPath[] = "/inject";
inline constexpr int kWebhookPort = 15017;

struct WebhookServerOptions {
  tcp::endpoint listen{asio::ip::address_v4::any(), kWebhookPort};
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;   // PEM private key
  // How often the certificate files are checked for changes; zero disables polling
  // (ReloadCertificate() still works).
  absl::Duration cert_poll_interval = absl::Seconds(10);
  size_t max_body_bytes = kDefaultMaxReviewBytes;
  absl::Duration read_timeout = absl::Seconds(10);
  int64_t max_connections = 256;
};

// A server-side TLS context for the webhook from PEM text: TLS 1.2+, the chain and the key
// (which must match). Errors name `what` and the problem.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeWebhookTlsContext(
    absl::string_view chain_pem, absl::string_view key_pem, absl::string_view what);

class WebhookServer {
 public:
  // Loads the certificate and key; an error names the file and what is wrong with it.
  static absl::StatusOr<std::unique_ptr<WebhookServer>> Create(asio::io_context& io,
                                                               WebhookServerOptions options,
                                                               InjectorSettings settings);
  ~WebhookServer();

  // Binds the listening socket and starts serving and polling the certificate files. Call once.
  absl::Status Start();
  // Stops accepting and polling; connections in flight finish on the io_context. Call Stop, and
  // destroy the server, on the io_context's thread or while it is not running.
  void Stop();
  // The bound address (port 0 in the options picks a free one).
  tcp::endpoint bound() const;

  // Re-reads the certificate files now. OK: new connections use them. Error: the previous
  // certificate stays in use. Must be called on the io_context's thread.
  absl::Status ReloadCertificate();

  // The HTTP layer, exposed for tests: POST /inject (any query string, as the API server adds
  // ?timeout=10s) with Content-Type application/json; 404 for other paths, 405 for other methods,
  // 415 for another content type.
  http::Response Handle(const http::Request& request) const;

 private:
  // Shared with the polling coroutine, which may outlive the server by one timer wakeup.
  struct CertWatch {
    explicit CertWatch(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::string fingerprint;  // contents of the files last loaded (or last refused)
    bool stopped = false;
  };

  WebhookServer(asio::io_context& io, WebhookServerOptions options, InjectorSettings settings);
  absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> LoadTls();
  std::string CurrentFingerprint() const;
  static awaitable<void> PollCertificate(std::shared_ptr<CertWatch> watch, WebhookServer* self,
                                         absl::Duration interval);

  asio::io_context& io_;
  WebhookServerOptions options_;
  InjectorSettings settings_;
  std::shared_ptr<CertWatch> watch_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace remora::inject
