// The pure halves of the writers: reading a TokenReview answer and building an Event.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/events.h"
#include "kube/token_review.h"

namespace remora::kube {
namespace {

using Json = nlohmann::json;

TEST(TokenReviewParseTest, AnAbsentAuthenticatedIsFalse) {
  auto result = ParseTokenReview(Json::parse(R"({"status":{"user":{}}})"), {"remora-control"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->authenticated);
  auto bare = ParseTokenReview(Json::parse(R"({"kind":"TokenReview"})"), {});
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->authenticated);
}

TEST(TokenReviewParseTest, RequiresTheRequestedAudienceToBeConfirmed) {
  const Json answer = Json::parse(R"({"status":{"authenticated":true,
      "user":{"username":"system:serviceaccount:a:b"}}})");
  auto unconfirmed = ParseTokenReview(answer, {"remora-control"});
  ASSERT_TRUE(unconfirmed.ok());
  EXPECT_FALSE(unconfirmed->authenticated);
  EXPECT_EQ(unconfirmed->error,
            "the API server did not confirm the audience (asked for [remora-control], it "
            "answered [])");
  auto without_audiences = ParseTokenReview(answer, {});
  ASSERT_TRUE(without_audiences.ok());
  EXPECT_TRUE(without_audiences->authenticated);
}

TEST(TokenReviewParseTest, RefusesAnAuthenticatedAnswerWithoutUser) {
  auto result = ParseTokenReview(
      Json::parse(R"({"status":{"authenticated":true,"audiences":["x"]}})"), {"x"});
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->authenticated);
  EXPECT_EQ(result->error, "the API server authenticated the token but named no user");
}

TEST(TokenReviewParseTest, RefusesMistypedFields) {
  EXPECT_EQ(
      ParseTokenReview(Json::parse(R"({"status":{"authenticated":"yes"}})"), {}).status().message(),
      "TokenReview status: authenticated is not a boolean");
  EXPECT_EQ(ParseTokenReview(Json::parse(R"({"status":{"audiences":"x"}})"), {}).status().message(),
            "TokenReview status: audiences is not a list");
  EXPECT_EQ(ParseTokenReview(Json::parse(R"([1])"), {}).status().message(),
            "TokenReview answer is not an object");
}

TEST(TokenReviewParseTest, ReadsUserGroupsAndExtra) {
  auto result = ParseTokenReview(Json::parse(R"({"status":{"authenticated":true,
      "audiences":["remora-control"],
      "user":{"username":"system:serviceaccount:shop:web","uid":"u1",
              "groups":["system:serviceaccounts","system:authenticated"],
              "extra":{"authentication.kubernetes.io/pod-name":["web-0"]}}}})"),
                                 {"remora-control"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->authenticated);
  EXPECT_EQ(result->uid, "u1");
  EXPECT_EQ(result->groups.size(), 2u);
  EXPECT_THAT(result->extra["authentication.kubernetes.io/pod-name"],
              ::testing::ElementsAre("web-0"));
}

TEST(TokenReviewParseTest, TheRequestCarriesTokenAndAudiences) {
  EXPECT_EQ(MakeTokenReview("t", {"a"}),
            Json::parse(R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",
                            "spec":{"token":"t","audiences":["a"]}})"));
}

TEST(EventTest, NamesTheEventAfterTheObjectAndTheTime) {
  ObjectReference ref{
      "security.istio.io/v1", "AuthorizationPolicy", "shop", "deny-all", "u1", "42"};
  EventInfo info{"Warning", "PolicyRejected", "bad", "remora-control", "remora-control-0"};
  const absl::Time now = absl::FromUnixNanos(1800000000123456789);
  Json event = MakeEvent(ref, info, now);
  EXPECT_EQ(event["metadata"]["name"], "deny-all.18fae2769b0fcd15");
  EXPECT_EQ(event["metadata"]["namespace"], "shop");
  EXPECT_EQ(event["involvedObject"]["uid"], "u1");
  EXPECT_EQ(event["involvedObject"]["kind"], "AuthorizationPolicy");
  EXPECT_EQ(event["source"]["component"], "remora-control");
  EXPECT_EQ(event["reportingInstance"], "remora-control-0");
  EXPECT_EQ(event["firstTimestamp"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(event["count"], 1);
}

TEST(EventTest, PutsEventsOfClusterScopedObjectsInDefault) {
  Json event = MakeEvent({"v1", "Namespace", "", "shop", "u", "1"}, {}, absl::UnixEpoch());
  EXPECT_EQ(event["metadata"]["namespace"], "default");
  EXPECT_FALSE(event["involvedObject"].contains("namespace"));
}

TEST(EventTest, CutsLongMessagesWithoutSplittingACharacter) {
  EventInfo info;
  info.message = std::string(kMaxEventMessage - 1, 'x') + "é and more";
  Json event = MakeEvent({"v1", "Pod", "a", "b", "", ""}, info, absl::UnixEpoch());
  EXPECT_EQ(event["message"].get<std::string>(), std::string(kMaxEventMessage - 1, 'x'));
}

TEST(EventTest, ReferencesAnObject) {
  ObjectReference ref = ReferenceTo(Json::parse(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"namespace":"a","name":"b","uid":"c","resourceVersion":"9"}})"));
  EXPECT_EQ(ref.api_version, "v1");
  EXPECT_EQ(ref.kind, "Pod");
  EXPECT_EQ(ref.namespace_name, "a");
  EXPECT_EQ(ref.name, "b");
  EXPECT_EQ(ref.uid, "c");
  EXPECT_EQ(ref.resource_version, "9");
}

}  // namespace
}  // namespace remora::kube
