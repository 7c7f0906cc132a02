// Fuzz target: ip:port parsing; what parses must print back to something that parses the same.
#include <cstdint>
#include <cstdlib>

#include "net/endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<remora::tcp::endpoint> ep = remora::net::ParseEndpoint(text);
  if (ep.ok()) {
    absl::StatusOr<remora::tcp::endpoint> again = remora::net::ParseEndpoint(remora::net::ToString(*ep));
    if (!again.ok() || *again != *ep) std::abort();
  }
  return 0;
}
