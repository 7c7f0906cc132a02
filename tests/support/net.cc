#include "tests/support/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "certs/cert_info.h"
#include "certs/openssl_error.h"
#include "certs/pem.h"

namespace remora::testing {

absl::StatusOr<Conn> Conn::Dial(const std::string& endpoint, absl::Duration timeout) {
  size_t colon = endpoint.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(endpoint.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad endpoint ", endpoint));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad address ", endpoint));
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(timeout));
  tv.tv_usec = static_cast<suseconds_t>(absl::ToInt64Microseconds(timeout) % 1000000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("connect ", endpoint, ": ", err));
  }
  return Conn(fd);
}

Conn::Conn(Conn&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Conn& Conn::operator=(Conn&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Conn::~Conn() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status Conn::SendAll(absl::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Conn::ReadToEof(size_t max) {
  std::string out;
  char buf[65536];
  while (out.size() < max) {
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return out;
    if (n < 0) {
      if (errno == ECONNRESET && !out.empty()) return out;
      if (errno == ECONNRESET) return out;  // a reset with nothing read: the peer refused us
      return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::StatusOr<std::string> Conn::ReadExactly(size_t want) {
  std::string out;
  out.resize(want);
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::recv(fd_, out.data() + done, want - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0)
      return absl::UnavailableError(absl::StrCat("EOF after ", done, " of ", want, " bytes"));
    if (n < 0) return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  return out;
}

void Conn::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

absl::StatusOr<TlsTestClient> TlsTestClient::Connect(const std::string& endpoint,
                                                     const std::string& chain_pem,
                                                     const std::string& key_pem,
                                                     const std::string& bundle_pem) {
  absl::StatusOr<Conn> conn = Conn::Dial(endpoint);
  if (!conn.ok()) return conn.status();
  TlsTestClient client;
  client.conn_ = std::make_unique<Conn>(std::move(*conn));
  client.ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(client.ctx_.get(), TLS1_3_VERSION);
  if (!chain_pem.empty()) {
    absl::StatusOr<certs::CertChain> chain = certs::ParseCertificates(chain_pem, "client chain");
    absl::StatusOr<certs::EvpPkeyPtr> key = certs::ParsePrivateKey(key_pem, "client key");
    if (!chain.ok()) return chain.status();
    if (!key.ok()) return key.status();
    SSL_CTX_use_certificate(client.ctx_.get(), (*chain)[0].get());
    for (size_t i = 1; i < chain->size(); ++i)
      SSL_CTX_add1_chain_cert(client.ctx_.get(), (*chain)[i].get());
    SSL_CTX_use_PrivateKey(client.ctx_.get(), key->get());
  }
  absl::StatusOr<certs::CertChain> roots = certs::ParseCertificates(bundle_pem, "bundle");
  if (!roots.ok()) return roots.status();
  X509_STORE* store = SSL_CTX_get_cert_store(client.ctx_.get());
  for (auto& root : *roots) X509_STORE_add_cert(store, root.get());
  SSL_CTX_set_verify(client.ctx_.get(), SSL_VERIFY_PEER, nullptr);
  client.ssl_.reset(SSL_new(client.ctx_.get()));
  SSL_set_fd(client.ssl_.get(), client.conn_->fd());
  if (SSL_connect(client.ssl_.get()) != 1) {
    return absl::UnavailableError(absl::StrCat("TLS connect: ", certs::DrainOpenSslErrors()));
  }
  return client;
}

TlsTestClient::~TlsTestClient() = default;

absl::Status TlsTestClient::Write(absl::string_view data) {
  size_t n = 0;
  if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &n) != 1) {
    return absl::UnavailableError(absl::StrCat("TLS write: ", certs::DrainOpenSslErrors()));
  }
  return absl::OkStatus();
}

std::string TlsTestClient::ReadAll(std::string* error) {
  std::string out;
  char buf[16384];
  while (true) {
    size_t n = 0;
    if (SSL_read_ex(ssl_.get(), buf, sizeof(buf), &n) == 1) {
      out.append(buf, n);
      continue;
    }
    int err = SSL_get_error(ssl_.get(), 0);
    if (err != SSL_ERROR_ZERO_RETURN) {
      *error =
          absl::StrCat("TLS read: ", certs::DrainOpenSslErrors(), " (", std::strerror(errno), ")");
    }
    return out;
  }
}

std::string TlsTestClient::PeerSerial() const {
  X509* peer = SSL_get0_peer_certificate(ssl_.get());
  return peer ? certs::DescribeCertificate(peer).serial_hex : "";
}

std::string TlsTestClient::PeerUri() const {
  X509* peer = SSL_get0_peer_certificate(ssl_.get());
  if (peer == nullptr) return "";
  auto uris = certs::UriSans(peer);
  return uris.empty() ? "" : uris[0];
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace remora::testing
