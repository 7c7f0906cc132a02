// Writers against the fake API server: race-safe create-or-get, read-modify-write with Conflict
// retry, TokenReview of real ServiceAccount tokens, and an Event that `kubectl describe` shows.
#include "kube/writers.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/api_status.h"
#include "kube/events.h"
#include "kube/testing/kube_test_env.h"
#include "kube/token_review.h"

namespace remora::kube {
namespace {

using testing::ConfigMap;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

class WritersTest : public testing::KubeTest {
 protected:
  void SetUp() override {
    KubeTest::SetUp();
    client_ = NewClient();
  }
  std::shared_ptr<ApiClient> client_;
};

TEST_F(WritersTest, CreateOrGetCreatesWhenAbsent) {
  auto result = Run([&] {
    return CreateOrGet(client_, types::kConfigMaps, "default", ConfigMap("default", "root-cert"));
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->object["data"]["key"], "v");
}

TEST_F(WritersTest, CreateOrGetReturnsWhatAnotherReplicaCreatedFirst) {
  ASSERT_TRUE(Run([&] {
                return client_->Create(
                    types::kSecrets, "default",
                    {{"apiVersion", "v1"},
                     {"kind", "Secret"},
                     {"metadata", {{"name", "ca-key"}, {"namespace", "default"}}},
                     {"data", {{"key", "Zmlyc3Q="}}}});
              }).ok());
  auto result = Run([&] {
    return CreateOrGet(client_, types::kSecrets, "default",
                       {{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata", {{"name", "ca-key"}, {"namespace", "default"}}},
                        {"data", {{"key", "c2Vjb25k"}}}});
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  EXPECT_EQ(result->object["data"]["key"], "Zmlyc3Q=");  // base64("first")
}

TEST_F(WritersTest, RacingCreateOrGetsAgreeOnOneObject) {
  std::vector<std::future<absl::StatusOr<CreateOrGetResult>>> racers;
  for (int i = 0; i < 5; ++i) {
    racers.push_back(asio::co_spawn(
        io_.get_executor(),
        [this, i] {
          return CreateOrGet(client_, types::kConfigMaps, "default",
                             ConfigMap("default", "leader", Json::object(), absl::StrCat(i)));
        },
        asio::use_future));
  }
  int created = 0;
  std::set<std::string> uids;
  for (auto& racer : racers) {
    auto result = racer.get();
    ASSERT_TRUE(result.ok()) << result.status();
    created += result->created ? 1 : 0;
    uids.insert(result->object["metadata"]["uid"].get<std::string>());
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(uids.size(), 1u);
}

TEST_F(WritersTest, GetAndUpdateRetriesWhenSomeoneWroteInBetween) {
  ASSERT_TRUE(Run([&] {
                return client_->Create(types::kConfigMaps, "default", ConfigMap("default", "cfg"));
              }).ok());
  int calls = 0;
  auto updated = Run([&] {
    return GetAndUpdate(
        client_, types::kConfigMaps, "default", "cfg", [&](Json& object) -> absl::StatusOr<bool> {
          if (++calls == 1) {
            // Another writer (kubectl) changes the object after our read.
            Kubectl(
                {"patch", "configmap", "cfg", "--type=merge", "-p", R"({"data":{"theirs":"1"}})"});
          }
          object["data"]["ours"] = "1";
          return true;
        });
  });
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ((*updated)["data"], Json({{"key", "v"}, {"ours", "1"}, {"theirs", "1"}}));
}

TEST_F(WritersTest, GetAndUpdateWritesNothingWhenNothingChanges) {
  ASSERT_TRUE(Run([&] {
                return client_->Create(types::kConfigMaps, "default", ConfigMap("default", "same"));
              }).ok());
  auto result = Run([&] {
    return GetAndUpdate(client_, types::kConfigMaps, "default", "same",
                        [](Json&) -> absl::StatusOr<bool> { return false; });
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Counter("requests", "update configmaps"), 0);
}

TEST_F(WritersTest, GetAndUpdateGivesUpAfterItsAttempts) {
  ASSERT_TRUE(Run([&] {
                return client_->Create(types::kConfigMaps, "default", ConfigMap("default", "hot"));
              }).ok());
  int calls = 0;
  auto result = Run([&] {
    return GetAndUpdate(
        client_, types::kConfigMaps, "default", "hot",
        [&](Json& object) -> absl::StatusOr<bool> {
          Kubectl({"patch", "configmap", "hot", "--type=merge", "-p",
                   absl::StrCat(R"({"data":{"n":")", ++calls, R"("}})")});
          object["data"]["ours"] = "1";
          return true;
        },
        /*attempts=*/2);
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(result.status().message(),
              HasSubstr("update configmaps /api/v1/namespaces/default/configmaps/hot: still "
                        "conflicting after 2 attempts: PUT "));
  EXPECT_EQ(calls, 2);
}

class TokenReviewTest : public WritersTest {
 protected:
  // A ServiceAccount token bound to a pod, as the kubelet projects it for the sidecar.
  std::string PodToken(const std::string& audience) {
    KubectlApply(R"(apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: default}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: default}
spec:
  serviceAccountName: web
  containers: [{name: app, image: nginx}]
)");
    return std::string(absl::StripTrailingAsciiWhitespace(
        Kubectl({"create", "token", "web", "--audience", audience, "--bound-object-kind", "Pod",
                 "--bound-object-name", "web-0"})));
  }
};

TEST_F(TokenReviewTest, AuthenticatesAPodTokenForItsAudience) {
  const std::string token = PodToken("remora-control");
  auto review = Run([&] { return ReviewToken(client_, token, {"remora-control"}); });
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_TRUE(review->authenticated) << review->error;
  EXPECT_EQ(review->username, "system:serviceaccount:default:web");
  EXPECT_THAT(review->audiences, ElementsAre("remora-control"));
  EXPECT_THAT(review->extra["authentication.kubernetes.io/pod-name"], ElementsAre("web-0"));
  EXPECT_EQ(review->extra["authentication.kubernetes.io/pod-uid"].size(), 1u);
}

TEST_F(TokenReviewTest, RefusesATokenForAnotherAudienceSayingWhy) {
  const std::string token = PodToken("remora-control");
  auto review = Run([&] { return ReviewToken(client_, token, {"vault"}); });
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_FALSE(review->authenticated);
  EXPECT_EQ(review->error,
            "token audiences [\"remora-control\"] is invalid for the target audiences "
            "[\"vault\"]");
}

TEST_F(TokenReviewTest, TreatsAnAnswerWithoutAuthenticatedAsRefused) {
  auto review = Run([&] { return ReviewToken(client_, "not-a-kubernetes-token", {"x"}); });
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_FALSE(review->authenticated);
  EXPECT_EQ(review->username, "");
}

TEST_F(WritersTest, RecordsAnEventThatKubectlDescribeShows) {
  KubectlApply(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: default}
spec: {}
)");
  auto policy =
      Run([&] { return client_->Get(types::kAuthorizationPolicies, "default", "deny-all"); });
  ASSERT_TRUE(policy.ok()) << policy.status();
  EventInfo info;
  info.type = "Warning";
  info.reason = "PolicyRejected";
  info.message = "spec.rules[0].from[0].source.ipBlocks[0]: \"10.0.0.0/33\" is not a CIDR";
  auto event = Run([&] { return RecordEvent(client_, ReferenceTo(*policy), info, absl::Now()); });
  ASSERT_TRUE(event.ok()) << event.status();
  const std::string described = Kubectl({"describe", "authorizationpolicy", "deny-all"});
  EXPECT_THAT(described, HasSubstr("Warning  PolicyRejected"));
  EXPECT_THAT(described, HasSubstr("remora-control  spec.rules[0].from[0].source.ipBlocks[0]"));
}

// A refused policy's Event must not be lost to a moment of API-server overload: 5xx and 429 are
// retried with backoff; a refusal that will not change (RBAC) is not.
TEST_F(WritersTest, RetriesAnEventTheServerCannotTakeForAMoment) {
  KubectlApply(ConfigMap("default", "regarding").dump());
  auto object = Run([&] { return client_->Get(types::kConfigMaps, "default", "regarding"); });
  ASSERT_TRUE(object.ok()) << object.status();
  ASSERT_TRUE(kube_->InjectFault(500, 2, "/api/v1/namespaces/default/events").ok());
  auto clock = std::make_shared<testing::TestClock>();
  EventInfo info;
  info.reason = "Test";
  info.message = "retried";
  auto event = Run([&] {
    return RecordEventWithRetry(client_, ReferenceTo(*object), info, clock, [] { return 0.0; });
  });
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(clock->sleeps().size(), 2u);
  EXPECT_THAT(Kubectl({"get", "events", "-o", "name"}), HasSubstr("regarding."));
}

TEST_F(WritersTest, DoesNotRetryAnEventTheServerRefuses) {
  // An object in a namespace that does not exist: the API server answers 404 for its Event.
  ObjectReference gone;
  gone.api_version = "v1";
  gone.kind = "ConfigMap";
  gone.namespace_name = "nowhere";
  gone.name = "regarding";
  gone.uid = "0b7c7f0e-0000-4000-8000-000000000001";
  auto clock = std::make_shared<testing::TestClock>();
  EventInfo info;
  info.reason = "Test";
  auto event =
      Run([&] { return RecordEventWithRetry(client_, gone, info, clock, [] { return 0.0; }); });
  EXPECT_TRUE(absl::IsNotFound(event.status())) << event.status();
  EXPECT_TRUE(clock->sleeps().empty());
}

}  // namespace
}  // namespace remora::kube
