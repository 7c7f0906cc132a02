// Fuzz target: the CA state as a Kubernetes Secret holds it (certs/ca_state.h).
#include <cstdint>

#include "certs/ca_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<remora::certs::CaState> state = remora::certs::ParseCaState(text, "fuzz");
  if (state.ok())
    (void)remora::certs::ParseCaState(remora::certs::SerializeCaState(*state), "again");
  return 0;
}
