// Fuzz target: the CA state a Secret holds (xds/kube/ca_secret_store.h, CaStateFromSecret). Anyone
// with write access to Secret remora-ca, or a broken API server, decides these bytes; a replica
// must refuse what does not parse and keep serving.
#include <cstdint>

#include "kube/api_status.h"
#include "xds/kube/ca_secret_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<nlohmann::json> secret = remora::kube::ParseJsonObject(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  if (!secret.ok()) return 0;
  (void)remora::xds::CaStateFromSecret(*secret, "Secret remora-system/remora-ca");
  return 0;
}
