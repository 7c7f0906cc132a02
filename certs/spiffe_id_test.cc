#include "certs/spiffe_id.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::certs {
namespace {

using ::testing::HasSubstr;

TEST(SpiffeIdTest, ParsesWorkloadId) {
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse("spiffe://cluster.local/ns/web/sa/frontend");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->trust_domain(), "cluster.local");
  EXPECT_EQ(id->path(), "/ns/web/sa/frontend");
  EXPECT_EQ(id->Namespace(), "web");
  EXPECT_EQ(id->ServiceAccount(), "frontend");
}

TEST(SpiffeIdTest, TrustDomainOnlyHasNoNamespace) {
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse("spiffe://example.org");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->path(), "");
  EXPECT_EQ(id->Namespace(), std::nullopt);
}

TEST(SpiffeIdTest, NonKubernetesPathHasNoNamespace) {
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse("spiffe://td/ns/a/sa/b/extra");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->Namespace(), std::nullopt);
}

struct BadCase {
  const char* text;
  const char* why;
};

class SpiffeIdRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(SpiffeIdRejects, WithReason) {
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse(GetParam().text);
  ASSERT_FALSE(id.ok()) << GetParam().text;
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr(GetParam().why));
}

INSTANTIATE_TEST_SUITE_P(
    Spec, SpiffeIdRejects,
    ::testing::Values(
        BadCase{"", "must start with"}, BadCase{"http://td/x", "must start with"},
        BadCase{"SPIFFE://td/x", "must start with"}, BadCase{"spiffe://", "trust domain is empty"},
        BadCase{"spiffe:///path", "trust domain is empty"},
        BadCase{"spiffe://Cluster.local/x", "character 'C'"},
        BadCase{"spiffe://td:8080/x", "character ':'"},
        BadCase{"spiffe://user@td/x", "character '@'"}, BadCase{"spiffe://td/", "trailing"},
        BadCase{"spiffe://td/a/", "trailing"}, BadCase{"spiffe://td//a", "empty segment"},
        BadCase{"spiffe://td/a/./b", "'.' or '..'"}, BadCase{"spiffe://td/a/../b", "'.' or '..'"},
        BadCase{"spiffe://td/a?x=1", "character '?'"}, BadCase{"spiffe://td/a#f", "character '#'"},
        BadCase{"spiffe://td/a%20b", "character '%'"}));

TEST(SpiffeIdTest, RejectsOverlongId) {
  std::string text = "spiffe://td/" + std::string(2100, 'a');
  EXPECT_THAT(SpiffeId::Parse(text).status().message(), HasSubstr("2048"));
}

TEST(SpiffeIdTest, BuildsServiceAccountForm) {
  absl::StatusOr<SpiffeId> id = SpiffeId::ForServiceAccount("cluster.local", "a", "b");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->str(), "spiffe://cluster.local/ns/a/sa/b");
  EXPECT_FALSE(SpiffeId::ForServiceAccount("cluster.local", "a/b", "c").ok());
}

}  // namespace
}  // namespace remora::certs
