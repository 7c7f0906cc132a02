// Fuzz target: the proxy's static YAML configuration parser must never crash or hang.
#include <cstdint>

#include "proxy/config/config_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)remora::proxy::ParseProxyConfigYaml(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
