// What a policy decision looks at: one connection (L4) or one HTTP request (L7), with the
// workloads at both ends. The proxy fills it from the connection and its registry;
// `remoractl authz check` from REQUEST.json (request_json.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "filters/ip_address.h"
#include "filters/label_selector.h"

namespace remora::filters {

enum class Direction { kInbound, kOutbound };
enum class Protocol { kTcp, kHttp };
const char* ToString(Direction direction);
const char* ToString(Protocol protocol);

struct SourceAttributes {
  // The peer's SPIFFE ID in Istio's form, without the scheme ("cluster.local/ns/a/sa/b"; see
  // NormalizePrincipal). Empty when the connection is not mutually authenticated (plaintext).
  std::string principal;
  // The source pod's namespace from the registry; empty for a peer that is not a known pod.
  // AuthorizationPolicy never uses it (Istio's source.namespace comes from the certificate).
  std::string ns;
  std::optional<IpAddress> ip;
  // The original client (X-Forwarded-For / PROXY protocol) when the proxy trusts one; otherwise
  // remote.ip is `ip`, as in Envoy without trusted hops.
  std::optional<IpAddress> remote_ip;
  Labels labels;
  Labels namespace_labels;
};

struct DestinationAttributes {
  std::string ns;  // empty for a destination that is not a known pod (outbound)
  Labels labels;
  Labels namespace_labels;
  std::optional<IpAddress> ip;
  uint16_t port = 0;      // 0: unknown
  std::string port_name;  // the container port's name, for NetworkPolicy named ports
  Protocol protocol = Protocol::kTcp;
};

// HTTP request attributes; only read when destination.protocol is kHttp.
struct HttpAttributes {
  std::string method;
  std::string path;  // as normalized by the proxy; a query string is ignored by `paths`
  std::string host;  // Host / :authority
  // Lowercase names; repeated headers joined with ',' (as Envoy's header matcher sees them).
  absl::flat_hash_map<std::string, std::string> headers;
};

struct RequestAttributes {
  Direction direction = Direction::kInbound;
  SourceAttributes source;
  DestinationAttributes destination;
  HttpAttributes http;
  std::string sni;  // connection.sni; empty when none was sent
};

// "spiffe://cluster.local/ns/a/sa/b" -> "cluster.local/ns/a/sa/b" (Istio writes principals
// without the scheme); any other text is returned unchanged.
std::string NormalizePrincipal(absl::string_view spiffe_id);

// The namespace segment of an Istio-form principal (".../ns/<ns>/..."), as Istio derives
// source.namespace from the certificate; empty when there is none.
absl::string_view PrincipalNamespace(absl::string_view principal);

}  // namespace remora::filters
