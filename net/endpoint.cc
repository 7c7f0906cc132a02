#include "net/endpoint.h"

#include <boost/asio/ip/address.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace remora::net {

absl::StatusOr<tcp::endpoint> ParseEndpoint(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an ip:port endpoint: ", why));
  };
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return invalid("missing \":port\"");
  absl::string_view host = text.substr(0, colon);
  absl::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != absl::string_view::npos) {
    return invalid("write IPv6 addresses in brackets, as [::1]:8080");
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535 || port_text.empty() ||
      port_text[0] == '+' || port_text[0] == '-') {
    return invalid("port must be a number from 0 to 65535");
  }
  error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(host), ec);
  if (ec) return invalid("host must be an IP address literal");
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

std::string ToString(const tcp::endpoint& ep) {
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; people read them as IPv4.
  if (ep.address().is_v6() && ep.address().to_v6().is_v4_mapped()) {
    return absl::StrCat(
        asio::ip::make_address_v4(asio::ip::v4_mapped, ep.address().to_v6()).to_string(), ":",
        ep.port());
  }
  if (ep.address().is_v6()) return absl::StrCat("[", ep.address().to_string(), "]:", ep.port());
  return absl::StrCat(ep.address().to_string(), ":", ep.port());
}

}  // namespace remora::net
