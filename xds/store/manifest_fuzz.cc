// Fuzz target: what `remoractl apply` sends the control plane (multi-document YAML) must never
// crash it: splitting into keyed documents, then validating and parsing Remora's registry kinds
// (the policy kinds' parser has its own target, //filters:policy_yaml_fuzz).
#include <cstdint>

#include "xds/registry/registry.h"
#include "xds/store/config_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<std::vector<remora::xds::Document>> docs = remora::xds::ParseDocuments(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  if (!docs.ok()) return 0;
  for (const remora::xds::Document& doc : *docs) {
    if (!remora::xds::IsRemoraKind(doc.api_version, doc.key.kind)) continue;
    if (!remora::xds::ValidateRegistryDocument(doc).ok()) continue;
    if (doc.key.kind == "Workload") {
      (void)remora::xds::ParseWorkload(doc);
    } else if (doc.key.kind == "Service") {
      (void)remora::xds::ParseService(doc);
    } else {
      (void)remora::xds::ParseNamespace(doc);
    }
  }
  return 0;
}
