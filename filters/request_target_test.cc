#include "filters/request_target.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::filters {
namespace {

using ::testing::HasSubstr;

TEST(NormalizeTargetTest, NormalizesWhatPoliciesMatch) {
  std::string authority;
  EXPECT_EQ(*NormalizeTarget("/a/b?x=1", &authority), "/a/b?x=1");
  EXPECT_EQ(*NormalizeTarget("/%61dmin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("//admin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("/public/../admin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("/public/%2E%2E/admin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("/public/%2e%2e/admin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("/./admin/.", &authority), "/admin/");
  EXPECT_EQ(*NormalizeTarget("/../../etc", &authority), "/etc");
  EXPECT_EQ(*NormalizeTarget("/a%2fb", &authority), "/a%2Fb");
  EXPECT_EQ(*NormalizeTarget("/dir/", &authority), "/dir/");
  EXPECT_EQ(*NormalizeTarget("http://web.shop:8080/x/../y?q", &authority), "/y?q");
  EXPECT_EQ(authority, "web.shop:8080");
  EXPECT_EQ(*NormalizeTarget("*", &authority), "*");
  EXPECT_EQ(*NormalizeTarget("/public/page", nullptr), "/public/page");
}

TEST(NormalizeTargetTest, RefusesMalformedTargets) {
  EXPECT_THAT(NormalizeTarget("/a%zz", nullptr).status().message(), HasSubstr("percent-escape"));
  EXPECT_THAT(NormalizeTarget("/a%4", nullptr).status().message(), HasSubstr("percent-escape"));
  EXPECT_THAT(NormalizeTarget("a/b", nullptr).status().message(), HasSubstr("must start with"));
  EXPECT_THAT(NormalizeTarget("/a#frag", nullptr).status().message(), HasSubstr("fragment"));
}

TEST(NormalizeTargetTest, RefusesDotSegmentsCarryingPathParameters) {
  // Tomcat drops ";params" from each segment before resolving dot segments: "..;" climbs there.
  for (const char* target :
       {"/public/..;/admin", "/public/..;jsessionid=1/admin", "/public/%2e%2e;x/admin",
        "/public/.;/admin", "/public/;x/../admin", "/..;", "/public/..;?q"}) {
    absl::StatusOr<std::string> path = NormalizeTarget(target, nullptr);
    EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument) << target;
    EXPECT_THAT(path.status().message(), HasSubstr("\";\" parameters")) << target;
  }
}

TEST(NormalizeTargetTest, KeepsParametersOnOrdinarySegments) {
  // The path keeps its shape; the parameter is part of what the policy matches.
  EXPECT_EQ(*NormalizeTarget("/public/page;jsessionid=1", nullptr), "/public/page;jsessionid=1");
  EXPECT_EQ(*NormalizeTarget("/a;b/../c", nullptr), "/c");
  // An escaped ";" is not a parameter delimiter for anyone.
  EXPECT_EQ(*NormalizeTarget("/public/..%3B/admin", nullptr), "/public/..%3B/admin");
}

}  // namespace
}  // namespace remora::filters
