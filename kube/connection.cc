#include "kube/connection.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "certs/keys.h"
#include "certs/openssl_error.h"
#include "certs/pem.h"

namespace remora::kube {
namespace {

namespace ssl = asio::ssl;
namespace beast = boost::beast;

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The name the server's certificate must carry.
const std::string& VerifiedName(const ClusterConfig& config) {
  return config.tls_server_name.empty() ? config.server.host : config.tls_server_name;
}

absl::Status SetUpVerification(SSL* ssl, const ClusterConfig& config) {
  const std::string& name = VerifiedName(config);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (IsIpLiteral(name)) {
    // RFC 6066 3: no IP literals in SNI; the certificate must carry the address as an IP SAN.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      return certs::OpenSslError(absl::StatusCode::kInternal,
                                 absl::StrCat("TLS: cannot verify address ", name));
    }
  } else {
    if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
      return certs::OpenSslError(absl::StatusCode::kInternal,
                                 absl::StrCat("TLS: cannot send server name ", name));
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1) {
      return certs::OpenSslError(absl::StatusCode::kInternal,
                                 absl::StrCat("TLS: cannot verify name ", name));
    }
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  return absl::OkStatus();
}

std::string TrustSource(const ClusterConfig& config) {
  return config.ca_pem.empty() ? "the system trust store"
                               : absl::StrCat("the CA of ", config.source);
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeClientTlsContext(const ClusterConfig& config) {
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("TLS: cannot create a client context: ", e.what()));
  }
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // kube-apiserver speaks HTTP/2 too; this client speaks HTTP/1.1 (Beast) and says so.
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(native, kAlpn, sizeof(kAlpn));
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (config.ca_pem.empty()) {
    if (SSL_CTX_set_default_verify_paths(native) != 1) {
      return certs::OpenSslError(absl::StatusCode::kInternal,
                                 "TLS: cannot load the system trust store");
    }
  } else {
    absl::StatusOr<certs::CertChain> cas =
        certs::ParseCertificates(config.ca_pem, absl::StrCat("the CA of ", config.source));
    if (!cas.ok()) return cas.status();
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    for (const certs::X509Ptr& ca : *cas) {
      if (X509_STORE_add_cert(store, ca.get()) != 1) {
        return certs::OpenSslError(absl::StatusCode::kInvalidArgument,
                                   absl::StrCat("TLS: cannot trust the CA of ", config.source));
      }
    }
  }
  if (!config.client_cert_pem.empty()) {
    const std::string what = absl::StrCat("the client certificate of ", config.source);
    absl::StatusOr<certs::CertChain> chain = certs::ParseCertificates(config.client_cert_pem, what);
    if (!chain.ok()) return chain.status();
    absl::StatusOr<certs::EvpPkeyPtr> key = certs::ParsePrivateKey(config.client_key_pem, what);
    if (!key.ok()) return key.status();
    if (SSL_CTX_use_certificate(native, (*chain)[0].get()) != 1 ||
        SSL_CTX_use_PrivateKey(native, key->get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
      return certs::OpenSslError(absl::StatusCode::kInvalidArgument,
                                 absl::StrCat("TLS: cannot use ", what));
    }
    for (size_t i = 1; i < chain->size(); ++i) {
      if (SSL_CTX_add1_chain_cert(native, (*chain)[i].get()) != 1) {
        return certs::OpenSslError(absl::StatusCode::kInvalidArgument,
                                   absl::StrCat("TLS: cannot use ", what));
      }
    }
  }
  return ctx;
}

awaitable<absl::StatusOr<std::unique_ptr<TlsStream>>> ConnectTls(asio::any_io_executor executor,
                                                                 ssl::context& tls,
                                                                 const ClusterConfig& config,
                                                                 ConnectTimeouts timeouts) {
  const std::string url = config.server.Url();
  tcp::resolver resolver(executor);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(config.server.host, std::to_string(config.server.port),
                                      tcp::resolver::numeric_service, kUseTuple);
  if (rec) {
    co_return absl::UnavailableError(absl::StrCat("connect to ", url, ": cannot resolve ",
                                                  config.server.host, ": ", rec.message()));
  }
  auto stream = std::make_unique<TlsStream>(executor, tls);
  beast::tcp_stream& tcp_layer = beast::get_lowest_layer(*stream);
  tcp_layer.expires_after(absl::ToChronoNanoseconds(timeouts.connect));
  auto [cec, endpoint] = co_await tcp_layer.async_connect(endpoints, kUseTuple);
  if (cec) {
    if (cec == beast::error::timeout) {
      co_return absl::DeadlineExceededError(absl::StrCat(
          "connect to ", url, ": no connection within ", absl::FormatDuration(timeouts.connect)));
    }
    co_return absl::UnavailableError(absl::StrCat("connect to ", url, ": ", cec.message()));
  }
  error_code ignored;
  tcp_layer.socket().set_option(tcp::no_delay(true), ignored);
  if (absl::Status s = SetUpVerification(stream->native_handle(), config); !s.ok()) co_return s;
  tcp_layer.expires_after(absl::ToChronoNanoseconds(timeouts.handshake));
  auto [hec] = co_await stream->async_handshake(ssl::stream_base::client, kUseTuple);
  tcp_layer.expires_never();
  if (hec) {
    const long verify = SSL_get_verify_result(stream->native_handle());
    if (verify != X509_V_OK) {
      co_return absl::UnavailableError(absl::StrCat(
          "TLS handshake with ", url,
          ": the server's certificate is not trusted: ", X509_verify_cert_error_string(verify),
          " (verified against ", TrustSource(config), " for the name ", VerifiedName(config),
          "); check certificate-authority and the server URL"));
    }
    if (hec == beast::error::timeout) {
      co_return absl::DeadlineExceededError(absl::StrCat("TLS handshake with ", url,
                                                         ": no answer within ",
                                                         absl::FormatDuration(timeouts.handshake)));
    }
    co_return absl::UnavailableError(absl::StrCat("TLS handshake with ", url, ": ", hec.message()));
  }
  co_return stream;
}

bool IdleConnectionAlive(TlsStream& stream) {
  const int fd = beast::get_lowest_layer(stream).socket().native_handle();
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;                                   // orderly close
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;  // nothing pending: alive
  // Bytes pending on an idle HTTP/1.1 connection: TLS 1.3 session tickets, or a close_notify.
  // Keep it; a request that then fails on it is retried once when it is safe to (api_client.cc).
  return true;
}

}  // namespace remora::kube
