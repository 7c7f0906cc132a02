#include "proxy/transport/original_dst.h"

#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "net/endpoint.h"

namespace remora::proxy::transport {
namespace {

// From linux/netfilter_ipv6/ip6_tables.h, which does not compile standalone in C++.
constexpr int kIp6tSoOriginalDst = 80;

}  // namespace

asio::ip::address Canonical(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

tcp::endpoint Canonical(const tcp::endpoint& endpoint) {
  return tcp::endpoint(Canonical(endpoint.address()), endpoint.port());
}

bool IsOneOf(const tcp::endpoint& destination, const std::vector<tcp::endpoint>& listeners) {
  const tcp::endpoint dest = Canonical(destination);
  for (const tcp::endpoint& listener : listeners) {
    if (listener.port() == 0 || listener.port() != dest.port()) continue;
    const asio::ip::address address = Canonical(listener.address());
    // A [::] listener is dual-stack: it serves IPv4 destinations too.
    if (address.is_unspecified() || address == dest.address()) return true;
  }
  return false;
}

absl::StatusOr<tcp::endpoint> OriginalDestination(tcp::socket& socket) {
  error_code ec;
  tcp::endpoint local = socket.local_endpoint(ec);
  if (ec) return absl::UnavailableError(absl::StrCat("local address: ", ec.message()));
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  const bool v6 = local.address().is_v6() && !local.address().to_v6().is_v4_mapped();
  int rc = v6 ? ::getsockopt(socket.native_handle(), SOL_IPV6, kIp6tSoOriginalDst, &storage, &len)
              : ::getsockopt(socket.native_handle(), SOL_IP, SO_ORIGINAL_DST, &storage, &len);
  if (rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("no original destination (SO_ORIGINAL_DST: ", std::strerror(errno),
                     "); the connection was not redirected by the capture rules"));
  }
  tcp::endpoint original;
  if (storage.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
    original =
        tcp::endpoint(asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)), ntohs(sin->sin_port));
  } else if (storage.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), sin6->sin6_addr.s6_addr, bytes.size());
    asio::ip::address_v6 address(bytes);
    // A link-local destination means nothing without its interface: the one it arrived on, which
    // REDIRECT made the local address's.
    if (address.is_link_local() && local.address().is_v6()) {
      address.scope_id(local.address().to_v6().scope_id());
    }
    original = tcp::endpoint(address, ntohs(sin6->sin6_port));
  } else {
    return absl::FailedPreconditionError("original destination has an unknown address family");
  }
  original = Canonical(original);
  // Conntrack answers for connections it did not NAT too, with the listener's own address. On a
  // dual-stack listener that address reads ::ffff:a.b.c.d while conntrack says a.b.c.d: compared
  // as such they never matched, and a direct connection to the capture port looped through the
  // proxy (issue 16).
  if (original == Canonical(local)) {
    return absl::FailedPreconditionError(
        absl::StrCat("connection was addressed to the listener itself (", net::ToString(original),
                     "), not redirected by the capture rules"));
  }
  return original;
}

}  // namespace remora::proxy::transport
