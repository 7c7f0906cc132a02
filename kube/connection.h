// One HTTPS connection to the API server: TCP connect and TLS handshake, each under its own
// timeout, with the server's certificate verified against the configured CA and its name (DNS
// SAN) or address (IP SAN) checked during the handshake, as Go's crypto/tls does for client-go.
#pragma once

#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kube/cluster_config.h"
#include "net/asio.h"

namespace remora::kube {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// The client TLS context for `config`: TLS 1.2 or 1.3, peer verification against config.ca_pem
// (the system trust store when empty), and the client certificate if configured. Built once per
// client and shared by its connections.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeClientTlsContext(
    const ClusterConfig& config);

struct ConnectTimeouts {
  absl::Duration connect = absl::Seconds(10);
  absl::Duration handshake = absl::Seconds(10);
};

// Connects to config.server and completes the TLS handshake. Unavailable for network failures,
// DeadlineExceeded for timeouts; a refused server certificate says why and against what.
awaitable<absl::StatusOr<std::unique_ptr<TlsStream>>> ConnectTls(asio::any_io_executor executor,
                                                                 asio::ssl::context& tls,
                                                                 const ClusterConfig& config,
                                                                 ConnectTimeouts timeouts);

// False when the peer has closed an idle connection (a pending EOF or error): pooled
// connections are checked before reuse, as Go's transport does with its background read.
bool IdleConnectionAlive(TlsStream& stream);

}  // namespace remora::kube
