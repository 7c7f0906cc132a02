// Fuzz target: the request reader of `remoractl authz check` must never crash on any input.
#include <cstdint>

#include "filters/request_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)remora::filters::ParseRequestJson(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
