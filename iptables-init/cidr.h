// An IPv4 or IPv6 network in CIDR notation, as the --outbound-cidrs flags of remora-init take it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::iptables_init {

enum class IpFamily { kIpv4, kIpv6 };

class Cidr {
 public:
  // Parses "10.0.0.0/8", "fd00::/8" or a bare address (a /32 or /128 host network). Bits below the
  // prefix are cleared, as iptables and Go's net.ParseCIDR do: "10.1.2.3/8" is 10.0.0.0/8.
  // InvalidArgument says what is wrong with `text`.
  static absl::StatusOr<Cidr> Parse(absl::string_view text);

  IpFamily family() const { return family_; }
  int prefix_len() const { return prefix_len_; }
  bool is_host() const { return prefix_len_ == (family_ == IpFamily::kIpv4 ? 32 : 128); }

  // "10.0.0.0/8", "fd00::/8" (always with the prefix length).
  std::string ToString() const;
  // "10.0.0.0", "fd00::": the network address alone.
  std::string AddressString() const;

  // Whether every address of `other` is in this network (same family only).
  bool Contains(const Cidr& other) const;

  friend bool operator==(const Cidr& a, const Cidr& b) {
    return a.family_ == b.family_ && a.prefix_len_ == b.prefix_len_ && a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const Cidr& a, const Cidr& b) { return !(a == b); }
  // IPv4 before IPv6, then by address, then the wider network first.
  friend bool operator<(const Cidr& a, const Cidr& b);

 private:
  Cidr(IpFamily family, const std::array<uint8_t, 16>& bytes, int prefix_len);

  IpFamily family_ = IpFamily::kIpv4;
  std::array<uint8_t, 16> bytes_{};  // network byte order; IPv4 uses the first 4 bytes
  int prefix_len_ = 0;
};

// Sorts `cidrs` and drops every network already covered by a wider one in the list, so the rules
// hold each address range once (nft refuses overlapping elements in some versions).
std::vector<Cidr> NormalizeCidrs(std::vector<Cidr> cidrs);

}  // namespace remora::iptables_init
