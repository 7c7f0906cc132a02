#include "common/json_nesting.h"

#include <string>

#include "gtest/gtest.h"

namespace remora {
namespace {

TEST(JsonNestsDeeperThanTest, CountsArraysAndObjectsTogether) {
  EXPECT_FALSE(JsonNestsDeeperThan(R"({"a": [{"b": 1}]})", 3));
  EXPECT_TRUE(JsonNestsDeeperThan(R"({"a": [{"b": []}]})", 3));
  EXPECT_FALSE(JsonNestsDeeperThan("[] [] []", 1)) << "depth, not count";
}

TEST(JsonNestsDeeperThanTest, IgnoresBracketsInsideStringsIncludingEscapedQuotes) {
  EXPECT_FALSE(JsonNestsDeeperThan(R"({"k": "[[[[{{{{"})", 1));
  EXPECT_FALSE(JsonNestsDeeperThan(R"(["a \"[[[[\" b"])", 1));
  EXPECT_TRUE(JsonNestsDeeperThan(R"(["\\", [[]]])", 2)) << "an escaped backslash ends the escape";
}

TEST(JsonNestsDeeperThanTest, RefusesAHundredThousandOpenBracketsWithoutParsing) {
  EXPECT_TRUE(JsonNestsDeeperThan(std::string(100000, '['), 100));
}

}  // namespace
}  // namespace remora
