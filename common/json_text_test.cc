#include "common/json_text.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace remora {
namespace {

TEST(FindInvalidUtf8Test, PointsAtTheFirstByteThatDoesNotStartAWellFormedCharacter) {
  struct Case {
    std::string text;
    std::optional<size_t> at;
  };
  for (const Case& c : std::vector<Case>{
           {"", std::nullopt},
           {"plain ascii", std::nullopt},
           {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9f", std::nullopt},  // é € 🐟
           {"8\xcf"
            "80",
            1},                      // the kube-inject fuzz crash: CF then '8'
           {"a.b.c.\xc1", 6},        // the jwt fuzz crash: C1 is an overlong lead byte
           {"\x80", 0},              // a lone continuation byte
           {"\xc0\xaf", 0},          // overlong '/'
           {"\xe0\x80\xaf", 0},      // overlong three-byte '/'
           {"\xed\xa0\x80", 0},      // U+D800, a surrogate
           {"\xf4\x90\x80\x80", 0},  // U+110000, past the last code point
           {"ok\xe2\x82", 2},        // truncated at the end
           {"\xf0\x9f\x90", 0},      // truncated four-byte sequence
           {"\xef\xbf\xbd\xff", 3},  // U+FFFD itself is fine, FF never is
           {std::string("nul\0ok", 6), std::nullopt},
       }) {
    EXPECT_EQ(FindInvalidUtf8(c.text), c.at) << testing::PrintToString(c.text);
  }
}

// The validator must agree with nlohmann's serializer exactly: a string it accepts must never make
// dump() throw, and one it refuses must be one dump() would have thrown on.
TEST(FindInvalidUtf8Test, AgreesWithNlohmannsSerializerOnEveryShortSequence) {
  auto agrees = [](const std::string& s) {
    bool threw = false;
    try {
      (void)nlohmann::json(s).dump();
    } catch (const nlohmann::json::type_error&) {
      threw = true;
    }
    return threw == FindInvalidUtf8(s).has_value();
  };
  int checked = 0;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string s{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_TRUE(agrees(s)) << testing::PrintToString(s);
      ++checked;
    }
  }
  // Longer sequences: every lead byte with the boundary values of each later byte.
  const std::vector<int> edges = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                  0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF4, 0xFF};
  for (int a = 0; a < 256; ++a) {
    for (int b : edges) {
      for (int c : edges) {
        const std::string three{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        ASSERT_TRUE(agrees(three)) << testing::PrintToString(three);
        for (int d : edges) {
          const std::string four = three + static_cast<char>(d);
          ASSERT_TRUE(agrees(four)) << testing::PrintToString(four);
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 65536);
}

TEST(CheckUtf8Test, NamesTheInputTheByteAndItsOffset) {
  EXPECT_TRUE(CheckUtf8("h\xc3\xa9llo", "greeting").ok());
  absl::Status s = CheckUtf8(
      "8\xcf"
      "80",
      "port");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "port: byte 0xCF at offset 1 is not valid UTF-8");
}

TEST(DumpJsonTest, ReplacesWhatIsNotUtf8InsteadOfThrowing) {
  nlohmann::json j = {{"port",
                       "8\xcf"
                       "80"}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);
  EXPECT_EQ(DumpJson(j),
            "{\"port\":\"8\xef\xbf\xbd"
            "80\"}");
  EXPECT_EQ(DumpJson(nlohmann::ordered_json::array({1, "\xff"}), 1),
            "[\n 1,\n \"\xef\xbf\xbd\"\n]");
}

}  // namespace
}  // namespace remora
