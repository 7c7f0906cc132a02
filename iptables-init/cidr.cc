#include "iptables-init/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace remora::iptables_init {

Cidr::Cidr(IpFamily family, const std::array<uint8_t, 16>& bytes, int prefix_len)
    : family_(family), bytes_(bytes), prefix_len_(prefix_len) {
  // Clear the host bits so equal networks compare equal whatever address named them.
  for (int bit = prefix_len_; bit < 128; ++bit) {
    bytes_[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
}

absl::StatusOr<Cidr> Cidr::Parse(absl::string_view text) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a CIDR (", why, "; examples: 10.0.0.0/8, fd00::/8)"));
  };
  if (text.empty()) return bad("empty");
  absl::string_view address = text;
  absl::string_view prefix;
  bool has_prefix = false;
  if (size_t slash = text.find('/'); slash != absl::string_view::npos) {
    address = text.substr(0, slash);
    prefix = text.substr(slash + 1);
    has_prefix = true;
  }
  // inet_pton needs a NUL-terminated string; an address is at most 45 characters long.
  if (address.empty() || address.size() > 45) return bad("no valid address before the '/'");
  const std::string address_text(address);
  std::array<uint8_t, 16> bytes{};
  IpFamily family;
  if (::inet_pton(AF_INET, address_text.c_str(), bytes.data()) == 1) {
    family = IpFamily::kIpv4;
  } else if (::inet_pton(AF_INET6, address_text.c_str(), bytes.data()) == 1) {
    family = IpFamily::kIpv6;
  } else {
    return bad(absl::StrCat("\"", address, "\" is not an IPv4 or IPv6 address"));
  }
  const int max_len = family == IpFamily::kIpv4 ? 32 : 128;
  int prefix_len = max_len;
  if (has_prefix) {
    if (prefix.empty() || prefix.size() > 3 ||
        !std::all_of(prefix.begin(), prefix.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(prefix, &prefix_len) || prefix_len > max_len) {
      return bad(absl::StrCat("the prefix length must be a number from 0 to ", max_len));
    }
  }
  return Cidr(family, bytes, prefix_len);
}

std::string Cidr::AddressString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family_ == IpFamily::kIpv4 ? AF_INET : AF_INET6, bytes_.data(), buffer,
              sizeof(buffer));
  return buffer;
}

std::string Cidr::ToString() const { return absl::StrCat(AddressString(), "/", prefix_len_); }

bool Cidr::Contains(const Cidr& other) const {
  if (family_ != other.family_ || other.prefix_len_ < prefix_len_) return false;
  for (int bit = 0; bit < prefix_len_; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if ((bytes_[bit / 8] & mask) != (other.bytes_[bit / 8] & mask)) return false;
  }
  return true;
}

bool operator<(const Cidr& a, const Cidr& b) {
  return std::tie(a.family_, a.bytes_, a.prefix_len_) <
         std::tie(b.family_, b.bytes_, b.prefix_len_);
}

std::vector<Cidr> NormalizeCidrs(std::vector<Cidr> cidrs) {
  std::sort(cidrs.begin(), cidrs.end());
  std::vector<Cidr> out;
  for (const Cidr& c : cidrs) {
    // Sorted by address then wider-first, so a network that covers `c` sorts before it, and the
    // last kept network of the same family is the only candidate that can cover it.
    if (!out.empty() && out.back().Contains(c)) continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace remora::iptables_init
