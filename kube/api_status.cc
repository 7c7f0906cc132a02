#include "kube/api_status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_nesting.h"

namespace remora::kube {
namespace {

constexpr char kHttpPayload[] = "remora.kube/http-status";
constexpr char kReasonPayload[] = "remora.kube/reason";
constexpr char kRetryAfterPayload[] = "remora.kube/retry-after-seconds";
// Longest excerpt of a non-Status body quoted in a message.
constexpr size_t kExcerpt = 200;

absl::StatusCode CodeFor(int http_status, absl::string_view reason) {
  switch (http_status) {
    case 400:
    case 415:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return reason == "AlreadyExists" ? absl::StatusCode::kAlreadyExists
                                       : absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_status >= 500 && http_status <= 599) return absl::StatusCode::kUnavailable;
  if (http_status >= 400 && http_status <= 499) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kUnknown;
}

// A printable excerpt of an unexpected body for a message.
std::string Excerpt(absl::string_view body) {
  std::string out;
  for (char c : body.substr(0, kExcerpt)) {
    out.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : ' ');
  }
  if (body.size() > kExcerpt) out += "...";
  return out;
}

std::optional<int64_t> ParseRetryAfter(absl::string_view header) {
  int64_t seconds = 0;
  // RFC 9110 10.2.3 also allows an HTTP-date; kube-apiserver sends seconds.
  if (absl::SimpleAtoi(absl::StripAsciiWhitespace(header), &seconds) && seconds >= 0) {
    return seconds;
  }
  return std::nullopt;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

absl::Status MakeError(absl::string_view verb, absl::string_view path, int http_status,
                       absl::string_view reason, absl::string_view message,
                       std::optional<int64_t> retry_after) {
  absl::Status status(CodeFor(http_status, reason),
                      absl::StrCat(verb, " ", path, ": ", http_status, reason.empty() ? "" : " ",
                                   reason, message.empty() ? "" : ": ", message));
  status.SetPayload(kHttpPayload, absl::Cord(absl::StrCat(http_status)));
  if (!reason.empty()) status.SetPayload(kReasonPayload, absl::Cord(reason));
  if (retry_after) status.SetPayload(kRetryAfterPayload, absl::Cord(absl::StrCat(*retry_after)));
  return status;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view text, absl::string_view what) {
  if (JsonNestsDeeperThan(text, kMaxJsonNesting)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": JSON nested deeper than ", kMaxJsonNesting, " levels"));
  }
  nlohmann::json value = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                               /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not JSON: \"", Excerpt(text), "\""));
  }
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected a JSON object, got ", value.type_name()));
  }
  return value;
}

absl::Status ErrorFromApiStatus(absl::string_view verb, absl::string_view path, int http_status,
                                const nlohmann::json& status, absl::string_view retry_after) {
  // A watch ERROR event carries the code in the Status; an answer carries it in the status line.
  if (status.is_object()) {
    auto code = status.find("code");
    if (code != status.end() && code->is_number_integer()) {
      const int64_t c = code->get<int64_t>();
      if (c >= 100 && c <= 599 && (http_status == 0 || http_status == 200)) {
        http_status = static_cast<int>(c);
      }
    }
  }
  std::optional<int64_t> seconds = ParseRetryAfter(retry_after);
  if (!seconds && status.is_object()) {
    auto details = status.find("details");
    if (details != status.end() && details->is_object()) {
      auto ra = details->find("retryAfterSeconds");
      if (ra != details->end() && ra->is_number_integer() && ra->get<int64_t>() >= 0) {
        seconds = ra->get<int64_t>();
      }
    }
  }
  std::string message = StringField(status, "message");
  if (message.empty()) message = "(the server gave no message)";
  return MakeError(verb, path, http_status, StringField(status, "reason"), message, seconds);
}

absl::StatusOr<nlohmann::json> ParseApiResponse(absl::string_view verb, absl::string_view path,
                                                int http_status, absl::string_view retry_after,
                                                absl::string_view body) {
  const std::string what = absl::StrCat(verb, " ", path);
  if (http_status >= 200 && http_status <= 299) {
    return ParseJsonObject(body, absl::StrCat(what, ": response"));
  }
  absl::StatusOr<nlohmann::json> object = ParseJsonObject(body, what);
  if (object.ok() && StringField(*object, "kind") == "Status") {
    return ErrorFromApiStatus(verb, path, http_status, *object, retry_after);
  }
  // Not a Status (a proxy or load balancer in between): say what came back.
  return MakeError(
      verb, path, http_status, "",
      body.empty() ? "(empty body)" : absl::StrCat("unexpected body \"", Excerpt(body), "\""),
      ParseRetryAfter(retry_after));
}

int HttpStatusCode(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpPayload);
  int code = 0;
  if (payload && absl::SimpleAtoi(std::string(*payload), &code)) return code;
  return 0;
}

std::string ApiReason(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayload);
  return payload ? std::string(*payload) : std::string();
}

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterPayload);
  int64_t seconds = 0;
  if (payload && absl::SimpleAtoi(std::string(*payload), &seconds)) return absl::Seconds(seconds);
  return std::nullopt;
}

bool IsExpired(const absl::Status& status) {
  return status.code() == absl::StatusCode::kOutOfRange && HttpStatusCode(status) == 410;
}

}  // namespace remora::kube
