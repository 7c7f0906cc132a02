#include "inject/admission.h"

#include <exception>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_nesting.h"
#include "common/json_text.h"
#include "inject/injector.h"
#include "inject/pod_json.h"

namespace remora::inject {
namespace {

constexpr char kApiVersion[] = "admission.k8s.io/v1";
constexpr int kMaxNesting = 100;

std::string Dump(const OrderedJson& value) { return DumpJson(value); }

AdmissionReply HttpError(int status, std::string message) {
  AdmissionReply reply;
  reply.http_status = status;
  reply.content_type = "text/plain; charset=utf-8";
  reply.summary = absl::StrCat("rejected request (HTTP ", status, "): ", message);
  reply.body = absl::StrCat(std::move(message), "\n");
  return reply;
}

OrderedJson Envelope(OrderedJson response) {
  OrderedJson review = OrderedJson::object();
  review["apiVersion"] = kApiVersion;
  review["kind"] = "AdmissionReview";
  review["response"] = std::move(response);
  return review;
}

OrderedJson Allowed(const std::string& uid) {
  OrderedJson response = OrderedJson::object();
  response["uid"] = uid;
  response["allowed"] = true;
  return response;
}

AdmissionReply Reply(const OrderedJson& response, std::string summary) {
  AdmissionReply reply;
  reply.body = Dump(Envelope(response));
  reply.summary = std::move(summary);
  return reply;
}

AdmissionReply Denied(const std::string& uid, int code, const std::string& message,
                      const std::string& who) {
  OrderedJson response = OrderedJson::object();
  response["uid"] = uid;
  response["allowed"] = false;
  OrderedJson& status = response["status"];
  status["status"] = "Failure";
  status["message"] = message;
  status["reason"] = code == 500 ? "InternalError" : "BadRequest";
  status["code"] = code;
  return Reply(response, absl::StrCat("uid=", uid, " ", who, " denied: ", message));
}

std::string Str(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

AdmissionReply ReviewParsed(const Json& review, const InjectorSettings& settings) {
  if (!review.is_object()) {
    return HttpError(400, "not an AdmissionReview: the body is JSON but not an object");
  }
  const std::string kind = Str(review, "kind");
  if (kind != "AdmissionReview") {
    return HttpError(400, absl::StrCat("not an AdmissionReview: kind is \"", kind,
                                       "\", expected \"AdmissionReview\""));
  }
  const std::string api_version = Str(review, "apiVersion");
  if (api_version != kApiVersion) {
    return HttpError(
        400, absl::StrCat("unsupported apiVersion \"", api_version, "\": this webhook speaks ",
                          kApiVersion, " (set admissionReviewVersions: [v1])"));
  }
  auto request_it = review.find("request");
  if (request_it == review.end() || !request_it->is_object()) {
    return HttpError(400, "not an AdmissionReview request: request is missing or not an object");
  }
  const Json& request = *request_it;
  const std::string uid = Str(request, "uid");
  if (uid.empty()) {
    return HttpError(400, "request.uid is missing or empty: the response could not be matched");
  }

  const std::string ns = Str(request, "namespace");
  std::string who = absl::StrCat("pod ", ns.empty() ? "(no namespace)" : ns, "/");

  // Only pods, and only the pods resource itself.
  const Json* gvk = nullptr;
  if (auto it = request.find("kind"); it != request.end() && it->is_object()) gvk = &*it;
  const Json* gvr = nullptr;
  if (auto it = request.find("resource"); it != request.end() && it->is_object()) gvr = &*it;
  const std::string sub_resource = Str(request, "subResource");
  const bool is_pod = gvk != nullptr && Str(*gvk, "group").empty() &&
                      Str(*gvk, "version") == "v1" && Str(*gvk, "kind") == "Pod" &&
                      (gvr == nullptr || Str(*gvr, "resource") == "pods") && sub_resource.empty();
  if (!is_pod) {
    std::string got = "an unknown kind";
    if (gvk != nullptr) {
      const std::string group = Str(*gvk, "group");
      got = absl::StrCat(group.empty() ? "" : group + "/", Str(*gvk, "version"), " ",
                         Str(*gvk, "kind"), sub_resource.empty() ? "" : " subresource ",
                         sub_resource);
    }
    return Denied(uid, 400,
                  absl::StrCat("the Remora injection webhook injects pods only, and got ", got,
                               ": check the rules of its MutatingWebhookConfiguration"),
                  absl::StrCat("object ", ns, "/", Str(request, "name")));
  }

  const std::string operation = Str(request, "operation");
  if (operation != "CREATE") {
    return Reply(Allowed(uid),
                 absl::StrCat("uid=", uid, " ", who, Str(request, "name"), " allowed: operation ",
                              operation.empty() ? "(none)" : operation,
                              " is not CREATE (a running pod's containers cannot change)"));
  }
  auto object_it = request.find("object");
  if (object_it == request.end() || !object_it->is_object()) {
    return Denied(uid, 400, "request.object is missing or not an object: no pod to inject", who);
  }
  const Json& pod = *object_it;
  if (auto k = Str(pod, "kind"); !k.empty() && k != "Pod") {
    return Denied(uid, 400, absl::StrCat("request.object is a ", k, ", not a Pod"), who);
  }
  if (auto m = pod.find("metadata"); m != pod.end() && m->is_object()) {
    std::string name = Str(*m, "name");
    if (name.empty() && !Str(*m, "generateName").empty()) name = Str(*m, "generateName") + "*";
    absl::StrAppend(&who, name);
  }

  // The namespaceSelector of the webhook configuration has already matched the namespace.
  absl::StatusOr<InjectionResult> result =
      ComputeInjection(pod, /*namespace_enabled=*/true, settings);
  if (!result.ok()) {
    return Denied(
        uid, 400,
        absl::StrCat("Remora sidecar injection refused the pod: ", result.status().message()), who);
  }
  OrderedJson response = Allowed(uid);
  if (result->injected) {
    response["patchType"] = "JSONPatch";
    response["patch"] = absl::Base64Escape(Dump(result->patch));
  }
  if (!result->warnings.empty()) response["warnings"] = result->warnings;
  return Reply(response, absl::StrCat("uid=", uid, " ", who, " allowed: ", result->reason,
                                      result->warnings.empty() ? "" : "; warnings: ",
                                      absl::StrJoin(result->warnings, "; ")));
}

}  // namespace

AdmissionReply ReviewAdmission(absl::string_view body, const InjectorSettings& settings,
                               size_t max_body_bytes) {
  if (body.size() > max_body_bytes) {
    return HttpError(413, absl::StrCat("admission review of ", body.size(),
                                       " bytes is over the limit of ", max_body_bytes, " bytes"));
  }
  if (JsonNestsDeeperThan(body, kMaxNesting)) {
    return HttpError(400, absl::StrCat("request body is not JSON this webhook accepts: nested "
                                       "deeper than ",
                                       kMaxNesting, " levels"));
  }
  // JSON between systems is UTF-8 (RFC 8259 section 8.1). nlohmann refuses other bytes too, but
  // its message quotes them back, and this reply says charset=utf-8.
  if (absl::Status s = CheckUtf8(body, "request body is not UTF-8 JSON"); !s.ok()) {
    return HttpError(400, std::string(s.message()));
  }
  Json review;
  try {
    review = Json::parse(body.begin(), body.end());
  } catch (const Json::exception& e) {
    return HttpError(400, absl::StrCat("request body is not JSON: ", e.what()));
  }
  try {
    return ReviewParsed(review, settings);
  } catch (const std::exception& e) {
    // Every read above checks types first; reaching this is a bug, and the pod must not pass.
    const std::string uid =
        review.is_object() && review.contains("request") && review["request"].is_object()
            ? Str(review["request"], "uid")
            : "";
    const std::string message = absl::StrCat("internal error in the Remora injector: ", e.what());
    if (uid.empty()) return HttpError(500, message);
    return Denied(uid, 500, message, "pod");
  }
}

}  // namespace remora::inject
