// TokenReviewAuthenticator against the fake API server (tests/kube): real TokenReviews of tokens
// minted by `kubectl create token`, and the cache's bounds (a clock the test moves).
#include <future>

#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/testing/kube_test_env.h"
#include "xds/kube/token_review_authenticator.h"

namespace remora::xds {
namespace {

using ::testing::HasSubstr;

class TokenReviewCacheTest : public kube::testing::KubeTest {
 protected:
  void SetUp() override {
    KubeTest::SetUp();
    KubectlApply(R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop}
spec:
  serviceAccountName: web
  containers: [{name: app, image: web:1}]
)");
    uid_ = Kubectl({"get", "pod", "web-0", "-n", "shop", "-o", "jsonpath={.metadata.uid}"});
    client_ = NewClient();
  }

  std::string Token(const std::string& audience = "remora-control") {
    return std::string(absl::StripAsciiWhitespace(
        Kubectl({"create", "token", "web", "-n", "shop", "--audience", audience,
                 "--bound-object-kind", "Pod", "--bound-object-name", "web-0"})));
  }

  std::unique_ptr<TokenReviewAuthenticator> Authenticator(
      TokenReviewAuthenticatorOptions options = {}) {
    options.now = [this] { return absl::Now() + offset_; };
    return std::make_unique<TokenReviewAuthenticator>(
        client_,
        [this](const std::string& ns, const std::string& name) -> std::optional<MeshPod> {
          if (!pod_known_ || ns != "shop" || name != "web-0") return std::nullopt;
          return MeshPod{"shop", "web-0", uid_, "web", {"10.1.0.5"}};
        },
        options);
  }

  static absl::StatusOr<CsrCaller> Authenticate(TokenReviewAuthenticator& a,
                                                const std::string& token) {
    std::promise<absl::StatusOr<CsrCaller>> result;
    a.Authenticate(token, [&](absl::StatusOr<CsrCaller> caller) { result.set_value(caller); });
    return result.get_future().get();
  }

  std::string uid_;
  std::shared_ptr<kube::ApiClient> client_;
  std::atomic<bool> pod_known_{true};
  absl::Duration offset_;
};

TEST_F(TokenReviewCacheTest, ReviewsOnceThenAnswersFromTheCacheWhileThePodIsKnown) {
  auto authenticator = Authenticator();
  const std::string token = Token();
  absl::StatusOr<CsrCaller> first = Authenticate(*authenticator, token);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->ns, "shop");
  EXPECT_EQ(first->service_account, "web");
  EXPECT_EQ(first->workload, "web-0");
  absl::StatusOr<CsrCaller> second = Authenticate(*authenticator, token);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(second->via, HasSubstr("(cached)"));
  EXPECT_EQ(authenticator->reviews(), 1u);
  EXPECT_EQ(Counter("token_reviews_authenticated"), 1);
  // The pod is gone from the control plane's view: the cached review no longer binds it.
  pod_known_ = false;
  absl::StatusOr<CsrCaller> gone = Authenticate(*authenticator, token);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(gone.status().message(), HasSubstr("unknown pod: shop/web-0"));
}

TEST_F(TokenReviewCacheTest, CachesNoLongerThanTheTtlNorTheTokensLife) {
  TokenReviewAuthenticatorOptions options;
  options.max_cache_ttl = absl::Minutes(5);
  auto authenticator = Authenticator(options);
  const std::string token = Token();
  ASSERT_TRUE(Authenticate(*authenticator, token).ok());
  offset_ = absl::Minutes(5) + absl::Seconds(1);
  ASSERT_TRUE(Authenticate(*authenticator, token).ok());
  EXPECT_EQ(authenticator->reviews(), 2u);

  // A TTL longer than the token's life (kubectl's default: one hour): the token's exp bounds it.
  options.max_cache_ttl = absl::Hours(5);
  offset_ = absl::ZeroDuration();
  auto long_ttl = Authenticator(options);
  ASSERT_TRUE(Authenticate(*long_ttl, token).ok());
  offset_ = absl::Minutes(61);
  (void)Authenticate(*long_ttl, token);
  EXPECT_EQ(long_ttl->reviews(), 2u);
}

TEST_F(TokenReviewCacheTest, TheCacheIsBounded) {
  TokenReviewAuthenticatorOptions options;
  options.max_cache_entries = 2;
  auto authenticator = Authenticator(options);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Authenticate(*authenticator, Token()).ok());
  EXPECT_LE(authenticator->cache_size(), 2u);
}

TEST_F(TokenReviewCacheTest, RefusalsSayWhichCheckFailedAndAreNotCached) {
  auto authenticator = Authenticator();
  absl::StatusOr<CsrCaller> wrong = Authenticate(*authenticator, Token("vault"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong.status().message(), HasSubstr("audience mismatch"));
  absl::StatusOr<CsrCaller> garbage = Authenticate(*authenticator, "not.a.token");
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(garbage.status().message(), HasSubstr("unauthenticated"));
  pod_known_ = false;
  const std::string token = Token();
  EXPECT_THAT(Authenticate(*authenticator, token).status().message(), HasSubstr("unknown pod"));
  pod_known_ = true;
  EXPECT_TRUE(Authenticate(*authenticator, token).ok());
  EXPECT_EQ(authenticator->cache_size(), 1u);
}

}  // namespace
}  // namespace remora::xds
