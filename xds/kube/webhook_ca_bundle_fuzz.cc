// Fuzz target: the caBundle rewrite of a MutatingWebhookConfiguration read from the API server
// (xds/kube/webhook_ca_bundle.h). Whatever the object, it must not crash, and once rewritten a
// second rewrite must change nothing (or remora-control would write in a loop with its informer).
#include <cstdint>
#include <cstdlib>

#include "xds/kube/webhook_ca_bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json object =
      nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return 0;
  absl::StatusOr<bool> first = remora::xds::SetWebhookCaBundles(object, "Q0E=");
  if (!first.ok()) return 0;
  absl::StatusOr<bool> second = remora::xds::SetWebhookCaBundles(object, "Q0E=");
  if (!second.ok() || *second) std::abort();
  return 0;
}
