#include "filters/string_match.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace remora::filters {
namespace {

using ::testing::HasSubstr;

StringMatcher Of(std::initializer_list<const char*> patterns, bool ignore_case = false,
                 bool templates = false) {
  StringMatcher m(ignore_case);
  for (const char* p : patterns) m.Add(p, templates && PathTemplate::IsTemplate(p));
  return m;
}

TEST(StringMatcherTest, IstioValueForms) {
  struct Case {
    const char* pattern;
    const char* value;
    bool match;
  };
  for (const Case& c : std::vector<Case>{
           {"abc", "abc", true},
           {"abc", "abcd", false},
           {"abc", "ABC", false},
           {"abc*", "abc", true},  // prefix: "abc*" matches abc and abcd (Istio reference)
           {"abc*", "abcd", true},
           {"abc*", "xabc", false},
           {"*abc", "abc", true},  // suffix: "*abc" matches abc and xabc
           {"*abc", "xabc", true},
           {"*abc", "abcd", false},
           {"*", "anything", true},   // presence
           {"*abc*", "xabc*", true},  // a leading '*' wins: suffix "abc*"
           {"*abc*", "xabcd", false},
       }) {
    EXPECT_EQ(Of({c.pattern}).Matches(absl::string_view(c.value)), c.match)
        << c.pattern << " vs " << c.value;
  }
}

TEST(StringMatcherTest, GlobsForNamespaces) {
  auto glob = [](const char* pattern, const char* value) {
    StringMatcher m;
    m.Add(pattern, false, StringMatcher::Stars::kGlob);
    return m.Matches(absl::string_view(value));
  };
  EXPECT_TRUE(glob("a*b", "ab"));
  EXPECT_TRUE(glob("a*b", "axyzb"));
  EXPECT_FALSE(glob("a*b", "axyzbc"));
  EXPECT_TRUE(glob("*abc*", "xxabcyy"));  // a glob, not the suffix "abc*"
  EXPECT_FALSE(glob("*abc*", "xxabyy"));
  EXPECT_TRUE(glob("prod-*", "prod-eu"));  // ends-only patterns keep their usual meaning
  EXPECT_TRUE(glob("*-prod", "eu-prod"));
  EXPECT_TRUE(glob("*", "x"));
  EXPECT_TRUE(glob("a**b*c", "aXbYbZc"));
  StringMatcher m;
  m.Add("a*b", false, StringMatcher::Stars::kGlob);
  EXPECT_FALSE(m.ExactOnly());
}

TEST(StringMatcherTest, AbsentValueMatchesNothingNotEvenPresence) {
  EXPECT_FALSE(Of({"*"}).Matches(std::nullopt));
  EXPECT_FALSE(Of({"a", "b*", "*c"}).Matches(std::nullopt));
  EXPECT_TRUE(Of({"*"}).Matches(absl::string_view("")));  // present but empty (a header)
}

TEST(StringMatcherTest, ManyExactValuesUseTheSetAndStillMatch) {
  StringMatcher m;
  for (int i = 0; i < 100; ++i) m.Add("value-" + std::to_string(i));
  EXPECT_TRUE(m.ExactOnly());
  EXPECT_TRUE(m.Matches(absl::string_view("value-0")));
  EXPECT_TRUE(m.Matches(absl::string_view("value-99")));
  EXPECT_FALSE(m.Matches(absl::string_view("value-100")));
  EXPECT_EQ(m.exact_values().size(), 100u);
  m.Add("pre*");
  EXPECT_FALSE(m.ExactOnly());
  EXPECT_TRUE(m.Matches(absl::string_view("prefix")));
}

TEST(StringMatcherTest, IgnoreCaseForHosts) {
  StringMatcher few = Of({"Web.Shop.svc", "api.*", "*.EXAMPLE.com"}, /*ignore_case=*/true);
  EXPECT_TRUE(few.Matches(absl::string_view("web.shop.SVC")));
  EXPECT_TRUE(few.Matches(absl::string_view("API.internal")));
  EXPECT_TRUE(few.Matches(absl::string_view("www.example.COM")));
  EXPECT_FALSE(few.Matches(absl::string_view("web.shop.svc.cluster.local")));
  StringMatcher many(/*ignore_case=*/true);
  for (int i = 0; i < 20; ++i) many.Add("Host-" + std::to_string(i) + ".Example");
  EXPECT_TRUE(many.Matches(absl::string_view("HOST-7.example")));
  EXPECT_FALSE(many.Matches(absl::string_view("host-70.example")));
  EXPECT_FALSE(Of({"Web"}).Matches(absl::string_view("web")));  // case matters by default
}

TEST(PathTemplateTest, MatchesAsIstioDocumentsIt) {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  };
  for (const Case& c : std::vector<Case>{
           {"/foo/{*}", "/foo/bar", true},
           {"/foo/{*}", "/foo/bar/baz", false},
           {"/foo/{*}", "/foo/", false},
           {"/foo/{**}/", "/foo/bar/", true},
           {"/foo/{**}/", "/foo//", true},
           {"/foo/{**}/", "/foo/bar", false},
           {"/foo/{**}/", "/foo/a/b/c/", true},
           {"/foo/{*}/bar/{**}", "/foo/buzz/bar/", true},
           {"/foo/{*}/bar/{**}", "/foo/buzz/bar/baz", true},
           {"/foo/{*}/bar/{**}", "/foo/buzz/baz/bar/", false},
           {"/{*}/status", "/v1/status", true},
           {"/{*}/status", "/v1/v2/status", false},
           {"/api/{**}", "/api/", true},
           {"/api/{**}", "/api/a b", false},  // a space is not a path character
       }) {
    ASSERT_TRUE(PathTemplate::Validate(c.pattern).ok()) << c.pattern;
    EXPECT_EQ(PathTemplate(c.pattern).Matches(c.path), c.match) << c.pattern << " vs " << c.path;
    EXPECT_EQ(Of({c.pattern}, false, true).Matches(absl::string_view(c.path)), c.match);
  }
}

TEST(PathTemplateTest, RefusesTemplatesIstioCallsInvalid) {
  struct Case {
    const char* pattern;
    const char* fragment;
  };
  for (const Case& c : std::vector<Case>{
           {"/*/baz/{*}", "only allowed as a whole {*} or {**} segment"},
           {"/**/baz/{*}", "only allowed as a whole {*} or {**} segment"},
           {"/{**}/foo/{*}", "{**} must be the last operator"},
           {"/foo/{*}.txt", "only allowed as a whole {*} or {**} segment"},
           {"/foo/{name}", "only allowed as a whole"},
           {"foo/{*}", "must start with '/'"},
           {"/foo//{*}", "empty segment"},
           {"/foo bar/{*}", "character ' ' is not allowed"},
       }) {
    absl::Status s = PathTemplate::Validate(c.pattern);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.pattern;
    EXPECT_THAT(s.message(), HasSubstr(c.fragment)) << c.pattern;
  }
}

}  // namespace
}  // namespace remora::filters
