// Every stat the proxy keeps, in one place. They are exported as Prometheus metrics
// (remora_listener_*{listener="..."} and remora_proxy_*) on the admin and Prometheus ports.
#pragma once

#include "common/stats.h"

namespace remora::proxy {

#define REMORA_LISTENER_STATS(COUNTER, GAUGE)                                                 \
  COUNTER(downstream_cx, "Connections accepted")                                              \
  GAUGE(downstream_cx_active, "Connections open now")                                         \
  COUNTER(downstream_cx_refused, "Connections refused, for any reason (each one is logged)")  \
  COUNTER(overload_refused, "Connections refused because max_connections was reached")        \
  COUNTER(direction_overload_refused,                                                         \
          "Connections refused because max_inbound_connections or max_outbound_connections "  \
          "(this listener's direction) was reached")                                          \
  COUNTER(source_overload_refused,                                                            \
          "Inbound connections refused because their source address already had "             \
          "max_handshakes_per_source connections in protocol detection or TLS handshake")     \
  COUNTER(tls_handshake_ok, "Successful mTLS handshakes")                                     \
  COUNTER(tls_handshake_failed, "mTLS handshakes that failed or whose peer was refused")      \
  COUNTER(plaintext_refused, "Plaintext connections refused because the port requires mTLS")  \
  COUNTER(plaintext_cx, "Connections served in plaintext (PERMISSIVE, DISABLE, passthrough)") \
  COUNTER(no_identity_refused, "mTLS refused because the proxy holds no valid certificate")   \
  COUNTER(upstream_connect_failed, "Connections whose upstream could not be reached")         \
  COUNTER(timeout, "Connections closed by a connect, handshake or idle timeout")              \
  COUNTER(bytes_from_downstream, "Bytes read from the accepting side")                        \
  COUNTER(bytes_to_downstream, "Bytes written to the accepting side")                         \
  COUNTER(cx_error, "Connections that ended with an I/O error rather than a clean close")     \
  COUNTER(authz_denied, "Connections or requests denied by authorization policy")             \
  COUNTER(http_cx, "Connections served as HTTP/1.1 (per-request policy)")                     \
  COUNTER(http_requests, "HTTP requests received on HTTP ports")                              \
  COUNTER(http_denied, "HTTP requests answered 403 by policy")                                \
  COUNTER(http_bad_request, "HTTP requests refused with 400 by the strict parser")            \
  COUNTER(http_request_head_timeout, "HTTP request heads not complete in time (408, closed)") \
  COUNTER(http_bad_response, "App responses refused or cut off (malformed, over a bound)")
REMORA_DECLARE_STATS(ListenerStats, REMORA_LISTENER_STATS);

#define REMORA_PROXY_STATS(COUNTER, GAUGE)                                                \
  GAUGE(cx_active, "Connections open across all listeners")                               \
  COUNTER(identity_updates, "New certificate or trust bundle generations applied")        \
  COUNTER(identity_update_failures, "Certificate or bundle loads refused (old one kept)") \
  GAUGE(identity_expiry_seconds, "Unix time at which the current certificate expires")    \
  GAUGE(draining, "1 while the proxy drains after SIGTERM")
REMORA_DECLARE_STATS(ProxyStats, REMORA_PROXY_STATS);

}  // namespace remora::proxy
