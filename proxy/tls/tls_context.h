// The TLS configuration a proxy uses for one identity generation: a server context (inbound,
// requires a client certificate) and a client context (outbound), both TLS 1.3 only, both checking
// the peer as an X.509-SVID of the mesh. Built once per identity change and shared by every
// connection (building one costs far more than a handshake).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "certs/openssl_ptr.h"
#include "certs/spiffe_id.h"
#include "proxy/tls/identity.h"

namespace remora::proxy::tls {

// Per-connection verification state, attached to the SSL object. The verify callback fills it.
struct PeerCheck {
  // Client side: identities the destination may present (secure naming). Empty: any identity of
  // the trust domain (server side).
  const std::vector<std::string>* expected_identities = nullptr;
  std::optional<certs::SpiffeId> peer_id;
  std::string presented;  // the peer's URI SANs, for logs, even when verification fails
  std::string failure;    // why the peer was refused, in words; empty if it was not
};

struct TlsOptions {
  std::string trust_domain = "cluster.local";
  // TLS 1.3 cipher suites and key exchange groups, OpenSSL syntax.
  std::string ciphersuites =
      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  std::string groups = "X25519:P-256";
};

class TlsContexts {
 public:
  static absl::StatusOr<std::shared_ptr<const TlsContexts>> Build(
      std::shared_ptr<const Identity> identity, const TlsOptions& options);

  SSL_CTX* server() const { return server_.get(); }
  SSL_CTX* client() const { return client_.get(); }
  const Identity& identity() const { return *identity_; }
  const std::string& trust_domain() const { return trust_domain_; }

 private:
  struct Private {};

 public:
  explicit TlsContexts(Private) {}

 private:
  std::shared_ptr<const Identity> identity_;
  std::string trust_domain_;
  certs::SslCtxPtr server_;
  certs::SslCtxPtr client_;
};

}  // namespace remora::proxy::tls
