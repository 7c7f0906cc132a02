// Fuzz target: the test-case reader of `remoractl authz test` must never crash on any input.
#include <cstdint>

#include "filters/authz_cases.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)remora::filters::ParseAuthzTestCases(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  return 0;
}
