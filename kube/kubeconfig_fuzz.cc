// Fuzz target: kubeconfig parsing (ParseKubeconfig, ParseServerUrl). The input is a whole file;
// each context it names is selected once, and its server string is parsed as a URL too.
#include <cstdint>

#include "kube/cluster_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace remora::kube;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseServerUrl(text.substr(0, 256));
  for (const char* context : {"", "fake", "other"}) {
    absl::StatusOr<KubeconfigContext> parsed = ParseKubeconfig(text, "kubeconfig fuzz", context);
    if (parsed.ok()) (void)ParseServerUrl(parsed->server);
  }
  return 0;
}
