#include "iptables-init/iptables_render.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace remora::iptables_init {
namespace {

// iptables' multiport match takes at most 15 ports.
constexpr size_t kMultiportMax = 15;

std::string ChainName(ChainId id) {
  switch (id) {
    case ChainId::kInbound:
      return "REMORA_INBOUND";
    case ChainId::kInboundRedirect:
      return "REMORA_IN_REDIRECT";
    case ChainId::kOutbound:
      return "REMORA_OUTPUT";
    case ChainId::kOutboundRedirect:
      return "REMORA_REDIRECT";
  }
  return "REMORA_UNKNOWN";
}

bool IsOurs(absl::string_view chain) { return absl::StartsWith(chain, kIptablesChainPrefix); }

// Splits a rule line into words, keeping a double-quoted word (a comment) whole.
std::vector<std::string> Words(absl::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\' && i + 1 < line.size()) {
        word += line[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '"') {
      quoted = true;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// Whether a rule of someone else's chain jumps (or goes) into one of ours.
bool JumpsIntoOurs(const NatTable::RuleLine& rule) {
  if (IsOurs(rule.chain)) return false;
  const std::vector<std::string> words = Words(rule.text);
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if ((words[i] == "-j" || words[i] == "-g" || words[i] == "--jump" || words[i] == "--goto") &&
        IsOurs(words[i + 1])) {
      return true;
    }
  }
  return false;
}

// "-A CHAIN rest" -> "-D CHAIN rest": the same specification deletes the rule.
std::string DeleteLine(const NatTable::RuleLine& rule) {
  return absl::StrCat("-D", absl::StripPrefix(rule.text, "-A"));
}

std::vector<std::string> OurChains(const NatTable& table) {
  std::vector<std::string> out;
  for (const NatTable::ChainDecl& c : table.chains) {
    if (IsOurs(c.name)) out.push_back(c.name);
  }
  return out;
}

std::vector<std::string> RuleLines(const std::string& chain, const Rule& rule) {
  const Match& m = rule.match;
  std::vector<std::string> destinations;
  for (const Cidr& c : m.destinations) destinations.push_back(absl::StrCat("-d ", c.ToString()));
  if (destinations.empty()) destinations.push_back("");
  std::vector<std::string> port_matches;
  if (m.ports.size() == 1) {
    port_matches.push_back(absl::StrCat("-m tcp --dport ", m.ports[0]));
  } else {
    for (size_t i = 0; i < m.ports.size(); i += kMultiportMax) {
      std::vector<uint16_t> group(m.ports.begin() + i,
                                  m.ports.begin() + std::min(m.ports.size(), i + kMultiportMax));
      port_matches.push_back(absl::StrCat("-m multiport --dports ", absl::StrJoin(group, ",")));
    }
  }
  if (port_matches.empty()) port_matches.push_back("");

  std::string verdict;
  switch (rule.verdict.kind) {
    case Verdict::Kind::kReturn:
      verdict = "-j RETURN";
      break;
    case Verdict::Kind::kJump:
      verdict = absl::StrCat("-j ", ChainName(rule.verdict.target));
      break;
    case Verdict::Kind::kRedirect:
      verdict = absl::StrCat("-j REDIRECT --to-ports ", rule.verdict.redirect_port);
      break;
  }

  std::vector<std::string> lines;
  for (const std::string& destination : destinations) {
    for (const std::string& ports : port_matches) {
      std::vector<std::string> parts{"-A", chain};
      if (m.source) parts.push_back(absl::StrCat("-s ", m.source->ToString()));
      if (m.destination_not) parts.push_back(absl::StrCat("! -d ", m.destination_not->ToString()));
      if (!destination.empty()) parts.push_back(destination);
      if (!m.out_interface.empty()) parts.push_back(absl::StrCat("-o ", m.out_interface));
      if (m.tcp || !m.ports.empty()) parts.push_back("-p tcp");
      if (!ports.empty()) parts.push_back(ports);
      if (m.owner_uid) parts.push_back(absl::StrCat("-m owner --uid-owner ", *m.owner_uid));
      if (m.owner_gid) parts.push_back(absl::StrCat("-m owner --gid-owner ", *m.owner_gid));
      parts.push_back(verdict);
      lines.push_back(absl::StrJoin(parts, " "));
    }
  }
  return lines;
}

}  // namespace

NatTable ParseNatTable(const std::string& save_output) {
  NatTable table;
  bool in_nat = false;
  for (absl::string_view line : absl::StrSplit(save_output, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (!in_nat) {
      if (line == "*nat") {
        in_nat = true;
        table.exists = true;
        absl::StrAppend(&table.section, line, "\n");
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    absl::StrAppend(&table.section, line, "\n");
    if (line == "COMMIT") {
      in_nat = false;
    } else if (line[0] == ':') {
      std::vector<std::string> words = absl::StrSplit(line.substr(1), ' ', absl::SkipEmpty());
      if (!words.empty()) {
        table.chains.push_back({words[0], words.size() > 1 ? words[1] : "-"});
      }
    } else if (absl::StartsWith(line, "-A ")) {
      std::vector<std::string> words = Words(line);
      if (words.size() >= 2) table.rules.push_back({words[1], std::string(line)});
    }
  }
  return table;
}

bool HasOurRules(const NatTable& table) {
  if (!OurChains(table).empty()) return true;
  return std::any_of(table.rules.begin(), table.rules.end(), JumpsIntoOurs);
}

std::string RenderIptablesInstall(const RuleModel& model, RuleFamily family,
                                  const NatTable& current) {
  std::set<std::string> declared;
  std::string out = absl::StrCat(
      "# remora-init: Remora traffic capture (",
      family == RuleFamily::kIpv4 ? "iptables" : "ip6tables", ", nat table, chains ",
      kIptablesChainPrefix,
      "*).\n"
      "# Declaring a chain creates or flushes it; jumps into our chains are deleted, then added\n"
      "# again, so the table ends up the same however often this runs.\n"
      "*nat\n");
  for (const Chain& chain : model.chains) {
    declared.insert(ChainName(chain.id));
    absl::StrAppend(&out, ":", ChainName(chain.id), " - [0:0]\n");
  }
  // Chains of ours that this version no longer uses: flush them so they can be deleted below.
  std::vector<std::string> stale;
  for (const std::string& name : OurChains(current)) {
    if (declared.count(name) == 0) {
      stale.push_back(name);
      absl::StrAppend(&out, ":", name, " - [0:0]\n");
    }
  }
  for (const NatTable::RuleLine& rule : current.rules) {
    if (JumpsIntoOurs(rule)) absl::StrAppend(&out, DeleteLine(rule), "\n");
  }
  for (const std::string& name : stale) absl::StrAppend(&out, "-X ", name, "\n");
  for (const Chain& chain : model.chains) {
    for (const Rule& rule : chain.rules) {
      if (!AppliesTo(rule.match, family)) continue;
      for (const std::string& line : RuleLines(ChainName(chain.id), rule)) {
        absl::StrAppend(&out, line, "\n");
      }
    }
  }
  for (const HookJump& jump : model.hooks) {
    if (jump.family != RuleFamily::kAny && jump.family != family) continue;
    absl::StrAppend(&out, "-A ", jump.hook == HookJump::Hook::kPrerouting ? "PREROUTING" : "OUTPUT",
                    " -p tcp -j ", ChainName(jump.target), "\n");
  }
  absl::StrAppend(&out, "COMMIT\n");
  return out;
}

std::optional<RestoreScript> RenderIptablesCleanup(const NatTable& current, bool nf_tables) {
  if (!HasOurRules(current)) return std::nullopt;
  const std::vector<std::string> ours = OurChains(current);

  // What stays once ours is gone.
  bool only_ours = true;
  std::set<std::string> chains_with_rules_left;
  std::set<std::string> chains_with_our_jumps;
  for (const NatTable::RuleLine& rule : current.rules) {
    if (IsOurs(rule.chain)) continue;
    if (JumpsIntoOurs(rule)) {
      chains_with_our_jumps.insert(rule.chain);
    } else {
      chains_with_rules_left.insert(rule.chain);
      only_ours = false;
    }
  }
  std::set<std::string> builtin_accept;
  for (const NatTable::ChainDecl& c : current.chains) {
    if (IsOurs(c.name)) continue;
    if (c.policy == "ACCEPT") {
      builtin_accept.insert(c.name);
    } else {
      only_ours = false;  // someone else's chain, or a built-in chain that drops
    }
  }
  if (only_ours) {
    return RestoreScript{absl::StrCat("# remora-init: the nat table holds only Remora's rules; ",
                                      "reset it whole.\n*nat\nCOMMIT\n"),
                         true};
  }

  std::string out =
      "# remora-init: remove Remora's chains (REMORA_*) and the jumps into them.\n*nat\n";
  for (const std::string& name : ours) absl::StrAppend(&out, ":", name, " - [0:0]\n");
  for (const NatTable::RuleLine& rule : current.rules) {
    if (JumpsIntoOurs(rule)) absl::StrAppend(&out, DeleteLine(rule), "\n");
  }
  for (const std::string& name : ours) absl::StrAppend(&out, "-X ", name, "\n");
  if (nf_tables) {
    // iptables-nft creates a built-in chain when a rule first needs it; one that only held our
    // jumps goes with them, so `nft list ruleset` reads as before.
    for (const std::string& name : chains_with_our_jumps) {
      if (chains_with_rules_left.count(name) == 0 && builtin_accept.count(name) != 0) {
        absl::StrAppend(&out, "-X ", name, "\n");
      }
    }
  }
  absl::StrAppend(&out, "COMMIT\n");
  return RestoreScript{out, false};
}

RestoreScript RenderIptablesRestorePrevious(const NatTable& previous) {
  if (!previous.exists) {
    return RestoreScript{"# remora-init: undo: there was no nat table.\n*nat\nCOMMIT\n", true};
  }
  return RestoreScript{
      absl::StrCat("# remora-init: undo: the nat table as it was before.\n", previous.section),
      true};
}

}  // namespace remora::iptables_init
