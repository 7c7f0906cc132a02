#include "certs/jwt.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "certs/keys.h"
#include "certs/token_authority.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::certs {
namespace {

using ::testing::HasSubstr;

class JwtTest : public ::testing::Test {
 protected:
  TokenClaims Claims() {
    TokenClaims c;
    c.issuer = "remora-control";
    c.audience = "remora-control";
    c.ns = "shop";
    c.service_account = "web";
    c.issued_at = now_;
    c.not_before = now_;
    c.expires = now_ + absl::Minutes(10);
    return c;
  }
  absl::StatusOr<TokenClaims> Verify(const std::string& token, absl::Time at) {
    VerifyOptions o;
    o.now = at;
    return VerifyToken(token, {key_.get()}, o);
  }

  absl::Time now_ = absl::FromUnixSeconds(1790000000);
  EvpPkeyPtr key_ = *GenerateEcKey();
};

TEST_F(JwtTest, RoundTrips) {
  absl::StatusOr<std::string> token = SignToken(Claims(), key_.get(), "kid1");
  ASSERT_TRUE(token.ok());
  absl::StatusOr<TokenClaims> claims = Verify(*token, now_ + absl::Minutes(1));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->ns, "shop");
  EXPECT_EQ(claims->service_account, "web");
  EXPECT_EQ(claims->expires, now_ + absl::Minutes(10));
}

TEST_F(JwtTest, RefusesExpiredToken) {
  std::string token = *SignToken(Claims(), key_.get(), "k");
  absl::StatusOr<TokenClaims> c = Verify(token, now_ + absl::Minutes(11));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(c.status().message(), HasSubstr("token expired at"));
}

TEST_F(JwtTest, RefusesTokenNotYetValid) {
  TokenClaims claims = Claims();
  claims.not_before = now_ + absl::Hours(1);
  EXPECT_THAT(Verify(*SignToken(claims, key_.get(), "k"), now_).status().message(),
              HasSubstr("not valid before"));
}

TEST_F(JwtTest, RefusesTokenSignedByAnotherKey) {
  EvpPkeyPtr other = *GenerateEcKey();
  std::string token = *SignToken(Claims(), other.get(), "k");
  EXPECT_THAT(Verify(token, now_).status().message(),
              HasSubstr("signature does not verify with the control plane's key"));
}

TEST_F(JwtTest, RefusesWrongAudienceAndIssuer) {
  TokenClaims claims = Claims();
  claims.audience = "kubernetes";
  EXPECT_THAT(Verify(*SignToken(claims, key_.get(), "k"), now_).status().message(),
              HasSubstr("audience \"kubernetes\" does not include \"remora-control\""));
  claims = Claims();
  claims.issuer = "someone-else";
  EXPECT_THAT(Verify(*SignToken(claims, key_.get(), "k"), now_).status().message(),
              HasSubstr("issuer \"someone-else\""));
}

TEST_F(JwtTest, RefusesAlgorithmNoneAndTampering) {
  std::string token = *SignToken(Claims(), key_.get(), "k");
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string none =
      absl::StrCat(absl::WebSafeBase64Escape("{\"alg\":\"none\"}"), ".", parts[1], ".");
  EXPECT_THAT(Verify(none, now_).status().message(), HasSubstr("algorithm must be ES256"));
  std::string hs =
      absl::StrCat(absl::WebSafeBase64Escape("{\"alg\":\"HS256\"}"), ".", parts[1], ".", parts[2]);
  EXPECT_THAT(Verify(hs, now_).status().message(), HasSubstr("algorithm must be ES256"));
  // A payload swapped for another identity no longer matches the signature.
  std::string forged_payload = absl::WebSafeBase64Escape(
      absl::StrCat("{\"iss\":\"remora-control\",\"aud\":\"remora-control\",\"ns\":\"kube-system\","
                   "\"sa\":\"admin\",\"exp\":",
                   absl::ToUnixSeconds(now_) + 600, "}"));
  EXPECT_THAT(
      Verify(absl::StrCat(parts[0], ".", forged_payload, ".", parts[2]), now_).status().message(),
      HasSubstr("signature does not verify"));
}

TEST_F(JwtTest, RefusesMalformedTokens) {
  EXPECT_THAT(Verify("abc", now_).status().message(), HasSubstr("three dot-separated parts"));
  EXPECT_THAT(Verify("a.b.c.d", now_).status().message(), HasSubstr("three dot-separated parts"));
  EXPECT_THAT(Verify("a+.b.c", now_).status().message(), HasSubstr("not base64url"));
  EXPECT_THAT(Verify(std::string(9000, 'a'), now_).status().message(), HasSubstr("8 KiB"));
}

TEST_F(JwtTest, SignTokenRefusesClaimsThatAreNotUtf8) {
  // Found by //certs:jwt_fuzz: nlohmann's dump() threw on the byte 0xC1 in a claim. A claim is
  // signed as written, so it is refused rather than silently replaced.
  TokenClaims claims = Claims();
  claims.ns = "a.b.c.\xc1";
  absl::StatusOr<std::string> token = SignToken(claims, key_.get(), "k");
  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(token.status().message(),
            "cannot sign a bootstrap token: claim \"ns\": byte 0xC1 at offset 6 is not valid "
            "UTF-8");
  claims = Claims();
  claims.id = "\xe2\x82";  // a truncated three-byte sequence
  EXPECT_THAT(SignToken(claims, key_.get(), "k").status().message(),
              HasSubstr("claim \"jti\": byte 0xE2 at offset 0 is not valid UTF-8"));
  EXPECT_THAT(SignToken(Claims(), key_.get(), "k\xff").status().message(),
              HasSubstr("header \"kid\": byte 0xFF at offset 1 is not valid UTF-8"));
}

TEST(TokenAuthorityTest, MintsWhatItVerifies) {
  TokenAuthority authority(*GenerateEcKey());
  absl::Time now = absl::Now();
  absl::StatusOr<std::string> token = authority.Mint("shop", "web", absl::Minutes(5), now);
  ASSERT_TRUE(token.ok());
  absl::StatusOr<TokenClaims> claims = authority.Verify(*token, now);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->service_account, "web");
  EXPECT_FALSE(authority.Mint("a/b", "web", absl::Minutes(5), now).ok());
}

}  // namespace
}  // namespace remora::certs
