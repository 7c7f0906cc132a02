// The injection webhook's protocol logic as a pure function: the body of one POST from the API
// server (an admission.k8s.io/v1 AdmissionReview) in, the HTTP status and body to answer out.
// WebhookServer only moves bytes; tests and the fuzzer call this directly.
//
// Answers, by case:
//   body over the size limit                       413, text: "... over the limit of N bytes"
//   not JSON, or nested deeper than 100 levels     400, text: "request body is not JSON: ..."
//   JSON but not an AdmissionReview object         400, text: "not an AdmissionReview: ..."
//   apiVersion other than admission.k8s.io/v1      400, text: "unsupported apiVersion ..."
//   request or request.uid missing                 400, text: "... request.uid ..."
// Once the uid is known the answer is an AdmissionReview (HTTP 200) echoing it:
//   not a Pod (kind, resource or subresource)      allowed: false, code 400 "... injects pods only"
//   operation other than CREATE                    allowed: true, no patch (pods are immutable)
//   request.object missing or not an object        allowed: false, code 400
//   pod refused by the injector (bad annotation,   allowed: false, code 400, the injector's message
//     reserved port or name, wrong field type)
//   pod not injected (opted out, host network...)  allowed: true, no patch
//   pod injected                                   allowed: true, patchType JSONPatch, base64 patch
//   unexpected internal failure                    allowed: false, code 500
// plus `warnings` (shown by kubectl) when the injector has any. An HTTP error makes the API
// server apply the webhook's failurePolicy; a denial tells the user why.
//
// Namespaces: the AdmissionReview does not carry the namespace's labels. The webhook
// configuration's namespaceSelector (remora-injection: enabled) sends only pods of enabled
// namespaces here, so every pod received is treated as being in an enabled namespace.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "inject/settings.h"

namespace remora::inject {

inline constexpr size_t kDefaultMaxReviewBytes = 4 << 20;

struct AdmissionReply {
  int http_status = 200;
  std::string content_type = "application/json";
  std::string body;
  // One line for the log: uid, namespace/pod and the outcome.
  std::string summary;
};

AdmissionReply ReviewAdmission(absl::string_view body, const InjectorSettings& settings,
                               size_t max_body_bytes = kDefaultMaxReviewBytes);

}  // namespace remora::inject
