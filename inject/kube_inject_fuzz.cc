// Fuzz target: `remoractl kube-inject` on arbitrary manifests must not crash, and what it prints
// must read back as the same documents and be left alone by a second run (idempotence).
#include <cstdint>
#include <cstdlib>

#include "inject/kube_inject.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  remora::inject::InjectorSettings settings;
  remora::inject::KubeInjectOptions options;
  absl::StatusOr<remora::inject::KubeInjectOutput> first =
      remora::inject::InjectManifests(text, "fuzz", settings, options);
  if (!first.ok()) return 0;
  absl::StatusOr<remora::inject::KubeInjectOutput> second =
      remora::inject::InjectManifests(first->yaml, "fuzz", settings, options);
  if (!second.ok() || second->yaml != first->yaml) std::abort();
  return 0;
}
