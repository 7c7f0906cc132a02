#include "iptables-init/installer.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iptables-init/options.h"

namespace remora::iptables_init {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// Answers commands from a script, by command line; records every command run.
class FakeRunner : public CommandRunner {
 public:
  void Program(const std::string& name) { programs_.insert(name); }
  void Answer(const std::string& command_line, CommandResult result) {
    answers_[command_line] = std::move(result);
  }
  absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv,
                                    absl::string_view input) override {
    const std::string line = CommandLine(argv);
    calls.push_back(line);
    inputs.emplace_back(input);
    auto it = answers_.find(line);
    if (it == answers_.end()) {
      return absl::NotFoundError(absl::StrCat("fake runner has no answer for `", line, "`"));
    }
    return it->second;
  }
  bool HasProgram(absl::string_view program) override {
    return programs_.count(std::string(program)) > 0;
  }

  std::vector<std::string> calls;
  std::vector<std::string> inputs;

 private:
  std::set<std::string> programs_;
  std::map<std::string, CommandResult> answers_;
};

constexpr char kOurs[] =
    "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:REMORA_OUTPUT - [0:0]\n"
    "-A OUTPUT -p tcp -j REMORA_OUTPUT\n-A REMORA_OUTPUT -p tcp -j REDIRECT --to-ports 15001\n"
    "COMMIT\n";
constexpr char kOthers[] =
    "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n";

CaptureOptions Options(const std::string& backend, const std::string& ipv6 = "off") {
  FlagValues f;
  f.backend = backend;
  f.ipv6 = ipv6;
  absl::StatusOr<CaptureOptions> o = ParseCaptureOptions(f);
  EXPECT_TRUE(o.ok()) << o.status();
  return *o;
}

class InstallerTest : public ::testing::Test {
 protected:
  void NftWorks() {
    runner_.Program("nft");
    runner_.Answer("nft list tables", {0, "table ip nat\n", ""});
  }
  void NftBroken() {
    runner_.Program("nft");
    runner_.Answer("nft list tables", {1, "", "Error: Operation not supported\n"});
  }
  // The named binaries of a variant, with what its save programs print.
  void Variant(const std::string& v, const std::string& save4, const std::string& save6 = "") {
    for (const char* family : {"iptables", "ip6tables"}) {
      for (const char* verb : {"save", "restore"})
        runner_.Program(absl::StrCat(family, "-", v, "-", verb));
    }
    runner_.Answer(absl::StrCat("iptables-", v, "-save"), {0, save4, ""});
    runner_.Answer(absl::StrCat("ip6tables-", v, "-save"), {0, save6, ""});
  }
  std::string WriteIfInet6(const std::string& content) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/if_inet6");
    std::ofstream(path) << content;
    return path;
  }
  // Planning only reads: every command it ran is a listing or a save.
  void ExpectOnlyReads() {
    for (const std::string& call : runner_.calls) {
      EXPECT_TRUE(call == "nft list tables" || absl::StrContains(call, "-save")) << call;
    }
  }

  FakeRunner runner_;
  Environment env_{&runner_, "/nonexistent/if_inet6"};
};

TEST_F(InstallerTest, AutoUsesNftWhereItWorks) {
  NftWorks();
  Variant("nft", kOthers);
  absl::StatusOr<Plan> plan = PlanInstall(Options("auto"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->summary, "nft (table inet remora), IPv4 only");
  ASSERT_EQ(plan->steps.size(), 1u);
  EXPECT_THAT(plan->steps[0].command.argv, ElementsAre("nft", "-f", "-"));
  EXPECT_THAT(plan->steps[0].command.input, HasSubstr("table inet remora {\n"));
  EXPECT_FALSE(plan->steps[0].undo.has_value());
  ExpectOnlyReads();
}

TEST_F(InstallerTest, AutoFallsBackToIptablesAndSaysWhy) {
  NftBroken();
  Variant("nft", "");
  Variant("legacy", "");
  absl::StatusOr<Plan> plan = PlanInstall(Options("auto"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->summary, "iptables-nft (nat chains REMORA_*), IPv4 only");
  ASSERT_EQ(plan->steps.size(), 1u);
  EXPECT_THAT(plan->steps[0].command.argv,
              ElementsAre("iptables-nft-restore", "--noflush", "--wait=10"));
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_THAT(plan->notes[0], HasSubstr("Operation not supported"));
  ExpectOnlyReads();
}

TEST_F(InstallerTest, AutoFailsWhenNothingWorksNamingBothProblems) {
  NftBroken();
  absl::StatusOr<Plan> plan = PlanInstall(Options("auto"), env_);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(plan.status().message(), HasSubstr("neither nftables nor iptables works here"));
  EXPECT_THAT(plan.status().message(), HasSubstr("Operation not supported"));
  EXPECT_THAT(plan.status().message(), HasSubstr("iptables-nft-restore is not installed"));
}

TEST_F(InstallerTest, ExplicitNftFailsWhenNftDoesNotWork) {
  NftBroken();
  Variant("nft", "");
  absl::StatusOr<Plan> plan = PlanInstall(Options("nft"), env_);
  EXPECT_THAT(plan.status().message(),
              HasSubstr("`nft list tables` failed (exit 1): Error: Operation not supported"));
  absl::StatusOr<Plan> missing = [&] {
    FakeRunner empty;
    Environment env{&empty, "/nonexistent"};
    return PlanInstall(Options("nft"), env);
  }();
  EXPECT_THAT(missing.status().message(), HasSubstr("nft is not installed"));
}

TEST_F(InstallerTest, IptablesPrefersTheVariantHoldingOurChains) {
  Variant("nft", absl::StrCat(kOthers, "*nat\n-A OUTPUT -j RETURN\n-A OUTPUT -j RETURN\nCOMMIT\n"));
  Variant("legacy", kOurs);
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->summary, StartsWith("iptables-legacy "));
  // Reinstalling over our previous rules deletes the old jump first.
  EXPECT_THAT(plan->steps[0].command.input, HasSubstr("-D OUTPUT -p tcp -j REMORA_OUTPUT\n"));
}

TEST_F(InstallerTest, IptablesPrefersTheVariantWithMoreRulesThenNfTables) {
  Variant("nft", "");
  Variant("legacy", kOthers);
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->summary, StartsWith("iptables-legacy "));

  FakeRunner tie;
  env_.runner = &tie;
  for (const char* v : {"nft", "legacy"}) {
    tie.Program(absl::StrCat("iptables-", v, "-save"));
    tie.Program(absl::StrCat("iptables-", v, "-restore"));
    tie.Answer(absl::StrCat("iptables-", v, "-save"), {0, "", ""});
  }
  plan = PlanInstall(Options("iptables"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->summary, StartsWith("iptables-nft "));
}

TEST_F(InstallerTest, UsesPlainIptablesNamesWhenTheyAreTheVariant) {
  runner_.Program("iptables-save");
  runner_.Program("iptables-restore");
  runner_.Answer("iptables-save --version", {0, "iptables-save v1.6.1\n", ""});
  runner_.Answer("iptables-save", {0, "", ""});
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables-legacy"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->steps[0].command.argv,
              ElementsAre("iptables-restore", "--noflush", "--wait=10"));
  absl::StatusOr<Plan> nft = PlanInstall(Options("iptables-nft"), env_);
  EXPECT_EQ(nft.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(nft.status().message(), HasSubstr("iptables-nft-restore is not installed"));
}

TEST_F(InstallerTest, DetectsIpv6FromTheNamespacesAddresses) {
  EXPECT_TRUE(
      HasIpv6OutsideLoopback("00000000000000000000000000000001 01 80 10 80       lo\n"
                             "fd000072000000000000000000000002 02 40 00 80     eth0\n"));
  EXPECT_TRUE(HasIpv6OutsideLoopback("20010db8000000000000000000000001 05 40 00 00 net1\n"));
  // A link-local address is enough: IPv6 reaches the pod over it (issue 16).
  EXPECT_TRUE(
      HasIpv6OutsideLoopback("00000000000000000000000000000001 01 80 10 80       lo\n"
                             "fe800000000000000000000000000001 02 40 20 80     eth0\n"));
  EXPECT_FALSE(HasIpv6OutsideLoopback("00000000000000000000000000000001 01 80 10 80       lo\n"));
  EXPECT_FALSE(HasIpv6OutsideLoopback(""));

  Variant("nft", "", "");
  runner_.Program("ip");
  env_.if_inet6_path = WriteIfInet6("fe800000000000000000000000000002 02 40 20 80     eth0\n");
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables-nft", "auto"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->summary, "iptables-nft (nat chains REMORA_*), IPv4 and IPv6");
  ASSERT_EQ(plan->steps.size(), 3u);
  EXPECT_EQ(plan->steps[1].command.argv[0], "ip6tables-nft-restore");
  EXPECT_THAT(plan->steps[2].command.argv,
              ElementsAre("ip", "-6", "address", "replace", "::6/128", "dev", "lo"));

  env_.if_inet6_path = "/nonexistent/if_inet6";  // IPv6 disabled in the kernel
  plan = PlanInstall(Options("iptables-nft", "auto"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->steps.size(), 1u);
}

TEST_F(InstallerTest, Ipv6NeedsTheIpProgramForThePassthroughAddress) {
  NftWorks();
  absl::StatusOr<Plan> plan = PlanInstall(Options("nft", "on"), env_);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(plan.status().message(),
              HasSubstr("IPv6 capture needs the ip program (Debian package iproute2)"));
}

TEST_F(InstallerTest, CleanupRemovesThePassthroughAddress) {
  NftWorks();
  runner_.Program("ip");
  env_.if_inet6_path = WriteIfInet6("00000000000000000000000000000006 01 80 10 80       lo\n");
  absl::StatusOr<Plan> plan = PlanCleanup(Options("nft"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_FALSE(plan->steps.empty());
  EXPECT_THAT(plan->steps.back().command.argv,
              ElementsAre("ip", "-6", "address", "del", "::6/128", "dev", "lo"));
}

TEST_F(InstallerTest, Ipv6NeedsIp6tables) {
  runner_.Program("iptables-nft-save");
  runner_.Program("iptables-nft-restore");
  runner_.Answer("iptables-nft-save", {0, "", ""});
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables-nft", "on"), env_);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(plan.status().message(),
              HasSubstr("IPv6 capture needs ip6tables-nft-restore, which is not installed; "
                        "install it or pass --ipv6=off"));
}

TEST_F(InstallerTest, Ipv6OffRemovesIpv6RulesLeftByAnEarlierRun) {
  Variant("nft", "", kOurs);
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables-nft", "off"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps.size(), 2u);
  EXPECT_EQ(plan->steps[1].purpose, "remove IPv6 capture rules left by an earlier run");
  EXPECT_THAT(plan->steps[1].command.argv, ElementsAre("ip6tables-nft-restore", "--wait=10"));
}

TEST_F(InstallerTest, FailureUndoesTheFirstFamilyAndNamesTheCommand) {
  Variant("nft", kOthers, "");
  runner_.Program("ip");
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables-nft", "on"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps.size(), 3u);  // IPv4, IPv6, the ::6 address
  runner_.Answer("iptables-nft-restore --noflush --wait=10", {0, "", ""});
  runner_.Answer("ip6tables-nft-restore --noflush --wait=10",
                 {1, "", "ip6tables-restore: line 9 failed\n"});
  runner_.Answer("iptables-nft-restore --wait=10", {0, "", ""});
  runner_.calls.clear();
  runner_.inputs.clear();
  absl::Status s = ExecutePlan(*plan, runner_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "cannot install the IPv6 capture rules (iptables-nft): `ip6tables-nft-restore "
            "--noflush --wait=10` failed (exit 1): ip6tables-restore: line 9 failed; undone: "
            "install the IPv4 capture rules (iptables-nft)");
  ASSERT_THAT(runner_.calls, ElementsAre("iptables-nft-restore --noflush --wait=10",
                                         "ip6tables-nft-restore --noflush --wait=10",
                                         "iptables-nft-restore --wait=10"));
  // The undo resets the nat table to what the save showed: no nat table at all before.
  EXPECT_THAT(runner_.inputs[2], HasSubstr("\n*nat\nCOMMIT\n"));
}

TEST_F(InstallerTest, FailedUndoIsReportedToo) {
  Variant("nft", "", "");
  runner_.Program("ip");
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables-nft", "on"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  runner_.Answer("iptables-nft-restore --noflush --wait=10", {0, "", ""});
  runner_.Answer("ip6tables-nft-restore --noflush --wait=10", {1, "", "bad\n"});
  runner_.Answer("iptables-nft-restore --wait=10", {4, "", "resource busy\n"});
  absl::Status s = ExecutePlan(*plan, runner_);
  EXPECT_THAT(s.message(),
              HasSubstr("undoing \"install the IPv4 capture rules (iptables-nft)\" "
                        "failed too: `iptables-nft-restore --wait=10` failed (exit 4): "
                        "resource busy"));
}

TEST_F(InstallerTest, ExecuteRunsEveryStepWithItsInput) {
  NftWorks();
  absl::StatusOr<Plan> plan = PlanInstall(Options("nft"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  runner_.Answer("nft -f -", {0, "", ""});
  runner_.calls.clear();
  runner_.inputs.clear();
  ASSERT_TRUE(ExecutePlan(*plan, runner_).ok());
  EXPECT_THAT(runner_.calls, ElementsAre("nft -f -"));
  EXPECT_EQ(runner_.inputs[0], plan->steps[0].command.input);
}

TEST_F(InstallerTest, InstallRemovesOurRulesLeftByAnotherBackend) {
  runner_.Program("nft");
  runner_.Answer("nft list tables", {0, "table inet remora\n", ""});
  Variant("nft", "", "");
  Variant("legacy", kOurs, "");
  absl::StatusOr<Plan> plan = PlanInstall(Options("iptables-nft"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps.size(), 3u);
  EXPECT_EQ(plan->steps[0].purpose, "install the IPv4 capture rules (iptables-nft)");
  EXPECT_EQ(plan->steps[1].purpose,
            "remove the capture rules an earlier run installed with nft (table inet remora)");
  EXPECT_EQ(plan->steps[1].command.input, "delete table inet remora\n");
  EXPECT_EQ(plan->steps[2].purpose,
            "remove the IPv4 capture rules (iptables-legacy), installed by an earlier run");

  plan = PlanInstall(Options("nft"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps.size(), 2u);
  EXPECT_THAT(plan->steps[0].command.input, HasSubstr("table inet remora {"));
  EXPECT_EQ(plan->steps[1].command.argv[0], "iptables-legacy-restore");
  ExpectOnlyReads();
}

TEST_F(InstallerTest, AutoCleanupRemovesOursFromEveryBackend) {
  runner_.Program("nft");
  runner_.Answer("nft list tables", {0, "table ip nat\ntable inet remora\n", ""});
  Variant("nft", kOthers, "");
  Variant("legacy", kOurs, kOurs);
  absl::StatusOr<Plan> plan = PlanCleanup(Options("auto"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->summary,
            "nft table inet remora, iptables-nft chains REMORA_*, iptables-legacy chains REMORA_*");
  ASSERT_EQ(plan->steps.size(), 3u);
  EXPECT_THAT(plan->steps[0].command.argv, ElementsAre("nft", "-f", "-"));
  EXPECT_EQ(plan->steps[0].command.input, "delete table inet remora\n");
  EXPECT_EQ(plan->steps[1].purpose, "remove the IPv4 capture rules (iptables-legacy)");
  EXPECT_EQ(plan->steps[2].purpose, "remove the IPv6 capture rules (iptables-legacy)");
  ExpectOnlyReads();
}

TEST_F(InstallerTest, CleanupWithNothingOfOursHasNoSteps) {
  NftWorks();
  Variant("nft", kOthers, "");
  Variant("legacy", "", "");
  absl::StatusOr<Plan> plan = PlanCleanup(Options("auto"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->steps, IsEmpty());
  EXPECT_THAT(plan->notes, IsEmpty());
}

TEST_F(InstallerTest, AutoCleanupSkipsWhatDoesNotWorkButNotEverything) {
  NftBroken();
  Variant("legacy", kOurs, "");
  absl::StatusOr<Plan> plan = PlanCleanup(Options("auto"), env_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->steps.size(), 1u);
  ASSERT_EQ(plan->notes.size(), 2u);
  EXPECT_THAT(plan->notes[0], HasSubstr("skipped nft: `nft list tables` failed"));
  EXPECT_THAT(plan->notes[1], HasSubstr("skipped iptables-nft-restore is not installed"));

  FakeRunner nothing;
  env_.runner = &nothing;
  absl::StatusOr<Plan> none = PlanCleanup(Options("auto"), env_);
  EXPECT_THAT(none.status().message(), HasSubstr("cannot inspect the rules of this namespace"));
}

TEST_F(InstallerTest, ExplicitBackendCleanupFailsWhenItCannotLook) {
  NftBroken();
  EXPECT_THAT(PlanCleanup(Options("nft"), env_).status().message(),
              HasSubstr("`nft list tables` failed"));
  EXPECT_THAT(PlanCleanup(Options("iptables-legacy"), env_).status().message(),
              HasSubstr("iptables-legacy-restore is not installed"));
}

TEST_F(InstallerTest, FormatsStepsAsCommentedScripts) {
  Plan plan{
      "x",
      {},
      {Step{"a", Command{{"nft", "-f", "-"}, "table inet remora\n"}, std::nullopt},
       Step{"b", Command{{"ip6tables-restore", "--noflush"}, "*nat\nCOMMIT\n"}, std::nullopt}}};
  EXPECT_EQ(FormatSteps(plan),
            "# nft -f -\ntable inet remora\n# ip6tables-restore --noflush\n*nat\nCOMMIT\n");
}

}  // namespace
}  // namespace remora::iptables_init
