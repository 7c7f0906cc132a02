// The proxy's configuration as domain types: what a static YAML file or the control plane
// describes. Nothing here knows YAML or protobuf; one translation function fills it from each.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "net/asio.h"

namespace remora::proxy {

// Istio's PeerAuthentication modes.
enum class PeerAuthMode { kStrict, kPermissive, kDisable };
enum class AppProtocol { kTcp, kHttp };
// What the outbound listener does with a destination that is not a known mesh service.
enum class UnknownDestinationPolicy { kPassthrough, kDeny };
// Where an inbound listener without a `target` reaches the app.
enum class InboundForward {
  // The connection's original destination, the pod's own address, from the source 127.0.0.6
  // (::6): what Istio does since 1.10. A listener the app bound to 127.0.0.1 stays private.
  kOriginalDestination,
  // 127.0.0.1 (::1) and the original port: the old behaviour, an explicit opt-in. It exposes
  // every loopback-only listener of the app to the callers the policy admits.
  kLocalhost,
};

const char* ToString(PeerAuthMode mode);
const char* ToString(AppProtocol protocol);
const char* ToString(UnknownDestinationPolicy policy);
const char* ToString(InboundForward forward);

struct ListenerConfig {
  std::string name;       // "inbound", "outbound", or user-chosen
  bool inbound = true;    // direction
  tcp::endpoint address;  // where to listen
  // Instead of SO_ORIGINAL_DST: inbound forwards here; outbound treats it as the destination.
  std::optional<tcp::endpoint> target;
  // Skipped with a log line, rather than failing startup, when the address cannot be bound (the
  // default IPv6 listeners on a node without IPv6).
  bool optional = false;
};

struct InboundPort {
  PeerAuthMode mode = PeerAuthMode::kStrict;
  AppProtocol protocol = AppProtocol::kTcp;
  std::string name{};  // the app's name for the port (NetworkPolicy named ports)
};

// A mesh destination this workload may call: the addresses its app dials and the identities that
// may serve them (secure naming: a server presenting any other identity is refused).
struct Service {
  std::string name;
  std::vector<tcp::endpoint> addresses;
  std::vector<std::string> identities;
  AppProtocol protocol = AppProtocol::kTcp;
  std::string sni;  // optional TLS server name to send
  std::string port_name;
  // Where to connect when the app dials one of `addresses` that is not itself an endpoint (a
  // virtual address): one of these, in turn. Empty: connect to the dialled address.
  std::vector<tcp::endpoint> endpoints;
};

struct Limits {
  int64_t workers = 2;
  // Open connections, both directions together.
  int64_t max_connections = 20000;
  // Each direction on its own, so connections from the network cannot take the slots the app's
  // own outbound calls need (or the reverse); Envoy likewise bounds each listener apart from its
  // global downstream limit. The parser fills in half of max_connections for one left unset; 0
  // only before that.
  int64_t max_inbound_connections = 0;
  int64_t max_outbound_connections = 0;
  // Inbound connections from one source address that are still in protocol detection or TLS
  // handshake: a slow or silent client holds at most this many unauthenticated slots, so it takes
  // at least eight sources to fill the inbound limit. Default (0 until the parser fills it in): an
  // eighth of max_inbound_connections. Every connection from a pod comes from its one address, so
  // it must stay well above a busy client's burst of new connections (1250 by default).
  int64_t max_handshakes_per_source = 0;
  int64_t listen_backlog = 1024;
  int64_t buffer_size = 16384;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Hours(1);
  // How long PERMISSIVE waits for a client's first byte before treating it as a plaintext
  // server-first protocol.
  absl::Duration sniff_timeout = absl::Seconds(2);
  absl::Duration drain_timeout = absl::Seconds(20);
  // HTTP ports: a request head larger than this is refused (400); a request body is read whole
  // (so its framing is checked before the app sees it) up to this size, else 413. The response
  // head from the app is held to the same bound (else 502). The bytes the proxy holds unparsed
  // per direction (a head, a chunk-size line with its extensions, a trailer section) are bounded
  // by max(http_max_header_bytes, buffer_size): beyond it the request is refused (400) or the
  // response cut off, and the connection closed.
  int64_t http_max_header_bytes = 16 * 1024;
  int64_t http_max_body_bytes = 16 * 1024 * 1024;
  // HTTP ports: once the first byte of a request head has arrived, the whole head must arrive
  // within this, else 408 and close (Envoy's request_headers_timeout; slowloris). Waiting for
  // that first byte, between keep-alive requests, is idle time (idle_timeout).
  absl::Duration request_head_timeout = absl::Seconds(10);
  // Authorization documents this proxy accepts from the control plane; more are refused (NACKed)
  // one by one, protecting the proxy's memory from a runaway configuration.
  int64_t max_policies = 10000;
};

// The limit of one direction; half of max_connections when unset (a Limits not from the parser).
int64_t DirectionLimit(const Limits& limits, bool inbound);
// max_handshakes_per_source; an eighth of the inbound limit when unset.
int64_t HandshakesPerSourceLimit(const Limits& limits);

struct IdentityFilesConfig {
  std::string cert_file;    // PEM chain, leaf first
  std::string key_file;     // PEM private key
  std::string bundle_file;  // PEM trust bundle
  absl::Duration poll_interval = absl::Seconds(1);
};

// Where the proxy gets its certificate and dynamic configuration when it is part of a mesh with
// a control plane (instead of static files).
struct ControlPlaneConfig {
  // host:port of remora-control (xDS + CA over TLS), or any gRPC target naming several replicas,
  // e.g. "ipv4:10.0.0.1:15012,10.0.0.2:15012": gRPC's pick_first connects to the first that
  // answers and, when that replica goes away, to another (the last configuration stays enforced
  // meanwhile). In a cluster the Service name does the same through DNS.
  std::string address;
  // The name the control plane's certificate must carry (a DNS SAN), whatever address is dialled.
  std::string server_name = "remora-control.remora-system.svc";
  std::string token_file;  // the bootstrap token, re-read before every certificate request
  std::string ca_file;     // roots to trust the control plane by before the first trust bundle
  // Requested certificate lifetime; zero leaves it to the CA (its --cert-lifetime).
  absl::Duration cert_lifetime = absl::ZeroDuration();
  absl::Duration retry_initial = absl::Seconds(1);
  absl::Duration retry_max = absl::Seconds(30);
  bool delta = false;  // use incremental (delta) xDS instead of state of the world
};

// The workload this proxy serves. With a control plane, name and namespace identify it (the
// control plane checks them against its registry and the proxy's certificate).
struct WorkloadConfig {
  std::string name;
  std::string ns;
  std::string service_account;
  std::string ip;
  std::map<std::string, std::string> labels;  // static mode: what local policies select on
};

// A kubelet probe of the app, rewritten by the injector to the sidecar's health port: the proxy
// runs it against the app locally, so probes keep working when the app's port requires mTLS.
struct AppProbe {
  bool http = true;  // httpGet; false: tcpSocket
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/";
  bool https = false;  // scheme HTTPS (the kubelet does not verify the certificate)
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ProxyConfig {
  std::string trust_domain = "cluster.local";
  IdentityFilesConfig identity;  // static mode
  std::optional<ControlPlaneConfig> control_plane;
  WorkloadConfig workload;
  // Static mode: policy documents (AuthorizationPolicy, NetworkPolicy, PeerAuthentication) to
  // enforce without a control plane.
  std::vector<std::string> policy_files;
  // Rewritten probes by health-port path ("/app-health/<container>/readyz").
  std::map<std::string, AppProbe> app_probes;
  std::vector<ListenerConfig> listeners;
  std::optional<tcp::endpoint> admin;       // loopback admin API (15000)
  std::optional<tcp::endpoint> prometheus;  // metrics (15090)
  std::optional<tcp::endpoint> health;      // kubelet readiness (15021)
  PeerAuthMode default_mode = PeerAuthMode::kStrict;
  std::map<uint16_t, InboundPort> inbound_ports;
  InboundForward inbound_forward = InboundForward::kOriginalDestination;
  UnknownDestinationPolicy unknown_destinations = UnknownDestinationPolicy::kPassthrough;
  std::vector<Service> services;
  Limits limits;
  std::string log_level = "info";

  // The settings for an inbound port: its own entry, else the default mode over TCP.
  InboundPort PortSettings(uint16_t port) const;
};

}  // namespace remora::proxy
