#include "xds/kube/token_review_authenticator.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::xds {
namespace {

using ::testing::HasSubstr;

kube::TokenReviewResult Authenticated() {
  kube::TokenReviewResult r;
  r.authenticated = true;
  r.username = "system:serviceaccount:shop:web";
  r.audiences = {"remora-control"};
  r.extra["authentication.kubernetes.io/pod-name"] = {"web-0"};
  r.extra["authentication.kubernetes.io/pod-uid"] = {"uid-web-0"};
  return r;
}

std::optional<MeshPod> KnownPods(const std::string& ns, const std::string& name) {
  if (ns == "shop" && name == "web-0") return MeshPod{"shop", "web-0", "uid-web-0", "web", {}};
  return std::nullopt;
}

TEST(TokenReviewAuthenticatorTest, IdentityComesFromTheReviewAndIsBoundToTheKnownPod) {
  absl::StatusOr<CsrCaller> caller = CallerFromReview(Authenticated(), kTokenAudience, KnownPods);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->ns, "shop");
  EXPECT_EQ(caller->service_account, "web");
  EXPECT_EQ(caller->workload, "web-0");
  EXPECT_THAT(caller->via, HasSubstr("TokenReview"));
}

TEST(TokenReviewAuthenticatorTest, RefusesAnUnauthenticatedTokenSayingSo) {
  kube::TokenReviewResult r;
  absl::StatusOr<CsrCaller> caller = CallerFromReview(r, kTokenAudience, KnownPods);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("unauthenticated: the API server did not"));
  r.error = "service account token has expired";
  EXPECT_THAT(CallerFromReview(r, kTokenAudience, KnownPods).status().message(),
              HasSubstr("service account token has expired"));
}

TEST(TokenReviewAuthenticatorTest, RefusesAnAudienceMismatchSayingSo) {
  kube::TokenReviewResult r;
  r.error = R"(token audiences ["https://kubernetes.default.svc"] is invalid for the target )"
            R"(audiences ["remora-control"])";
  absl::StatusOr<CsrCaller> caller = CallerFromReview(r, kTokenAudience, KnownPods);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("audience mismatch"));
  // An authenticated answer for other audiences (a server that ignored spec.audiences).
  kube::TokenReviewResult other = Authenticated();
  other.audiences = {"vault"};
  EXPECT_THAT(CallerFromReview(other, kTokenAudience, KnownPods).status().message(),
              HasSubstr("audience mismatch"));
}

TEST(TokenReviewAuthenticatorTest, RefusesUsersThatAreNotServiceAccounts) {
  kube::TokenReviewResult r = Authenticated();
  r.username = "admin";
  absl::StatusOr<CsrCaller> caller = CallerFromReview(r, kTokenAudience, KnownPods);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(caller.status().message(), HasSubstr("not a service account"));
}

TEST(TokenReviewAuthenticatorTest, RefusesTokensNotBoundToAKnownPod) {
  kube::TokenReviewResult unbound = Authenticated();
  unbound.extra.clear();
  EXPECT_THAT(CallerFromReview(unbound, kTokenAudience, KnownPods).status().message(),
              HasSubstr("not bound to a pod"));
  kube::TokenReviewResult unknown = Authenticated();
  unknown.extra["authentication.kubernetes.io/pod-name"] = {"web-9"};
  absl::StatusOr<CsrCaller> caller = CallerFromReview(unknown, kTokenAudience, KnownPods);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(caller.status().message(), HasSubstr("unknown pod: shop/web-9"));
  // Same name, another uid: a pod deleted and re-created, the token is the old one's.
  kube::TokenReviewResult recreated = Authenticated();
  recreated.extra["authentication.kubernetes.io/pod-uid"] = {"uid-old"};
  EXPECT_THAT(CallerFromReview(recreated, kTokenAudience, KnownPods).status().message(),
              HasSubstr("unknown pod"));
  // The review's service account must be the pod's.
  kube::TokenReviewResult other_sa = Authenticated();
  other_sa.username = "system:serviceaccount:shop:admin";
  EXPECT_THAT(CallerFromReview(other_sa, kTokenAudience, KnownPods).status().message(),
              HasSubstr("runs as service account web"));
}

TEST(TokenReviewAuthenticatorTest, ReadsTheExpiryOfAJwtWithoutTrustingAnythingElse) {
  const std::string payload = absl::WebSafeBase64Escape(R"({"exp":1800000000,"sub":"x"})");
  std::optional<absl::Time> exp = UnverifiedExpiry("e30." + payload + ".c2ln");
  ASSERT_TRUE(exp.has_value());
  EXPECT_EQ(absl::ToUnixSeconds(*exp), 1800000000);
  EXPECT_FALSE(UnverifiedExpiry("not-a-jwt").has_value());
  EXPECT_FALSE(UnverifiedExpiry("e30." + absl::WebSafeBase64Escape(R"({"exp":"soon"})") + ".c2ln"));
}

}  // namespace
}  // namespace remora::xds
