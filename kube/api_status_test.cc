// How answers of the API server become results: the exact code per HTTP status and reason, the
// message (verb, path, the server's words), Retry-After, and bodies that are not Status at all.
#include "kube/api_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::kube {
namespace {

using ::testing::HasSubstr;

std::string StatusBody(int code, const std::string& reason, const std::string& message,
                       const std::string& details = "{}") {
  return absl::StrCat(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)",
                      R"("message":")", message, R"(","reason":")", reason, R"(","details":)",
                      details, R"(,"code":)", code, "}");
}

absl::Status Answer(int code, const std::string& reason, const std::string& message,
                    const std::string& retry_after = "", const std::string& details = "{}") {
  return ParseApiResponse("GET", "/api/v1/namespaces/shop/pods/web", code, retry_after,
                          StatusBody(code, reason, message, details))
      .status();
}

TEST(ApiStatusTest, ReturnsTheObjectOfASuccess) {
  auto object = ParseApiResponse("GET", "/api/v1/namespaces/default", 200, "",
                                 R"({"kind":"Namespace","metadata":{"name":"default"}})");
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ((*object)["metadata"]["name"], "default");
}

TEST(ApiStatusTest, MapsEachStatusToTheMostSpecificCode) {
  struct Case {
    int http;
    std::string reason;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {400, "BadRequest", absl::StatusCode::kInvalidArgument},
      {401, "Unauthorized", absl::StatusCode::kUnauthenticated},
      {403, "Forbidden", absl::StatusCode::kPermissionDenied},
      {404, "NotFound", absl::StatusCode::kNotFound},
      {405, "MethodNotAllowed", absl::StatusCode::kUnimplemented},
      {409, "AlreadyExists", absl::StatusCode::kAlreadyExists},
      {409, "Conflict", absl::StatusCode::kAborted},
      {410, "Expired", absl::StatusCode::kOutOfRange},
      {410, "Gone", absl::StatusCode::kOutOfRange},
      {415, "UnsupportedMediaType", absl::StatusCode::kInvalidArgument},
      {422, "Invalid", absl::StatusCode::kInvalidArgument},
      {429, "TooManyRequests", absl::StatusCode::kUnavailable},
      {500, "InternalError", absl::StatusCode::kUnavailable},
      {503, "ServiceUnavailable", absl::StatusCode::kUnavailable},
      {504, "Timeout", absl::StatusCode::kUnavailable},
  };
  for (const Case& c : cases) {
    absl::Status status = Answer(c.http, c.reason, "m");
    EXPECT_EQ(status.code(), c.code) << c.http << " " << c.reason;
    EXPECT_EQ(HttpStatusCode(status), c.http);
    EXPECT_EQ(ApiReason(status), c.reason);
  }
}

TEST(ApiStatusTest, MessageNamesVerbPathCodeReasonAndTheServersWords) {
  EXPECT_EQ(Answer(404, "NotFound", R"(pods \"web\" not found)").message(),
            "GET /api/v1/namespaces/shop/pods/web: 404 NotFound: pods \"web\" not found");
}

TEST(ApiStatusTest, OnlyA410IsExpired) {
  EXPECT_TRUE(IsExpired(Answer(410, "Expired", "too old resource version: 1 (5)")));
  EXPECT_FALSE(IsExpired(Answer(409, "Conflict", "x")));
  EXPECT_FALSE(IsExpired(absl::OutOfRangeError("not from the API server")));
}

TEST(ApiStatusTest, CarriesRetryAfterFromTheHeaderOrTheDetails) {
  EXPECT_EQ(RetryAfter(Answer(429, "TooManyRequests", "slow down", "3")), absl::Seconds(3));
  EXPECT_EQ(
      RetryAfter(Answer(429, "TooManyRequests", "slow down", "", R"({"retryAfterSeconds":2})")),
      absl::Seconds(2));
  EXPECT_EQ(RetryAfter(Answer(500, "InternalError", "x")), std::nullopt);
  EXPECT_EQ(RetryAfter(Answer(429, "TooManyRequests", "x", "Wed, 21 Oct 2015 07:28:00 GMT")),
            std::nullopt);
}

TEST(ApiStatusTest, DescribesABodyThatIsNotAStatus) {
  absl::Status status =
      ParseApiResponse("GET", "/api/v1/pods", 502, "", "<html>bad gateway\n</html>").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(),
            "GET /api/v1/pods: 502: unexpected body \"<html>bad gateway </html>\"");
  EXPECT_EQ(ParseApiResponse("GET", "/x", 503, "", "").status().message(),
            "GET /x: 503: (empty body)");
}

TEST(ApiStatusTest, RefusesASuccessThatIsNotAJsonObject) {
  auto a = ParseApiResponse("GET", "/api/v1/pods", 200, "", "[1,2]");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "GET /api/v1/pods: response: expected a JSON object, got array");
  auto b = ParseApiResponse("GET", "/api/v1/pods", 200, "", "{\"a\":");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("GET /api/v1/pods: response: not JSON"));
}

TEST(ApiStatusTest, RefusesAbsurdNestingBeforeParsing) {
  auto deep = ParseApiResponse("GET", "/x", 200, "", std::string(10000, '[') + "]");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().message(), "GET /x: response: JSON nested deeper than 128 levels");
}

TEST(ApiStatusTest, AWatchErrorEventTakesItsCodeFromTheStatus) {
  nlohmann::json status =
      nlohmann::json::parse(StatusBody(410, "Expired", "too old resource version: 1001 (1040)"));
  absl::Status error = ErrorFromApiStatus("watch", "/api/v1/pods", 0, status);
  EXPECT_TRUE(IsExpired(error));
  EXPECT_EQ(error.message(),
            "watch /api/v1/pods: 410 Expired: too old resource version: 1001 (1040)");
}

}  // namespace
}  // namespace remora::kube
