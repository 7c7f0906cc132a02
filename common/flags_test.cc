#include "common/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Parsed {
  std::string config = "default.yaml";
  int64_t workers = 1;
  bool verbose = false;
  absl::Duration timeout = absl::Seconds(5);
  std::vector<std::string> files;
  std::vector<std::string> positional;
};

absl::Status ParseInto(Parsed& p, std::vector<const char*> args) {
  FlagSet flags("prog", "prog: does things");
  flags.String("config", &p.config, "config file");
  flags.Int("workers", &p.workers, "threads");
  flags.Bool("verbose", &p.verbose, "say more");
  flags.Duration("timeout", &p.timeout, "how long");
  flags.StringList("f", &p.files, "files");
  args.insert(args.begin(), "prog");
  return flags.Parse(static_cast<int>(args.size()), args.data(), &p.positional);
}

TEST(FlagSetTest, ParsesEveryKindInBothSpellings) {
  Parsed p;
  ASSERT_TRUE(ParseInto(p, {"--config=a.yaml", "--workers", "4", "--verbose", "--timeout=250ms",
                            "-f", "x", "-f=y", "apply", "--", "--literal"})
                  .ok());
  EXPECT_EQ(p.config, "a.yaml");
  EXPECT_EQ(p.workers, 4);
  EXPECT_TRUE(p.verbose);
  EXPECT_EQ(p.timeout, absl::Milliseconds(250));
  EXPECT_THAT(p.files, ElementsAre("x", "y"));
  EXPECT_THAT(p.positional, ElementsAre("apply", "--literal"));
}

TEST(FlagSetTest, KeepsDefaultsWhenAbsent) {
  Parsed p;
  ASSERT_TRUE(ParseInto(p, {}).ok());
  EXPECT_EQ(p.config, "default.yaml");
  EXPECT_EQ(p.timeout, absl::Seconds(5));
}

TEST(FlagSetTest, RefusesUnknownFlagNamingIt) {
  Parsed p;
  absl::Status s = ParseInto(p, {"--wokers=3"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--wokers"));
}

TEST(FlagSetTest, RefusesBadIntegerAndDuration) {
  Parsed p;
  EXPECT_THAT(ParseInto(p, {"--workers=many"}).message(), HasSubstr("not an integer"));
  EXPECT_THAT(ParseInto(p, {"--timeout=soon"}).message(), HasSubstr("not a duration"));
  EXPECT_THAT(ParseInto(p, {"--timeout=-1s"}).message(), HasSubstr("not a duration"));
}

TEST(FlagSetTest, RefusesMissingValue) {
  Parsed p;
  EXPECT_THAT(ParseInto(p, {"--config"}).message(), HasSubstr("needs a value"));
}

TEST(FlagSetTest, HelpListsFlagsWithDefaults) {
  Parsed p;
  FlagSet flags("prog", "prog: does things");
  flags.Int("workers", &p.workers, "threads");
  EXPECT_THAT(flags.Help(), HasSubstr("--workers=VALUE"));
  EXPECT_THAT(flags.Help(), HasSubstr("(default: 1)"));
}

}  // namespace
}  // namespace remora
