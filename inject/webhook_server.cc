#include "inject/webhook_server.h"

#include <boost/asio/ssl.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/openssl_error.h"
#include "certs/pem.h"
#include "common/file.h"
#include "common/log.h"
#include "net/endpoint.h"

namespace remora::inject {
namespace {

namespace ssl = boost::asio::ssl;

constexpr char kComponent[] = "inject.webhook";

// TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all of that kind).
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string TimeText(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeWebhookTlsContext(absl::string_view chain_pem,
                                                                    absl::string_view key_pem,
                                                                    absl::string_view what) {
  absl::StatusOr<certs::CertChain> chain =
      certs::ParseCertificates(chain_pem, absl::StrCat(what, " certificate"));
  if (!chain.ok()) return chain.status();
  absl::StatusOr<certs::EvpPkeyPtr> key =
      certs::ParsePrivateKey(key_pem, absl::StrCat(what, " key"));
  if (!key.ok()) return key.status();
  if (!certs::KeyMatchesCertificate(key->get(), (*chain)[0].get())) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the key does not belong to the certificate (files from different generations?)"));
  }
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": cannot create a TLS context: ", e.what()));
  }
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return certs::OpenSslError(absl::StatusCode::kInternal,
                               absl::StrCat(what, ": TLS protocol settings"));
  }
  SSL_CTX_set_options(
      native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate(native, (*chain)[0].get()) != 1) {
    return certs::OpenSslError(absl::StatusCode::kInvalidArgument,
                               absl::StrCat(what, ": cannot use the certificate"));
  }
  for (size_t i = 1; i < chain->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(native, (*chain)[i].get()) != 1) {
      return certs::OpenSslError(absl::StatusCode::kInvalidArgument,
                                 absl::StrCat(what, ": cannot add chain certificate ", i));
    }
  }
  if (SSL_CTX_use_PrivateKey(native, key->get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    return certs::OpenSslError(absl::StatusCode::kInvalidArgument,
                               absl::StrCat(what, ": cannot use the key"));
  }
  return ctx;
}

WebhookServer::WebhookServer(asio::io_context& io, WebhookServerOptions options,
                             InjectorSettings settings)
    : io_(io),
      options_(std::move(options)),
      settings_(std::move(settings)),
      watch_(std::make_shared<CertWatch>(io)) {}

WebhookServer::~WebhookServer() { Stop(); }

absl::StatusOr<std::unique_ptr<WebhookServer>> WebhookServer::Create(asio::io_context& io,
                                                                     WebhookServerOptions options,
                                                                     InjectorSettings settings) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "the injection webhook needs a serving certificate and key: set cert_file and key_file");
  }
  std::unique_ptr<WebhookServer> server(
      new WebhookServer(io, std::move(options), std::move(settings)));
  absl::StatusOr<std::shared_ptr<ssl::context>> tls = server->LoadTls();
  if (!tls.ok()) return tls.status();
  http::ServerOptions http_options;
  http_options.name = kComponent;
  http_options.body_limit = server->options_.max_body_bytes;
  http_options.read_timeout = server->options_.read_timeout;
  http_options.max_connections = server->options_.max_connections;
  WebhookServer* self = server.get();
  server->server_ = std::make_unique<http::Server>(
      io, [self](const http::Request& request) { return self->Handle(request); }, http_options,
      std::move(*tls));
  return server;
}

absl::StatusOr<std::shared_ptr<ssl::context>> WebhookServer::LoadTls() {
  absl::StatusOr<std::string> cert = ReadFile(options_.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(options_.key_file);
  if (!key.ok()) return key.status();
  watch_->fingerprint = *cert + '\0' + *key;
  absl::StatusOr<std::shared_ptr<ssl::context>> ctx = MakeWebhookTlsContext(
      *cert, *key,
      absl::StrCat("webhook certificate ", options_.cert_file, " / key ", options_.key_file));
  if (!ctx.ok()) return ctx.status();
  X509* leaf = SSL_CTX_get0_certificate((*ctx)->native_handle());
  certs::CertInfo info = certs::DescribeCertificate(leaf);
  if (info.not_after <= absl::Now()) {
    LOG_WARN(kComponent, "serving certificate ", options_.cert_file, " serial=", info.serial_hex,
             " expired at ", TimeText(info.not_after), "; the API server will refuse it");
  } else {
    LOG_INFO(kComponent, "serving certificate ", options_.cert_file, " serial=", info.serial_hex,
             " dns=", info.dns_sans.empty() ? std::string("(none)") : info.dns_sans[0],
             " expires=", TimeText(info.not_after));
  }
  return ctx;
}

absl::Status WebhookServer::Start() {
  if (absl::Status s = server_->Listen(options_.listen); !s.ok()) return s;
  server_->Start();
  LOG_INFO(kComponent, "serving POST ", kWebhookPath, " on https://",
           net::ToString(server_->bound()));
  if (options_.cert_poll_interval > absl::ZeroDuration()) {
    asio::co_spawn(io_, PollCertificate(watch_, this, options_.cert_poll_interval),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       LOG_ERROR(kComponent, "certificate poll loop failed: ", ex.what());
                     }
                   });
  }
  return absl::OkStatus();
}

void WebhookServer::Stop() {
  if (watch_->stopped) return;
  watch_->stopped = true;
  watch_->timer.cancel();
  if (server_ != nullptr) server_->Stop();
}

tcp::endpoint WebhookServer::bound() const { return server_->bound(); }

absl::Status WebhookServer::ReloadCertificate() {
  absl::StatusOr<std::shared_ptr<ssl::context>> tls = LoadTls();
  if (!tls.ok()) {
    LOG_ERROR(kComponent, "cannot load the new serving certificate, keeping the previous one: ",
              tls.status().message());
    return tls.status();
  }
  server_->SetTls(std::move(*tls));
  return absl::OkStatus();
}

std::string WebhookServer::CurrentFingerprint() const {
  absl::StatusOr<std::string> cert = ReadFile(options_.cert_file);
  absl::StatusOr<std::string> key = ReadFile(options_.key_file);
  return absl::StrCat(cert.ok() ? *cert : cert.status().ToString(), std::string(1, '\0'),
                      key.ok() ? *key : key.status().ToString());
}

awaitable<void> WebhookServer::PollCertificate(std::shared_ptr<CertWatch> watch,
                                               WebhookServer* self, absl::Duration interval) {
  // `self` is used only while `watch` says the server is running: Stop() (also run by the
  // destructor) sets `stopped` and cancels the timer before the server goes away.
  while (!watch->stopped) {
    watch->timer.expires_after(absl::ToChronoNanoseconds(interval));
    (void)co_await watch->timer.async_wait(kUseTuple);
    if (watch->stopped) break;
    std::string fingerprint = self->CurrentFingerprint();
    if (fingerprint == watch->fingerprint) continue;
    // Changed: try it once; a broken pair is not retried until the files change again.
    if (self->ReloadCertificate().ok()) {
      LOG_INFO(kComponent, "reloaded the serving certificate from ", self->options_.cert_file);
    }
    watch->fingerprint = std::move(fingerprint);
  }
}

http::Response WebhookServer::Handle(const http::Request& request) const {
  namespace beast_http = http::beast_http;
  const std::string target(request.target());
  const std::string path = target.substr(0, target.find('?'));
  if (path != kWebhookPath) {
    return http::MakeResponse(
        request, beast_http::status::not_found,
        absl::StrCat("not found: the Remora injection webhook serves POST ", kWebhookPath, "\n"));
  }
  if (request.method() != beast_http::verb::post) {
    http::Response response =
        http::MakeResponse(request, beast_http::status::method_not_allowed,
                           absl::StrCat("method not allowed: ", kWebhookPath, " takes POST\n"));
    response.set(beast_http::field::allow, "POST");
    return response;
  }
  const std::string content_type =
      absl::AsciiStrToLower(std::string(request[beast_http::field::content_type]));
  if (!absl::StartsWith(content_type, "application/json")) {
    return http::MakeResponse(request, beast_http::status::unsupported_media_type,
                              absl::StrCat("unsupported content type \"", content_type,
                                           "\": send an AdmissionReview as application/json\n"));
  }
  AdmissionReply reply = ReviewAdmission(request.body(), settings_, options_.max_body_bytes);
  if (reply.http_status == 200) {
    LOG_INFO(kComponent, reply.summary);
  } else {
    LOG_WARN(kComponent, reply.summary);
  }
  return http::MakeResponse(request, static_cast<beast_http::status>(reply.http_status),
                            std::move(reply.body), reply.content_type);
}

}  // namespace remora::inject
