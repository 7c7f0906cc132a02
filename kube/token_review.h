// Asking the API server who a bearer token belongs to: a TokenReview
// (authentication.k8s.io/v1, POST /apis/authentication.k8s.io/v1/tokenreviews), as istiod does
// to authenticate a proxy's projected ServiceAccount token before signing its certificate.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/api_client.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

struct TokenReviewResult {
  bool authenticated = false;
  std::string username;  // "system:serviceaccount:<ns>:<sa>"
  std::string uid;
  std::vector<std::string> groups;
  // The intersection of the requested audiences and the token's (status.audiences).
  std::vector<std::string> audiences;
  // "authentication.kubernetes.io/pod-name", "authentication.kubernetes.io/pod-uid", ...
  std::map<std::string, std::vector<std::string>> extra;
  std::string error;  // status.error: why the token was refused, in the server's words
};

// The request body.
nlohmann::json MakeTokenReview(absl::string_view token, const std::vector<std::string>& audiences);

// Reads the status of the server's answer (untrusted JSON; pure). A missing `authenticated` is
// false: kube-apiserver answers {"user":{}} with no other field for a token it does not
// recognise at all. When `requested_audiences` is not empty, an authenticated answer must name
// one of them in status.audiences, or it counts as not authenticated (the TokenReview API
// reference: a client that sets spec.audiences "should validate that a compatible audience
// identifier is returned in the status.audiences field to ensure that the TokenReview server is
// audience aware").
absl::StatusOr<TokenReviewResult> ParseTokenReview(
    const nlohmann::json& review, const std::vector<std::string>& requested_audiences);

// POSTs the review. The token appears in no message or log.
awaitable<absl::StatusOr<TokenReviewResult>> ReviewToken(std::shared_ptr<ApiClient> client,
                                                         std::string token,
                                                         std::vector<std::string> audiences);

}  // namespace remora::kube
