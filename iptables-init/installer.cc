#include "iptables-init/installer.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "iptables-init/iptables_render.h"
#include "iptables-init/nft_render.h"
#include "iptables-init/rule_model.h"

namespace remora::iptables_init {
namespace {

// iptables-restore waits this long for the xtables lock (legacy) instead of failing at once.
constexpr char kWaitFlag[] = "--wait=10";

// The programs of one iptables variant. The IPv6 ones are empty when not installed.
struct IptablesTools {
  std::string variant;  // "iptables-nft" or "iptables-legacy"
  bool nf_tables = false;
  std::string save4, restore4, save6, restore6;
};

absl::Status CommandError(const std::vector<std::string>& argv, const CommandResult& result) {
  return absl::FailedPreconditionError(DescribeFailure(argv, result));
}

// Runs a command that only reads; a non-zero exit is an error.
absl::StatusOr<std::string> Read(CommandRunner& runner, const std::vector<std::string>& argv) {
  CommandResult result;
  ASSIGN_OR_RETURN(result, runner.Run(argv));
  if (!result.ok()) return CommandError(argv, result);
  return result.out;
}

// Whether nftables works here: the nft program exists and the kernel answers it.
absl::Status NftWorks(CommandRunner& runner) {
  if (!runner.HasProgram("nft")) {
    return absl::NotFoundError("nft is not installed (Debian package nftables)");
  }
  return Read(runner, {"nft", "list", "tables"}).status();
}

// The programs of one variant: iptables-nft-restore and friends, or plain iptables-restore when
// it is that variant (older distributions install only the plain names).
absl::StatusOr<IptablesTools> ToolsFor(bool nf_tables, CommandRunner& runner) {
  const std::string variant = nf_tables ? "nft" : "legacy";
  IptablesTools tools{absl::StrCat("iptables-", variant), nf_tables, "", "", "", ""};
  const auto named = [&](absl::string_view base, absl::string_view verb) {
    return absl::StrCat(base, "-", variant, "-", verb);
  };
  if (runner.HasProgram(named("iptables", "save")) &&
      runner.HasProgram(named("iptables", "restore"))) {
    tools.save4 = named("iptables", "save");
    tools.restore4 = named("iptables", "restore");
    if (runner.HasProgram(named("ip6tables", "save")) &&
        runner.HasProgram(named("ip6tables", "restore"))) {
      tools.save6 = named("ip6tables", "save");
      tools.restore6 = named("ip6tables", "restore");
    }
    return tools;
  }
  if (runner.HasProgram("iptables-save") && runner.HasProgram("iptables-restore")) {
    absl::StatusOr<CommandResult> version = runner.Run({"iptables-save", "--version"});
    // "iptables-save v1.8.9 (nf_tables)"; legacy builds say "(legacy)" or nothing.
    if (version.ok() && version->ok() &&
        absl::StrContains(version->out + version->err, "nf_tables") == nf_tables) {
      tools.save4 = "iptables-save";
      tools.restore4 = "iptables-restore";
      if (runner.HasProgram("ip6tables-save") && runner.HasProgram("ip6tables-restore")) {
        tools.save6 = "ip6tables-save";
        tools.restore6 = "ip6tables-restore";
      }
      return tools;
    }
  }
  return absl::NotFoundError(
      absl::StrCat(named("iptables", "restore"), " is not installed (Debian package iptables)"));
}

// Picks the iptables variant the node uses, like Kubernetes' iptables-wrapper: the one holding
// our chains, else the one holding more rules, else nf_tables.
absl::StatusOr<IptablesTools> DetectIptables(CommandRunner& runner) {
  struct Candidate {
    IptablesTools tools;
    bool has_ours = false;
    size_t rules = 0;
  };
  std::vector<Candidate> candidates;
  std::vector<std::string> problems;
  for (bool nf_tables : {true, false}) {
    absl::StatusOr<IptablesTools> tools = ToolsFor(nf_tables, runner);
    if (!tools.ok()) {
      problems.emplace_back(tools.status().message());
      continue;
    }
    absl::StatusOr<std::string> save = Read(runner, {tools->save4});
    if (!save.ok()) {
      problems.emplace_back(save.status().message());
      continue;
    }
    Candidate c{*tools, HasOurRules(ParseNatTable(*save)), 0};
    for (absl::string_view line : absl::StrSplit(*save, '\n')) {
      if (absl::StartsWith(line, "-A ")) ++c.rules;
    }
    candidates.push_back(std::move(c));
  }
  if (candidates.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no iptables variant works here: ", absl::StrJoin(problems, "; ")));
  }
  auto best = std::max_element(
      candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return std::pair(a.has_ours, a.rules) < std::pair(b.has_ours, b.rules);
      });
  // max_element keeps the first of equals: nf_tables wins a tie.
  return best->tools;
}

// The namespace's IPv6 addresses; "" when the kernel has IPv6 disabled (no such file).
absl::StatusOr<std::string> ReadIpv6Addresses(Environment& env) {
  absl::StatusOr<std::string> addresses = ReadFile(env.if_inet6_path);
  if (absl::IsNotFound(addresses.status())) return std::string();
  return addresses;
}

absl::StatusOr<bool> ResolveIpv6(Ipv6Mode mode, Environment& env) {
  if (mode != Ipv6Mode::kAuto) return mode == Ipv6Mode::kOn;
  std::string addresses;
  ASSIGN_OR_RETURN(addresses, ReadIpv6Addresses(env));
  return HasIpv6OutsideLoopback(addresses);
}

// /proc/net/if_inet6 spells ::6 on lo this way (address, index, prefix, scope, flags, name).
bool ListsPassthroughAddress(absl::string_view if_inet6) {
  for (absl::string_view line : absl::StrSplit(if_inet6, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() >= 6 && fields[0] == "00000000000000000000000000000006" &&
        fields[5] == "lo") {
      return true;
    }
  }
  return false;
}

constexpr char kPassthroughAddressOnLo[] = "::6/128";

// The proxy binds ::6 for its IPv6 connections to the app (rule_model.h); unlike 127.0.0.6 it is
// not local until added to lo, as istio-iptables does (`ip -6 addr add ::6/128 dev lo`).
// `replace` makes a rerun a no-op.
absl::StatusOr<Step> PassthroughAddressStep(CommandRunner& runner) {
  if (!runner.HasProgram("ip")) {
    return absl::NotFoundError(
        "IPv6 capture needs the ip program (Debian package iproute2) to add ::6 to lo; install it "
        "or pass --ipv6=off");
  }
  return Step{"add the inbound passthrough address ::6 to lo",
              Command{{"ip", "-6", "address", "replace", kPassthroughAddressOnLo, "dev", "lo"}, ""},
              std::nullopt};
}

std::string Families(bool ipv6) { return ipv6 ? "IPv4 and IPv6" : "IPv4 only"; }

Step NftInstallStep(const RuleModel& model) {
  return Step{absl::StrCat("install the capture rules (nft table inet ", kNftTable, ")"),
              Command{{"nft", "-f", "-"}, RenderNftInstall(model)}, std::nullopt};
}

Command RestoreCommand(const std::string& program, const RestoreScript& script) {
  std::vector<std::string> argv{program};
  if (!script.flush_table) argv.push_back("--noflush");
  argv.push_back(kWaitFlag);
  return Command{std::move(argv), script.input};
}

// Reads every table, not `-t nat`: asking the legacy variant for one table by name creates that
// table in the namespace, and reading must change nothing (--dry-run, a cleanup with nothing to
// do). Without a table name it lists only the tables that already exist.
absl::StatusOr<NatTable> ReadNat(CommandRunner& runner, const std::string& save) {
  std::string text;
  ASSIGN_OR_RETURN(text, Read(runner, {save}));
  return ParseNatTable(text);
}

absl::StatusOr<Plan> PlanIptablesInstall(const RuleModel& model, const IptablesTools& tools,
                                         CommandRunner& runner) {
  Plan plan;
  plan.summary = absl::StrCat(tools.variant, " (nat chains ", kIptablesChainPrefix, "*), ",
                              Families(model.ipv6));
  NatTable v4;
  ASSIGN_OR_RETURN(v4, ReadNat(runner, tools.save4));
  plan.steps.push_back(
      Step{absl::StrCat("install the IPv4 capture rules (", tools.variant, ")"),
           RestoreCommand(tools.restore4, {RenderIptablesInstall(model, RuleFamily::kIpv4, v4)}),
           RestoreCommand(tools.restore4, RenderIptablesRestorePrevious(v4))});
  if (model.ipv6) {
    if (tools.save6.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "IPv6 capture needs ", absl::StrReplaceAll(tools.variant, {{"iptables", "ip6tables"}}),
          "-restore, which is not installed; install it or pass --ipv6=off"));
    }
    NatTable v6;
    ASSIGN_OR_RETURN(v6, ReadNat(runner, tools.save6));
    plan.steps.push_back(
        Step{absl::StrCat("install the IPv6 capture rules (", tools.variant, ")"),
             RestoreCommand(tools.restore6, {RenderIptablesInstall(model, RuleFamily::kIpv6, v6)}),
             RestoreCommand(tools.restore6, RenderIptablesRestorePrevious(v6))});
  } else if (!tools.save6.empty()) {
    // IPv6 is off now: rules of ours left by an earlier run with IPv6 on must go.
    absl::StatusOr<NatTable> v6 = ReadNat(runner, tools.save6);
    if (v6.ok()) {
      if (std::optional<RestoreScript> script = RenderIptablesCleanup(*v6, tools.nf_tables)) {
        plan.steps.push_back(Step{"remove IPv6 capture rules left by an earlier run",
                                  RestoreCommand(tools.restore6, *script), std::nullopt});
      }
    }
  }
  return plan;
}

// Adds the steps removing our chains from one variant, both families.
absl::Status PlanIptablesCleanup(const IptablesTools& tools, CommandRunner& runner, Plan* plan) {
  for (auto [save, restore, family] : {std::tuple{tools.save4, tools.restore4, "IPv4"},
                                       std::tuple{tools.save6, tools.restore6, "IPv6"}}) {
    if (save.empty()) continue;
    NatTable table;
    ASSIGN_OR_RETURN(table, ReadNat(runner, save));
    if (std::optional<RestoreScript> script = RenderIptablesCleanup(table, tools.nf_tables)) {
      plan->steps.push_back(
          Step{absl::StrCat("remove the ", family, " capture rules (", tools.variant, ")"),
               RestoreCommand(restore, *script), std::nullopt});
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<IptablesTools> ExplicitVariant(Backend backend, CommandRunner& runner) {
  return ToolsFor(backend == Backend::kIptablesNft, runner);
}

// Rules of ours that another backend installed earlier (the node changed, or the flag did) would
// capture the same traffic twice; the install removes them after installing its own. Backends
// that cannot be inspected here are skipped: there is nothing of ours to find in them.
void AddLeftoverCleanup(const std::string& chosen, CommandRunner& runner, Plan* plan) {
  if (chosen != "nft" && NftWorks(runner).ok()) {
    absl::StatusOr<std::string> tables = Read(runner, {"nft", "list", "tables"});
    if (tables.ok() && NftListsOurTable(*tables)) {
      plan->steps.push_back(Step{
          absl::StrCat("remove the capture rules an earlier run installed with nft (table inet ",
                       kNftTable, ")"),
          Command{{"nft", "-f", "-"}, RenderNftCleanup()}, std::nullopt});
    }
  }
  for (bool nf_tables : {true, false}) {
    absl::StatusOr<IptablesTools> tools = ToolsFor(nf_tables, runner);
    if (!tools.ok() || tools->variant == chosen) continue;
    Plan other;
    if (!PlanIptablesCleanup(*tools, runner, &other).ok()) continue;
    for (Step& step : other.steps) {
      step.purpose = absl::StrCat(step.purpose, ", installed by an earlier run");
      plan->steps.push_back(std::move(step));
    }
  }
}

}  // namespace

bool HasIpv6OutsideLoopback(absl::string_view if_inet6) {
  // Each line: address, interface index, prefix length, scope, flags, interface name. Any scope
  // counts: a link-local address (scope 20) is enough for a peer on the link to connect, and a
  // global one may be added after this runs (SLAAC), so only "no IPv6 at all" is left alone.
  for (absl::string_view line : absl::StrSplit(if_inet6, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() >= 6 && fields[5] != "lo") return true;
  }
  return false;
}

absl::StatusOr<Plan> PlanInstall(const CaptureOptions& options, Environment& env) {
  CommandRunner& runner = *env.runner;
  bool ipv6 = false;
  ASSIGN_OR_RETURN(ipv6, ResolveIpv6(options.ipv6, env));
  const RuleModel model = BuildRuleModel(options, ipv6);

  Plan plan;
  std::optional<IptablesTools> tools;  // unset: the nft backend
  switch (options.backend) {
    case Backend::kNft:
      RETURN_IF_ERROR(NftWorks(runner));
      break;
    case Backend::kAuto: {
      absl::Status nft = NftWorks(runner);
      if (nft.ok()) break;
      absl::StatusOr<IptablesTools> detected = DetectIptables(runner);
      if (!detected.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("neither nftables nor iptables works here. nft: ", nft.message(),
                         ". iptables: ", detected.status().message()));
      }
      tools = *detected;
      plan.notes.push_back(
          absl::StrCat("nft does not work here (", nft.message(), "); using ", tools->variant));
      break;
    }
    case Backend::kIptables: {
      ASSIGN_OR_RETURN(tools, DetectIptables(runner));
      break;
    }
    case Backend::kIptablesNft:
    case Backend::kIptablesLegacy: {
      ASSIGN_OR_RETURN(tools, ExplicitVariant(options.backend, runner));
      break;
    }
  }
  if (tools.has_value()) {
    Plan iptables;
    ASSIGN_OR_RETURN(iptables, PlanIptablesInstall(model, *tools, runner));
    plan.summary = std::move(iptables.summary);
    plan.steps = std::move(iptables.steps);
  } else {
    plan.summary = absl::StrCat("nft (table inet ", kNftTable, "), ", Families(ipv6));
    plan.steps.push_back(NftInstallStep(model));
  }
  if (ipv6) {
    // After the rules: when it fails, their change is undone with them.
    Step address;
    ASSIGN_OR_RETURN(address, PassthroughAddressStep(runner));
    plan.steps.push_back(std::move(address));
  }
  AddLeftoverCleanup(tools.has_value() ? tools->variant : "nft", runner, &plan);
  return plan;
}

absl::StatusOr<Plan> PlanCleanup(const CaptureOptions& options, Environment& env) {
  CommandRunner& runner = *env.runner;
  Plan plan;
  std::vector<std::string> looked_at;
  std::vector<std::string> problems;

  const bool nft_wanted = options.backend == Backend::kAuto || options.backend == Backend::kNft;
  if (nft_wanted) {
    absl::Status works = NftWorks(runner);
    if (works.ok()) {
      std::string tables;
      ASSIGN_OR_RETURN(tables, Read(runner, {"nft", "list", "tables"}));
      looked_at.push_back(absl::StrCat("nft table inet ", kNftTable));
      if (NftListsOurTable(tables)) {
        plan.steps.push_back(
            Step{absl::StrCat("remove the capture rules (nft table inet ", kNftTable, ")"),
                 Command{{"nft", "-f", "-"}, RenderNftCleanup()}, std::nullopt});
      }
    } else if (options.backend == Backend::kNft) {
      return works;
    } else {
      problems.push_back(absl::StrCat("nft: ", works.message()));
    }
  }

  // The iptables variants to clean: the one named, or every one that works (auto, iptables), so
  // rules left by any earlier run go whichever backend installed them.
  std::vector<bool> variants;
  if (options.backend == Backend::kIptablesNft) variants = {true};
  if (options.backend == Backend::kIptablesLegacy) variants = {false};
  if (options.backend == Backend::kAuto || options.backend == Backend::kIptables) {
    variants = {true, false};
  }
  for (bool nf_tables : variants) {
    absl::StatusOr<IptablesTools> tools = ToolsFor(nf_tables, runner);
    absl::Status status = tools.status();
    if (tools.ok()) {
      Plan variant_plan;
      status = PlanIptablesCleanup(*tools, runner, &variant_plan);
      if (status.ok()) {
        looked_at.push_back(absl::StrCat(tools->variant, " chains ", kIptablesChainPrefix, "*"));
        for (Step& step : variant_plan.steps) plan.steps.push_back(std::move(step));
        continue;
      }
    }
    if (variants.size() == 1) return status;
    problems.push_back(std::string(status.message()));
  }

  if (looked_at.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot inspect the rules of this namespace: ", absl::StrJoin(problems, "; ")));
  }
  // The address an install with IPv6 added to lo.
  absl::StatusOr<std::string> addresses = ReadIpv6Addresses(env);
  if (addresses.ok() && ListsPassthroughAddress(*addresses) && runner.HasProgram("ip")) {
    plan.steps.push_back(
        Step{"remove the inbound passthrough address ::6 from lo",
             Command{{"ip", "-6", "address", "del", kPassthroughAddressOnLo, "dev", "lo"}, ""},
             std::nullopt});
  }
  plan.summary = absl::StrJoin(looked_at, ", ");
  for (const std::string& p : problems) plan.notes.push_back(absl::StrCat("skipped ", p));
  return plan;
}

std::string FormatSteps(const Plan& plan) {
  std::string out;
  for (const Step& step : plan.steps) {
    absl::StrAppend(&out, "# ", CommandLine(step.command.argv), "\n", step.command.input);
  }
  return out;
}

absl::Status ExecutePlan(const Plan& plan, CommandRunner& runner) {
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& step = plan.steps[i];
    absl::StatusOr<CommandResult> result = runner.Run(step.command.argv, step.command.input);
    if (result.ok() && result->ok()) continue;
    std::string error = absl::StrCat(
        "cannot ", step.purpose, ": ",
        result.ok() ? DescribeFailure(step.command.argv, *result) : result.status().message());
    // Undo the steps already applied, latest first, so the namespace is as it was.
    for (size_t j = i; j-- > 0;) {
      const std::optional<Command>& undo = plan.steps[j].undo;
      if (!undo.has_value()) continue;
      absl::StatusOr<CommandResult> undone = runner.Run(undo->argv, undo->input);
      if (undone.ok() && undone->ok()) {
        absl::StrAppend(&error, "; undone: ", plan.steps[j].purpose);
      } else {
        absl::StrAppend(
            &error, "; undoing \"", plan.steps[j].purpose, "\" failed too: ",
            undone.ok() ? DescribeFailure(undo->argv, *undone) : undone.status().message());
      }
    }
    return absl::FailedPreconditionError(error);
  }
  return absl::OkStatus();
}

}  // namespace remora::iptables_init
