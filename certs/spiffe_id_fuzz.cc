// Fuzz target: SpiffeId::Parse must never crash, and whatever it accepts must round-trip.
#include <cstdint>
#include <cstdlib>

#include "certs/spiffe_id.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<remora::certs::SpiffeId> id = remora::certs::SpiffeId::Parse(text);
  if (id.ok()) {
    if (id->str() != text) std::abort();
    absl::StatusOr<remora::certs::SpiffeId> again = remora::certs::SpiffeId::Parse(id->str());
    if (!again.ok() || again->trust_domain() != id->trust_domain()) std::abort();
    (void)id->Namespace();
    (void)id->ServiceAccount();
  }
  return 0;
}
