#include "common/yaml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace remora {
namespace {

TEST(LoadYamlDocumentsTest, RefusesTextThatIsNotUtf8WithLineAndColumn) {
  absl::StatusOr<std::vector<YamlDocument>> docs =
      LoadYamlDocuments("a: 1\n---\nb: caf\xc3\xa9 \xe9t\xe9\n", "x.yaml");
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(docs.status().message(),
            "x.yaml: line 3, column 9: byte 0xE9 is not valid UTF-8; YAML is UTF-8 text, so save "
            "the file as UTF-8");
  EXPECT_TRUE(LoadYamlDocuments("\xef\xbb\xbf"
                                "a: \xe2\x82\xac\n",
                                "bom.yaml")
                  .ok())
      << "a UTF-8 byte order mark is UTF-8";
}

TEST(LoadYamlDocumentsTest, RefusesCharactersThatAreNotPrintable) {
  // YAML 1.2 section 5.1 (c-printable). Found by //inject:kube_inject_fuzz: a document starting
  // with a NUL byte made yaml-cpp read it as UTF-16, so kube-inject's output read differently.
  struct Case {
    std::string yaml;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {std::string("# c\n---\n\0# A", 13),
            "t.yaml: line 3, column 1: character U+0000 is not allowed in YAML, which holds "
            "printable characters only; write it as an escape in a double-quoted string "
            "(\"\\x00\")"},
           {"a: \"b\x07\"\n", "t.yaml: line 1, column 6: character U+0007 is not allowed"},
           {"a: \x7f\n", "character U+007F is not allowed"},
           {"a: \xc2\x80\n", "t.yaml: line 1, column 4: character U+0080 is not allowed"},
           {"a: \xef\xbf\xbf\n",
            "character U+FFFF is not allowed in YAML, which holds printable "
            "characters only; write it as an escape in a double-quoted string "
            "(\"\\uFFFF\")"},
       }) {
    absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(c.yaml, "t.yaml");
    EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(std::string(docs.status().message()), ::testing::HasSubstr(c.message));
  }
  // Tab, CR, NEL, NBSP and everything from U+10000 are printable.
  EXPECT_TRUE(LoadYamlDocuments("a:\tb\r\nc: \"\xc2\x85\xc2\xa0\xf0\x9f\x90\x9f\"\n", "t").ok());
}

TEST(YamlScalarTest, EscapesForNelAndNbspBecomeUtf8) {
  // YAML 1.2 section 5.7: \N is U+0085, \_ is U+00A0; yaml-cpp yields the bare bytes 0x85 and 0xA0.
  absl::StatusOr<std::vector<YamlDocument>> docs =
      LoadYamlDocuments("a: \"x\\N\\_y\"\n\"k\\N\": [\"\\_\"]\n", "t.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  const YAML::Node& root = (*docs)[0].root;
  EXPECT_EQ(YamlScalar(root["a"]), "x\xc2\x85\xc2\xa0y");
  YamlField field(root, "");
  EXPECT_EQ(*field["a"].String(), "x\xc2\x85\xc2\xa0y");
  absl::StatusOr<std::vector<std::pair<std::string, YamlField>>> entries = field.Entries();
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[1].first, "k\xc2\x85");
  EXPECT_THAT(*(*entries)[1].second.StringList(), ::testing::ElementsAre("\xc2\xa0"));
  // Other escapes already come out as UTF-8 and stay as they are.
  docs = LoadYamlDocuments("a: \"\\xe9\\u20ac\\U0001F41F\\L\\P\\0\"\n", "t.yaml");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ(YamlScalar((*docs)[0].root["a"]),
            std::string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x9f\xe2\x80\xa8\xe2\x80\xa9\0", 16));
}

}  // namespace
}  // namespace remora
