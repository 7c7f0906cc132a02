// Parsing and printing of "ip:port" endpoints as they appear in configuration and logs.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "net/asio.h"

namespace remora::net {

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:0". The host must be a literal IP address: the proxy
// never resolves names on the data path.
absl::StatusOr<tcp::endpoint> ParseEndpoint(absl::string_view text);

// "127.0.0.1:8080" / "[::1]:8080".
std::string ToString(const tcp::endpoint& ep);

}  // namespace remora::net
