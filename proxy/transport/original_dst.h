// The destination a connection was addressed to before iptables/nftables REDIRECT rewrote it, and
// the address comparisons that tell a redirected connection from one dialled at the proxy itself.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "net/asio.h"

namespace remora::proxy::transport {

// SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6) from conntrack, IPv4 addresses as plain
// IPv4 (never ::ffff:a.b.c.d) and a link-local IPv6 address scoped to the interface the connection
// arrived on. FailedPrecondition when the connection was not redirected (someone dialled the
// listener directly).
absl::StatusOr<tcp::endpoint> OriginalDestination(tcp::socket& socket);

// The address as one family spells it: an IPv4-mapped IPv6 address (what a dual-stack [::]
// listener reports for an IPv4 peer) becomes plain IPv4. Comparisons of addresses the kernel
// reported through different sockets must use it.
asio::ip::address Canonical(const asio::ip::address& address);
tcp::endpoint Canonical(const tcp::endpoint& endpoint);

// Whether `destination` is served by one of `listeners` (the proxy's own bound endpoints): the same
// port, and the same address or a listener on every address (0.0.0.0, [::]). Callers pass only
// destinations that are local to the pod (an inbound original destination is always one).
bool IsOneOf(const tcp::endpoint& destination, const std::vector<tcp::endpoint>& listeners);

}  // namespace remora::proxy::transport
