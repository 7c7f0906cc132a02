#include "iptables-init/nft_render.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace remora::iptables_init {
namespace {

absl::string_view ChainName(ChainId id) {
  switch (id) {
    case ChainId::kInbound:
      return "inbound";
    case ChainId::kInboundRedirect:
      return "inbound_redirect";
    case ChainId::kOutbound:
      return "outbound";
    case ChainId::kOutboundRedirect:
      return "outbound_redirect";
  }
  return "unknown";
}

// nft prints a host network as a bare address; we write it the same way.
std::string NftAddress(const Cidr& c) { return c.is_host() ? c.AddressString() : c.ToString(); }

// One value as is, several as an anonymous set: "80", "{ 80, 443 }".
template <typename T, typename Format>
std::string NftValues(const std::vector<T>& values, Format format) {
  std::vector<std::string> texts;
  for (const T& v : values) texts.push_back(format(v));
  if (texts.size() == 1) return texts[0];
  return absl::StrCat("{ ", absl::StrJoin(texts, ", "), " }");
}

absl::string_view AddressKeyword(RuleFamily family) {
  return family == RuleFamily::kIpv6 ? "ip6" : "ip";
}

std::string RenderMatch(const Match& m) {
  std::vector<std::string> parts;
  const bool has_address =
      m.source.has_value() || m.destination_not.has_value() || !m.destinations.empty();
  // An address match implies its family; otherwise say it explicitly.
  if (m.family != RuleFamily::kAny && !has_address) {
    parts.push_back(m.family == RuleFamily::kIpv4 ? "meta nfproto ipv4" : "meta nfproto ipv6");
  }
  if (!m.out_interface.empty()) parts.push_back(absl::StrCat("oifname \"", m.out_interface, "\""));
  if (m.owner_uid) parts.push_back(absl::StrCat("meta skuid ", *m.owner_uid));
  if (m.owner_gid) parts.push_back(absl::StrCat("meta skgid ", *m.owner_gid));
  if (m.source) {
    parts.push_back(absl::StrCat(AddressKeyword(m.family), " saddr ", NftAddress(*m.source)));
  }
  if (m.destination_not) {
    parts.push_back(
        absl::StrCat(AddressKeyword(m.family), " daddr != ", NftAddress(*m.destination_not)));
  }
  if (!m.destinations.empty()) {
    parts.push_back(
        absl::StrCat(AddressKeyword(m.family), " daddr ", NftValues(m.destinations, NftAddress)));
  }
  if (!m.ports.empty()) {
    parts.push_back(
        absl::StrCat("tcp dport ", NftValues(m.ports, [](uint16_t p) { return absl::StrCat(p); })));
  } else if (m.tcp) {
    parts.push_back("meta l4proto tcp");
  }
  return absl::StrJoin(parts, " ");
}

std::string RenderVerdict(const Verdict& v) {
  switch (v.kind) {
    case Verdict::Kind::kReturn:
      return "return";
    case Verdict::Kind::kJump:
      return absl::StrCat("jump ", ChainName(v.target));
    case Verdict::Kind::kRedirect:
      return absl::StrCat("redirect to :", v.redirect_port);
  }
  return "";
}

void AppendRule(std::string* out, const std::string& match, const std::string& verdict) {
  absl::StrAppend(out, "\t\t", match, match.empty() ? "" : " ", verdict, "\n");
}

void AppendBaseChain(std::string* out, const RuleModel& model, HookJump::Hook hook) {
  const bool prerouting = hook == HookJump::Hook::kPrerouting;
  absl::StrAppend(out, "\tchain ", prerouting ? "prerouting" : "output", " {\n",
                  "\t\ttype nat hook ", prerouting ? "prerouting" : "output",
                  // dstnat (-100): where the iptables nat table hooks too.
                  " priority -100; policy accept;\n");
  for (const HookJump& jump : model.hooks) {
    if (jump.hook != hook) continue;
    Match tcp;
    tcp.family = jump.family;
    tcp.tcp = true;
    AppendRule(out, RenderMatch(tcp), absl::StrCat("jump ", ChainName(jump.target)));
  }
  absl::StrAppend(out, "\t}\n");
}

}  // namespace

std::string RenderNftInstall(const RuleModel& model) {
  std::string out = absl::StrCat(
      "# remora-init: Remora traffic capture (nftables, IPv4", model.ipv6 ? " and IPv6" : " only",
      ").\n",
      "# Creating then deleting the table makes the definition below replace any previous one\n",
      "# in the same transaction.\n", "table inet ", kNftTable, "\n", "delete table inet ",
      kNftTable, "\n", "table inet ", kNftTable, " {\n");
  AppendBaseChain(&out, model, HookJump::Hook::kPrerouting);
  AppendBaseChain(&out, model, HookJump::Hook::kOutput);
  for (const Chain& chain : model.chains) {
    absl::StrAppend(&out, "\tchain ", ChainName(chain.id), " {\n");
    for (const Rule& rule : chain.rules) {
      AppendRule(&out, RenderMatch(rule.match), RenderVerdict(rule.verdict));
    }
    absl::StrAppend(&out, "\t}\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

std::string RenderNftCleanup() { return absl::StrCat("delete table inet ", kNftTable, "\n"); }

bool NftListsOurTable(const std::string& list_tables_output) {
  const std::string ours = absl::StrCat("table inet ", kNftTable);
  for (absl::string_view line : absl::StrSplit(list_tables_output, '\n')) {
    if (absl::StripAsciiWhitespace(line) == ours) return true;
  }
  return false;
}

}  // namespace remora::iptables_init
