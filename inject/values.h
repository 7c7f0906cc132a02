// Parsers for the small values that pod annotations and the injector settings carry: port lists,
// CIDR lists, Kubernetes resource quantities. Each returns InvalidArgument whose message names the
// offending item and what is wrong with it; callers prefix the annotation or field name.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::inject {

// "8080, 9090" -> {8080, 9090}: comma-separated TCP ports 1..65535, spaces around items allowed,
// no empty items; a repeated port is kept once.
absl::StatusOr<std::vector<int>> ParsePortList(absl::string_view text);

// "10.0.0.0/8, fd00::/8" -> {"10.0.0.0/8", "fd00::/8"}: comma-separated IPv4 or IPv6 CIDRs with a
// prefix length and no host bits set (iptables would silently mask them, hiding a typo). With
// `allow_star`, the whole value may be "*" (every address), returned as {"*"}.
absl::StatusOr<std::vector<std::string>> ParseCidrList(absl::string_view text, bool allow_star);

// A Kubernetes resource quantity (k8s.io/apimachinery resource.Quantity): a non-negative decimal
// number with an optional suffix: binary (Ki Mi Gi Ti Pi Ei), decimal (n u m k M G T P E) or an
// exponent (e3, E-2). "100m", "128Mi", "1.5", "2e3".
struct Quantity {
  std::string text;  // as written
  long double value = 0;
};
absl::StatusOr<Quantity> ParseQuantity(absl::string_view text);

// Comma-joined ports, for remora-init's flags.
std::string JoinPorts(const std::vector<int>& ports);

}  // namespace remora::inject
