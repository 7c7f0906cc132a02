#include "filters/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace remora::filters {
namespace {

uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Mask keeping the top `bits` (0..64) bits of a 64-bit half.
uint64_t HighMask(int bits) {
  if (bits <= 0) return 0;
  if (bits >= 64) return ~0ull;
  return ~0ull << (64 - bits);
}

}  // namespace

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress ip;
  ip.hi_ = 0;
  ip.lo_ = 0xffff00000000ull | host_order;
  ip.v4_ = true;
  return ip;
}

IpAddress IpAddress::V6(const std::array<uint8_t, 16>& bytes) {
  IpAddress ip;
  ip.hi_ = Load64(bytes.data());
  ip.lo_ = Load64(bytes.data() + 8);
  ip.v4_ = ip.hi_ == 0 && (ip.lo_ >> 32) == 0xffff;  // IPv4-mapped
  return ip;
}

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  // inet_pton wants a NUL-terminated string; addresses are short, anything long is not one.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IP address"));
  }
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  in_addr v4{};
  if (::inet_pton(AF_INET, buf, &v4) == 1) return V4(ntohl(v4.s_addr));
  std::array<uint8_t, 16> v6{};
  if (::inet_pton(AF_INET6, buf, v6.data()) == 1) return V6(v6);
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IP address"));
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (v4_) {
    in_addr a{};
    a.s_addr = htonl(static_cast<uint32_t>(lo_ & 0xffffffffu));
    ::inet_ntop(AF_INET, &a, buf, sizeof(buf));
  } else {
    uint8_t bytes[16];
    for (int i = 0; i < 8; ++i) {
      bytes[i] = static_cast<uint8_t>(hi_ >> (56 - 8 * i));
      bytes[8 + i] = static_cast<uint8_t>(lo_ >> (56 - 8 * i));
    }
    ::inet_ntop(AF_INET6, bytes, buf, sizeof(buf));
  }
  return buf;
}

absl::StatusOr<Cidr> Cidr::Parse(absl::string_view text) {
  const size_t slash = text.find('/');
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text.substr(0, slash));
  if (!ip.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not ", slash == absl::string_view::npos ? "an IP address" : "a CIDR",
        slash == absl::string_view::npos ? "" : ": the part before '/' is not an IP address"));
  }
  const int max = ip->v4_ ? 32 : 128;
  int length = max;
  if (slash != absl::string_view::npos) {
    absl::string_view digits = text.substr(slash + 1);
    bool all_digits = !digits.empty() && digits.size() <= 3;
    for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
    if (!all_digits || !absl::SimpleAtoi(digits, &length)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\" is not a CIDR: prefix length \"", digits, "\" is not a number"));
    }
    if (length > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" is not a CIDR: prefix length ", length, " is over ", max));
    }
  }
  Cidr cidr;
  cidr.bits_ = ip->v4_ ? length + 96 : length;
  cidr.base_ = *ip;
  cidr.base_.hi_ &= HighMask(cidr.bits_);
  cidr.base_.lo_ &= HighMask(cidr.bits_ - 64);
  return cidr;
}

bool Cidr::Contains(const IpAddress& ip) const {
  if (ip.v4_ != base_.v4_) return false;
  return (ip.hi_ & HighMask(bits_)) == base_.hi_ && (ip.lo_ & HighMask(bits_ - 64)) == base_.lo_;
}

bool Cidr::Contains(const Cidr& inner) const {
  return inner.base_.v4_ == base_.v4_ && inner.bits_ >= bits_ && Contains(inner.base_);
}

std::string Cidr::ToString() const { return absl::StrCat(base_.ToString(), "/", prefix_length()); }

}  // namespace remora::filters
