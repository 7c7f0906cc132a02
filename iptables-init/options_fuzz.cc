// Fuzz target: the flag values the webhook copies from pod annotations. The input holds one flag
// value per line, in FlagValues order. Whatever parses must print back to flags that parse to the
// same options, and render for both backends and both families. The input is also read as
// iptables-save output, the other text remora-init parses.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "iptables-init/iptables_render.h"
#include "iptables-init/nft_render.h"
#include "iptables-init/options.h"
#include "iptables-init/rule_model.h"

using remora::iptables_init::FlagValues;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ri = remora::iptables_init;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  FlagValues flags;
  std::string* fields[] = {&flags.inbound_capture_port,
                           &flags.outbound_capture_port,
                           &flags.proxy_uid,
                           &flags.proxy_gid,
                           &flags.inbound_ports,
                           &flags.exclude_inbound_ports,
                           &flags.outbound_ports,
                           &flags.exclude_outbound_ports,
                           &flags.outbound_cidrs,
                           &flags.exclude_outbound_cidrs,
                           &flags.ipv6,
                           &flags.backend};
  for (size_t i = 0; i < lines.size() && i < std::size(fields); ++i) *fields[i] = lines[i];

  const ri::NatTable table = ri::ParseNatTable(text);
  (void)ri::RenderIptablesCleanup(table, true);

  absl::StatusOr<ri::CaptureOptions> options = ri::ParseCaptureOptions(flags);
  if (!options.ok()) return 0;
  absl::StatusOr<ri::CaptureOptions> again = ri::ParseCaptureOptions(ri::ToFlagValues(*options));
  if (!again.ok() || !(*again == *options)) std::abort();
  for (bool ipv6 : {false, true}) {
    const ri::RuleModel model = ri::BuildRuleModel(*options, ipv6);
    if (!absl::StartsWith(ri::RenderNftInstall(model), "# remora-init")) std::abort();
    for (ri::RuleFamily family : {ri::RuleFamily::kIpv4, ri::RuleFamily::kIpv6}) {
      if (!absl::EndsWith(ri::RenderIptablesInstall(model, family, table), "COMMIT\n")) {
        std::abort();
      }
    }
  }
  return 0;
}
