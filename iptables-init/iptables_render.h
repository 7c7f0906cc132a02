// The iptables backend: the rule model as an `iptables-restore --noflush` script for the nat
// table, using chains of our own (REMORA_*), plus the scripts that remove them again.
//
// iptables-restore commits a whole table as one transaction, so each family changes atomically.
// Our chains are declared (which creates or flushes them) and the jumps into them from the
// built-in chains are deleted and appended again, so a second run yields the same rules, not
// duplicates. Those jumps are found in the current `iptables-save -t nat` output, which makes
// the script a pure function of (model, current table).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "iptables-init/rule_model.h"

namespace remora::iptables_init {

inline constexpr char kIptablesChainPrefix[] = "REMORA_";

// The nat table as `iptables-save -t nat` printed it.
struct NatTable {
  struct ChainDecl {
    std::string name;
    std::string policy;  // "ACCEPT"/"DROP" for built-in chains, "-" for user chains
  };
  struct RuleLine {
    std::string chain;
    std::string text;  // the whole "-A CHAIN ..." line
  };
  bool exists = false;
  std::vector<ChainDecl> chains;
  std::vector<RuleLine> rules;
  std::string section;  // "*nat" through "COMMIT", each line ending in "\n"
};

// Parses the *nat section of iptables-save output (comments and other tables are ignored).
NatTable ParseNatTable(const std::string& save_output);

// Whether the table holds any chain of ours or any jump into one.
bool HasOurRules(const NatTable& table);

// The input of `iptables-restore --noflush` installing the `family` rules of `model` (kIpv4 for
// iptables, kIpv6 for ip6tables), replacing whatever of ours `current` holds.
std::string RenderIptablesInstall(const RuleModel& model, RuleFamily family,
                                  const NatTable& current);

struct RestoreScript {
  std::string input;
  // Run without --noflush: the script replaces the whole nat table.
  bool flush_table = false;
};

// Removes every chain of ours and every jump into them from `current`; nullopt when there is
// nothing of ours. When the table holds nothing but ours (and empty built-in chains that accept),
// the whole table is reset, which with the nf_tables variant deletes it, so a namespace that had
// no nat table before has none after. `nf_tables` also deletes built-in chains that only held
// our jumps (that variant creates them on first use); the legacy variant cannot delete them.
std::optional<RestoreScript> RenderIptablesCleanup(const NatTable& current, bool nf_tables);

// Puts the nat table back to `previous` (used to undo the IPv4 half when the IPv6 half fails).
RestoreScript RenderIptablesRestorePrevious(const NatTable& previous);

}  // namespace remora::iptables_init
