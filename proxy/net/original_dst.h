// The destination a connection was addressed to before iptables/nftables REDIRECT rewrote it.
#pragma once

#include "absl/status/statusor.h"
#include "net/asio.h"

namespace remora::net {

// SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6) from conntrack. FailedPrecondition when the
// connection was not redirected (someone dialled the listener directly).
absl::StatusOr<tcp::endpoint> OriginalDestination(tcp::socket& socket);

}  // namespace remora::net
