// Fuzz target: the webhook's AdmissionReview handler must answer every body without crashing,
// and an injection patch it returns must apply to the pod it was computed for.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "inject/admission.h"
#include "inject/pod_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using remora::inject::Json;
  using remora::inject::OrderedJson;
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  remora::inject::AdmissionReply reply =
      remora::inject::ReviewAdmission(body, remora::inject::InjectorSettings{});
  if (reply.http_status != 200) {
    if (reply.http_status != 400 && reply.http_status != 413 && reply.http_status != 500) {
      std::abort();
    }
    return 0;
  }
  Json review = Json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded() || !review["response"]["uid"].is_string()) std::abort();
  const Json& response = review["response"];
  if (!response.contains("patch")) return 0;
  std::string patch_text;
  if (!absl::Base64Unescape(response["patch"].get<std::string>(), &patch_text)) std::abort();
  // The request parsed (the answer is 200), so its pod can be read back.
  Json request = Json::parse(body.begin(), body.end(), nullptr, false);
  try {
    OrderedJson pod(request["request"]["object"]);
    OrderedJson patched = pod.patch(OrderedJson::parse(patch_text));
    (void)patched;
  } catch (const std::exception&) {
    std::abort();  // a patch that does not apply to its own pod
  }
  return 0;
}
