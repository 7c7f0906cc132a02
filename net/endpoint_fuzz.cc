// Fuzz target: ip:port parsing; what parses must print back to something that parses the same.
#include <cstdint>
#include <cstdlib>

#include "net/endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<remora::tcp::endpoint> ep = remora::net::ParseEndpoint(text);
  if (ep.ok()) {
    absl::StatusOr<remora::tcp::endpoint> again =
        remora::net::ParseEndpoint(remora::net::ToString(*ep));
    if (!again.ok()) std::abort();
    // IPv4-mapped IPv6 addresses print as IPv4: equal as addresses, not as families.
    remora::tcp::endpoint expected = *ep;
    if (ep->address().is_v6() && ep->address().to_v6().is_v4_mapped()) {
      expected = remora::tcp::endpoint(
          boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, ep->address().to_v6()),
          ep->port());
    }
    if (*again != expected) std::abort();
  }
  return 0;
}
