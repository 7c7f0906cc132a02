#include "kube/token_review.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kube/resource_type.h"

namespace remora::kube {
namespace {

absl::Status ReadStrings(const nlohmann::json& object, const char* key,
                         std::vector<std::string>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("TokenReview status: ", key, " is not a list"));
  }
  for (const nlohmann::json& v : *it) {
    if (!v.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TokenReview status: ", key, " holds a non-string"));
    }
    out->push_back(v.get<std::string>());
  }
  return absl::OkStatus();
}

std::string StringAt(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

nlohmann::json MakeTokenReview(absl::string_view token, const std::vector<std::string>& audiences) {
  nlohmann::json review = {{"apiVersion", "authentication.k8s.io/v1"},
                           {"kind", "TokenReview"},
                           {"spec", {{"token", std::string(token)}}}};
  if (!audiences.empty()) review["spec"]["audiences"] = audiences;
  return review;
}

absl::StatusOr<TokenReviewResult> ParseTokenReview(
    const nlohmann::json& review, const std::vector<std::string>& requested_audiences) {
  if (!review.is_object()) {
    return absl::InvalidArgumentError("TokenReview answer is not an object");
  }
  TokenReviewResult result;
  auto status = review.find("status");
  if (status == review.end() || status->is_null())
    return result;  // nothing said: not authenticated
  if (!status->is_object()) {
    return absl::InvalidArgumentError("TokenReview answer: status is not an object");
  }
  auto authenticated = status->find("authenticated");
  if (authenticated != status->end() && !authenticated->is_null()) {
    if (!authenticated->is_boolean()) {
      return absl::InvalidArgumentError("TokenReview status: authenticated is not a boolean");
    }
    result.authenticated = authenticated->get<bool>();
  }
  result.error = StringAt(*status, "error");
  if (absl::Status s = ReadStrings(*status, "audiences", &result.audiences); !s.ok()) return s;
  auto user = status->find("user");
  if (user != status->end() && user->is_object()) {
    result.username = StringAt(*user, "username");
    result.uid = StringAt(*user, "uid");
    if (absl::Status s = ReadStrings(*user, "groups", &result.groups); !s.ok()) return s;
    auto extra = user->find("extra");
    if (extra != user->end() && extra->is_object()) {
      for (auto it = extra->begin(); it != extra->end(); ++it) {
        std::vector<std::string>& values = result.extra[it.key()];
        if (it->is_string()) {
          values.push_back(it->get<std::string>());
        } else if (it->is_array()) {
          for (const nlohmann::json& v : *it) {
            if (v.is_string()) values.push_back(v.get<std::string>());
          }
        }
      }
    }
  }
  if (result.authenticated && result.username.empty()) {
    result.authenticated = false;
    result.error = "the API server authenticated the token but named no user";
  }
  if (result.authenticated && !requested_audiences.empty()) {
    const bool confirmed =
        std::any_of(result.audiences.begin(), result.audiences.end(), [&](const std::string& a) {
          return std::find(requested_audiences.begin(), requested_audiences.end(), a) !=
                 requested_audiences.end();
        });
    if (!confirmed) {
      result.authenticated = false;
      result.error = absl::StrCat("the API server did not confirm the audience (asked for [",
                                  absl::StrJoin(requested_audiences, ", "), "], it answered [",
                                  absl::StrJoin(result.audiences, ", "), "])");
    }
  }
  return result;
}

awaitable<absl::StatusOr<TokenReviewResult>> ReviewToken(std::shared_ptr<ApiClient> client,
                                                         std::string token,
                                                         std::vector<std::string> audiences) {
  absl::StatusOr<nlohmann::json> answer =
      co_await client->Create(types::kTokenReviews, "", MakeTokenReview(token, audiences));
  if (!answer.ok()) co_return answer.status();
  co_return ParseTokenReview(*answer, audiences);
}

}  // namespace remora::kube
