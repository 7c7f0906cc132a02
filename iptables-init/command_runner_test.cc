#include "iptables-init/command_runner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::iptables_init {
namespace {

using ::testing::HasSubstr;

TEST(SubprocessRunnerTest, PassesInputAndCollectsOutputAndExitCode) {
  SubprocessRunner runner;
  absl::StatusOr<CommandResult> r =
      runner.Run({"sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"}, "hello\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "HELLO\n");
  EXPECT_EQ(r->err, "oops\n");
  EXPECT_FALSE(r->ok());
}

TEST(SubprocessRunnerTest, HandlesInputLargerThanAPipe) {
  SubprocessRunner runner;
  const std::string big(1 << 20, 'x');
  absl::StatusOr<CommandResult> r = runner.Run({"wc", "-c"}, big);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "1048576\n");
}

TEST(SubprocessRunnerTest, SurvivesAProgramThatIgnoresItsInput) {
  SubprocessRunner runner;
  absl::StatusOr<CommandResult> r = runner.Run({"true"}, std::string(1 << 20, 'x'));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
}

TEST(SubprocessRunnerTest, ReportsAMissingProgram) {
  SubprocessRunner runner;
  absl::StatusOr<CommandResult> r = runner.Run({"remora-no-such-program"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("remora-no-such-program: program not found"));
  EXPECT_FALSE(runner.HasProgram("remora-no-such-program"));
  EXPECT_TRUE(runner.HasProgram("sh"));
  EXPECT_TRUE(runner.HasProgram("/bin/sh"));
}

TEST(SubprocessRunnerTest, KillsAProgramThatRunsTooLong) {
  SubprocessRunner runner(absl::Milliseconds(200));
  absl::StatusOr<CommandResult> r = runner.Run({"sleep", "30"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("sleep 30 did not finish within 200ms"));
}

TEST(SubprocessRunnerTest, ReportsDeathBySignal) {
  SubprocessRunner runner;
  absl::StatusOr<CommandResult> r = runner.Run({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 128 + 9);
}

TEST(SubprocessRunnerTest, FindsSbinProgramsEvenWithoutThemInPath) {
  // nft and iptables live in /usr/sbin, which a minimal PATH omits.
  EXPECT_EQ(FindProgram("sh").empty(), false);
  EXPECT_EQ(FindProgram("/definitely/not/here"), "");
}

TEST(CommandLineTest, QuotesOnlyWhatAShellWouldMisread) {
  EXPECT_EQ(CommandLine({"nft", "-f", "-"}), "nft -f -");
  EXPECT_EQ(CommandLine({"iptables-restore", "--noflush", "--wait=10"}),
            "iptables-restore --noflush --wait=10");
  EXPECT_EQ(CommandLine({"echo", "a b", "it's", "", "*"}), "echo 'a b' 'it'\\''s' '' '*'");
}

TEST(CommandLineTest, DescribesAFailureWithItsError) {
  EXPECT_EQ(DescribeFailure({"nft", "-f", "-"},
                            {1, "", "Error: Could not process rule: Operation not permitted\n\n"}),
            "`nft -f -` failed (exit 1): Error: Could not process rule: Operation not permitted");
  EXPECT_EQ(DescribeFailure({"x"}, {2, "only stdout\n", ""}), "`x` failed (exit 2): only stdout");
  EXPECT_EQ(DescribeFailure({"x"}, {2, "", ""}), "`x` failed (exit 2): (no output)");
}

}  // namespace
}  // namespace remora::iptables_init
