// IP addresses and CIDR ranges as policies use them: parsed once at compile time, compared as
// integers per request.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::filters {

class IpAddress {
 public:
  // "10.0.0.5", "2001:db8::1". An IPv4-mapped IPv6 address ("::ffff:10.0.0.5", what a dual-stack
  // socket reports for an IPv4 peer) is the IPv4 address, so policies written for IPv4 match it.
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);
  static IpAddress V4(uint32_t host_order);
  static IpAddress V6(const std::array<uint8_t, 16>& bytes);

  IpAddress() = default;  // 0.0.0.0
  bool is_v4() const { return v4_; }
  std::string ToString() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.hi_ == b.hi_ && a.lo_ == b.lo_ && a.v4_ == b.v4_;
  }

 private:
  friend class Cidr;
  // Both families share the 128-bit IPv6 space; IPv4 lives at ::ffff:0:0/96.
  uint64_t hi_ = 0;
  uint64_t lo_ = 0xffff00000000ull;
  bool v4_ = true;
};

// An address range. Contains() only matches addresses of its own family, as Envoy's CidrRange and
// Kubernetes' ipBlock do.
class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Bits past the prefix are
  // ignored ("10.1.2.3/8" is 10.0.0.0/8), as Envoy and Kubernetes do.
  // InvalidArgument: "\"10.0.0.0/33\" is not a CIDR: prefix length 33 is over 32".
  static absl::StatusOr<Cidr> Parse(absl::string_view text);

  bool Contains(const IpAddress& ip) const;
  // Whether `inner` lies entirely inside this range (same family, longer or equal prefix).
  bool Contains(const Cidr& inner) const;
  bool is_v4() const { return base_.v4_; }
  // Prefix length in the range's own family (0..32 for IPv4, 0..128 for IPv6).
  int prefix_length() const { return base_.v4_ ? bits_ - 96 : bits_; }
  std::string ToString() const;

 private:
  IpAddress base_;  // masked
  int bits_ = 0;    // prefix length in the 128-bit space
};

}  // namespace remora::filters
