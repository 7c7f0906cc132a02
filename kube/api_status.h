// What an API server's answer means: the JSON object of a success, or a metav1.Status failure
// turned into an absl::Status with the most specific code, a message that names the verb, the
// path and the server's words, and the HTTP code, reason and Retry-After as payloads.
//
//   400 BadRequest, 415, 422 Invalid  -> InvalidArgument
//   401 Unauthorized                  -> Unauthenticated
//   403 Forbidden                     -> PermissionDenied
//   404 NotFound                      -> NotFound
//   405 MethodNotAllowed, 501         -> Unimplemented
//   409 AlreadyExists                 -> AlreadyExists
//   409 Conflict (stale resourceVersion on update) -> Aborted (read again, re-apply, retry)
//   410 Expired / Gone                -> OutOfRange (the informer re-lists: IsExpired)
//   429 TooManyRequests, 5xx          -> Unavailable (retry later; RetryAfter says when)
//
// All functions here are pure: they parse bytes the network delivered and never assert.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

// A JSON document nested deeper than this is refused before parsing (common/json_nesting.h).
inline constexpr int kMaxJsonNesting = 128;

// Parses `text` as one JSON object. `what` names it in errors ("GET /api/v1/pods: response").
absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view text, absl::string_view what);

// The answer to `verb path`: the object of a 2xx answer, else the error (see above). `retry_after`
// is the Retry-After header ("" if none).
absl::StatusOr<nlohmann::json> ParseApiResponse(absl::string_view verb, absl::string_view path,
                                                int http_status, absl::string_view retry_after,
                                                absl::string_view body);

// The error of a metav1.Status object (an answer body, or a watch ERROR event's object).
absl::Status ErrorFromApiStatus(absl::string_view verb, absl::string_view path, int http_status,
                                const nlohmann::json& status, absl::string_view retry_after = "");

// The HTTP code of an error from the API server (0 when the error is not one: a transport error).
int HttpStatusCode(const absl::Status& status);
// Its metav1.Status reason ("NotFound", "AlreadyExists", "Conflict", "Expired"...), or "".
std::string ApiReason(const absl::Status& status);
// How long the server asked the client to wait (Retry-After, or details.retryAfterSeconds).
std::optional<absl::Duration> RetryAfter(const absl::Status& status);
// The resourceVersion or continue token is older than the server's history: list afresh.
bool IsExpired(const absl::Status& status);

}  // namespace remora::kube
