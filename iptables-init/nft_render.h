// The nftables backend: the rule model as one `table inet remora`, applied with `nft -f -`.
//
// The script first creates and deletes the table, then defines it afresh; nft runs a file as one
// transaction, so the table is replaced atomically (there is never a moment without capture) and
// running it twice yields the same table. Nothing outside the table is touched.
#pragma once

#include <string>

#include "iptables-init/rule_model.h"

namespace remora::iptables_init {

inline constexpr char kNftTable[] = "remora";

// The whole input of `nft -f -` that installs `model`.
std::string RenderNftInstall(const RuleModel& model);

// The input of `nft -f -` that removes the table (only run when the table exists).
std::string RenderNftCleanup();

// Whether `nft list tables` output names our table.
bool NftListsOurTable(const std::string& list_tables_output);

}  // namespace remora::iptables_init
