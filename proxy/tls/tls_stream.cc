#include "proxy/tls/tls_stream.h"

#include <openssl/err.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "certs/openssl_error.h"

namespace remora::proxy::tls {
namespace {

// Words for a failed handshake when our own verify callback left no reason: the peer refused us,
// or something below TLS went wrong.
std::string DescribeHandshakeError(unsigned long err, bool server) {
  if (ERR_GET_LIB(err) == ERR_LIB_SSL) {
    switch (ERR_GET_REASON(err)) {
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return "client presented no certificate; this port requires mTLS";
      case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return "server requires a client certificate";
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
        return absl::StrCat(server ? "client" : "server", " refused our certificate (",
                            ERR_reason_error_string(err), ")");
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_HTTP_REQUEST:
      case SSL_R_PACKET_LENGTH_TOO_LONG:
        return absl::StrCat("peer does not speak TLS (", ERR_reason_error_string(err), ")");
      case SSL_R_UNSUPPORTED_PROTOCOL:
        return "peer does not offer TLS 1.3";
      case SSL_R_NO_SHARED_CIPHER:
      case SSL_R_NO_SUITABLE_KEY_SHARE:
        return absl::StrCat("no common cipher suite or key exchange group (",
                            ERR_reason_error_string(err), ")");
      default:
        break;
    }
  }
  const char* reason = ERR_reason_error_string(err);
  return reason ? reason : "TLS handshake failed";
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsStream>> TlsStream::Create(
    tcp::socket socket, std::shared_ptr<const TlsContexts> contexts, bool server,
    const std::vector<std::string>* expected_identities, const std::string& sni) {
  certs::SslPtr ssl(SSL_new(server ? contexts->server() : contexts->client()));
  if (ssl == nullptr) return certs::OpenSslError(absl::StatusCode::kInternal, "SSL_new");
  if (SSL_set_fd(ssl.get(), socket.native_handle()) != 1) {
    return certs::OpenSslError(absl::StatusCode::kInternal, "SSL_set_fd");
  }
  if (server) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
  }
  auto check = std::make_unique<PeerCheck>();
  check->expected_identities = expected_identities;
  SSL_set_app_data(ssl.get(), check.get());
  return std::make_unique<TlsStream>(std::move(socket), std::move(contexts), std::move(ssl),
                                     std::move(check));
}

TlsStream::TlsStream(tcp::socket socket, std::shared_ptr<const TlsContexts> contexts,
                     certs::SslPtr ssl, std::unique_ptr<PeerCheck> check)
    : Stream(std::move(socket)),
      contexts_(std::move(contexts)),
      check_(std::move(check)),
      ssl_(std::move(ssl)) {
  error_code ignored;
  socket_.non_blocking(true, ignored);
  socket_.set_option(tcp::no_delay(true), ignored);
}

awaitable<absl::Status> TlsStream::Handshake() {
  const bool server = SSL_is_server(ssl_.get());
  while (true) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) break;
    int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      error_code ec = co_await Wait(err == SSL_ERROR_WANT_READ ? transport::IoStatus::kWantRead
                                                               : transport::IoStatus::kWantWrite);
      if (ec) co_return absl::UnavailableError(absl::StrCat("TLS handshake: ", ec.message()));
      continue;
    }
    if (!check_->failure.empty()) {
      certs::DrainOpenSslErrors();
      co_return absl::PermissionDeniedError(check_->failure);
    }
    unsigned long first = ERR_peek_error();
    std::string why;
    if (first != 0) {
      why = DescribeHandshakeError(first, server);
    } else if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
      why = errno != 0 && rc < 0
                ? absl::StrCat("connection failed during TLS handshake: ", std::strerror(errno))
                : "peer closed the connection during the TLS handshake";
    } else {
      why = absl::StrCat("TLS handshake failed (SSL error ", err, ")");
    }
    certs::DrainOpenSslErrors();
    co_return absl::UnauthenticatedError(why);
  }
  if (!check_->peer_id.has_value()) {
    // Unreachable with SSL_VERIFY_PEER and our callback; refuse rather than assume.
    co_return absl::UnauthenticatedError("peer presented no verified identity");
  }
  co_return absl::OkStatus();
}

transport::IoResult TlsStream::Result(int rc, const char* op) {
  int err = SSL_get_error(ssl_.get(), rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return {transport::IoStatus::kWantRead, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      return {transport::IoStatus::kWantWrite, 0, {}};
    case SSL_ERROR_ZERO_RETURN:
      return {transport::IoStatus::kEof, 0, {}};
    case SSL_ERROR_SYSCALL: {
      int saved = errno;
      std::string detail = certs::DrainOpenSslErrors();
      if (detail.empty()) {
        detail = saved != 0 ? std::strerror(saved) : "connection closed without TLS close_notify";
      }
      return {transport::IoStatus::kError, 0,
              transport::StreamError(absl::StrCat("TLS ", op, ": ", detail))};
    }
    default:
      return {transport::IoStatus::kError, 0,
              transport::StreamError(absl::StrCat("TLS ", op, ": ", certs::DrainOpenSslErrors()))};
  }
}

transport::IoResult TlsStream::Read(char* data, size_t len) {
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int rc = SSL_read_ex(ssl_.get(), data, len, &n);
  if (rc == 1) return {transport::IoStatus::kOk, n, {}};
  return Result(rc, "read");
}

transport::IoResult TlsStream::Write(const char* data, size_t len) {
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int rc = SSL_write_ex(ssl_.get(), data, len, &n);
  if (rc == 1) return {transport::IoStatus::kOk, n, {}};
  return Result(rc, "write");
}

transport::IoResult TlsStream::ShutdownWrite() {
  // TLS 1.3 closes each direction on its own (RFC 8446 6.1): after our close_notify the peer may
  // keep sending, and SSL_read keeps working until its close_notify arrives.
  if (!shutdown_sent_) {
    ERR_clear_error();
    int rc = SSL_shutdown(ssl_.get());
    if (rc < 0) {
      transport::IoResult r = Result(rc, "shutdown");
      if (r.status != transport::IoStatus::kOk) return r;
    }
    shutdown_sent_ = true;
  }
  ::shutdown(socket_.native_handle(), SHUT_WR);
  return {};
}

}  // namespace remora::proxy::tls
