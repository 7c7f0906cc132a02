// Fuzz target: what the API server answers. The input is a body; it is read as the answer to a
// request with several status codes (success, Status errors, Retry-After), and a successful
// answer is also read as a TokenReview and as a list page's cached objects.
#include <cstdint>

#include "kube/api_status.h"
#include "kube/object_cache.h"
#include "kube/token_review.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace remora::kube;
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  const absl::string_view retry_after = body.substr(0, 4);
  for (int code : {200, 201, 400, 401, 409, 410, 422, 429, 500, 504, 302}) {
    absl::StatusOr<nlohmann::json> answer =
        ParseApiResponse("GET", "/api/v1/pods", code, retry_after, body);
    if (!answer.ok()) {
      (void)HttpStatusCode(answer.status());
      (void)ApiReason(answer.status());
      (void)RetryAfter(answer.status());
      (void)IsExpired(answer.status());
      continue;
    }
    (void)ErrorFromApiStatus("watch", "/api/v1/pods", 0, *answer);
    (void)ParseTokenReview(*answer, {"remora-control"});
    (void)ParseTokenReview(*answer, {});
    auto items = answer->find("items");
    if (items != answer->end() && items->is_array()) {
      ObjectCache cache;
      std::vector<ObjectPtr> objects;
      for (const nlohmann::json& item : *items) {
        absl::StatusOr<ObjectPtr> object = MakeCachedObject(item);
        if (object.ok()) objects.push_back(*object);
      }
      (void)cache.Replace(std::move(objects), "1");
      (void)cache.Snapshot();
    }
  }
  return 0;
}
