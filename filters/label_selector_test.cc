#include "filters/label_selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace remora::filters {
namespace {

using ::testing::HasSubstr;
using Op = LabelRequirement::Operator;

TEST(LabelSelectorTest, EmptySelectsEverything) {
  LabelSelector s;
  EXPECT_TRUE(s.Matches(Labels{}));
  EXPECT_TRUE(s.Matches(Labels{{"app", "web"}}));
  EXPECT_EQ(s.ToString(), "(everything)");
}

TEST(LabelSelectorTest, MatchLabelsAndExpressionsAreAnded) {
  LabelSelector s;
  s.match_labels = {{"app", "web"}};
  s.match_expressions = {{"tier", Op::kIn, {"front", "edge"}},
                         {"track", Op::kNotIn, {"canary"}},
                         {"team", Op::kExists, {}},
                         {"legacy", Op::kDoesNotExist, {}}};
  EXPECT_TRUE(s.Matches(Labels{{"app", "web"}, {"tier", "edge"}, {"team", "a"}}));
  EXPECT_TRUE(
      s.Matches(Labels{{"app", "web"}, {"tier", "front"}, {"team", "a"}, {"track", "stable"}}));
  EXPECT_FALSE(s.Matches(Labels{{"app", "api"}, {"tier", "edge"}, {"team", "a"}}));
  EXPECT_FALSE(s.Matches(Labels{{"app", "web"}, {"tier", "back"}, {"team", "a"}}));
  EXPECT_FALSE(s.Matches(Labels{{"app", "web"}, {"team", "a"}}));  // In needs the key
  EXPECT_FALSE(
      s.Matches(Labels{{"app", "web"}, {"tier", "edge"}, {"team", "a"}, {"track", "canary"}}));
  EXPECT_FALSE(s.Matches(Labels{{"app", "web"}, {"tier", "edge"}}));
  EXPECT_FALSE(s.Matches(Labels{{"app", "web"}, {"tier", "edge"}, {"team", "a"}, {"legacy", ""}}));
  EXPECT_EQ(s.ToString(), "app=web,tier in (front,edge),track notin (canary),team,!legacy");
}

TEST(LabelSelectorTest, NotInMatchesAnAbsentKey) {
  LabelSelector s;
  s.match_expressions = {{"env", Op::kNotIn, {"prod"}}};
  EXPECT_TRUE(s.Matches(Labels{}));
  EXPECT_FALSE(s.Matches(Labels{{"env", "prod"}}));
}

TEST(LabelSelectorTest, NamespaceNameLabelIsImplicit) {
  LabelSelector s;
  s.match_labels = {{"kubernetes.io/metadata.name", "shop"}};
  EXPECT_TRUE(MatchesNamespace(s, "shop", Labels{}));
  EXPECT_FALSE(MatchesNamespace(s, "batch", Labels{}));
  EXPECT_FALSE(MatchesNamespace(s, "", Labels{}));
  // An explicit label wins over the implicit one.
  EXPECT_FALSE(MatchesNamespace(s, "shop", Labels{{"kubernetes.io/metadata.name", "other"}}));
}

TEST(LabelSelectorTest, ValidationFollowsKubernetes) {
  struct Case {
    LabelSelector selector;
    const char* fragment;
  };
  std::vector<Case> cases;
  cases.push_back({{{{"bad key!", "x"}}, {}}, "sel.matchLabels.bad key!: label key"});
  cases.push_back({{{{"app", "-web"}}, {}}, "must start and end with an alphanumeric"});
  cases.push_back({{{{"app", std::string(64, 'a')}}, {}}, "longer than 63"});
  cases.push_back({{{{"Example.com/app", "x"}}, {}}, "lowercase DNS subdomain"});
  cases.push_back({{{}, {{"app", Op::kIn, {}}}},
                   "sel.matchExpressions[0].values: must be non-empty when operator is In"});
  cases.push_back({{{}, {{"app", Op::kExists, {"x"}}}}, "must be empty when operator is Exists"});
  cases.push_back(
      {{{}, {{"", Op::kExists, {}}}}, "sel.matchExpressions[0].key: label key must not be empty"});
  cases.push_back({{{}, {{"app", Op::kNotIn, {"a", "b c"}}}}, "sel.matchExpressions[0].values[1]"});
  for (const Case& c : cases) {
    absl::Status s = ValidateLabelSelector(c.selector, "sel");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.fragment;
    EXPECT_THAT(s.message(), HasSubstr(c.fragment));
  }
  LabelSelector ok;
  ok.match_labels = {{"app.kubernetes.io/name", "web"}, {"empty", ""}};
  EXPECT_TRUE(ValidateLabelSelector(ok, "sel").ok());
}

}  // namespace
}  // namespace remora::filters
