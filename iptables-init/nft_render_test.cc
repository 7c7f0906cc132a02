#include "iptables-init/nft_render.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iptables-init/options.h"
#include "iptables-init/rule_model.h"

namespace remora::iptables_init {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

CaptureOptions Options(FlagValues flags) {
  absl::StatusOr<CaptureOptions> o = ParseCaptureOptions(flags);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : CaptureOptions{};
}

constexpr char kHeader[] =
    "# remora-init: Remora traffic capture (nftables, IPv4 only).\n"
    "# Creating then deleting the table makes the definition below replace any previous one\n"
    "# in the same transaction.\n"
    "table inet remora\n"
    "delete table inet remora\n";

TEST(NftRenderTest, TypicalPodIpv4Only) {
  EXPECT_EQ(RenderNftInstall(BuildRuleModel(Options({}), /*ipv6=*/false)),
            std::string(kHeader) +
                "table inet remora {\n"
                "\tchain prerouting {\n"
                "\t\ttype nat hook prerouting priority -100; policy accept;\n"
                "\t\tmeta nfproto ipv4 meta l4proto tcp jump inbound\n"
                "\t}\n"
                "\tchain output {\n"
                "\t\ttype nat hook output priority -100; policy accept;\n"
                "\t\tmeta nfproto ipv4 meta l4proto tcp jump outbound\n"
                "\t}\n"
                "\tchain inbound {\n"
                "\t\ttcp dport { 15000, 15001, 15006, 15021, 15090 } return\n"
                "\t\tmeta l4proto tcp jump inbound_redirect\n"
                "\t}\n"
                "\tchain inbound_redirect {\n"
                "\t\tmeta l4proto tcp redirect to :15006\n"
                "\t}\n"
                "\tchain outbound {\n"
                "\t\toifname \"lo\" ip saddr 127.0.0.6 return\n"
                "\t\toifname \"lo\" meta skuid 1337 ip daddr != 127.0.0.1 jump inbound\n"
                "\t\tmeta skuid 1337 return\n"
                "\t\toifname \"lo\" meta skgid 1337 ip daddr != 127.0.0.1 jump inbound\n"
                "\t\tmeta skgid 1337 return\n"
                "\t\toifname \"lo\" return\n"
                "\t\tmeta l4proto tcp jump outbound_redirect\n"
                "\t}\n"
                "\tchain outbound_redirect {\n"
                "\t\tmeta l4proto tcp redirect to :15001\n"
                "\t}\n"
                "}\n");
}

TEST(NftRenderTest, DualStackWithSelectionsAndExclusions) {
  FlagValues f;
  f.inbound_capture_port = "7006";
  f.outbound_capture_port = "7001";
  f.proxy_uid = "2000";
  f.proxy_gid = "3000";
  f.inbound_ports = "8080,9090";
  f.exclude_inbound_ports = "";
  f.outbound_ports = "80,443";
  f.exclude_outbound_ports = "25";
  f.outbound_cidrs = "10.0.0.0/8,192.0.2.0/24,fd00::/8";
  f.exclude_outbound_cidrs = "10.96.0.0/12,169.254.169.254,fd00:10:96::/112";
  EXPECT_EQ(RenderNftInstall(BuildRuleModel(Options(f), /*ipv6=*/true)),
            "# remora-init: Remora traffic capture (nftables, IPv4 and IPv6).\n"
            "# Creating then deleting the table makes the definition below replace any previous "
            "one\n"
            "# in the same transaction.\n"
            "table inet remora\n"
            "delete table inet remora\n"
            "table inet remora {\n"
            "\tchain prerouting {\n"
            "\t\ttype nat hook prerouting priority -100; policy accept;\n"
            "\t\tmeta l4proto tcp jump inbound\n"
            "\t}\n"
            "\tchain output {\n"
            "\t\ttype nat hook output priority -100; policy accept;\n"
            "\t\tmeta l4proto tcp jump outbound\n"
            "\t}\n"
            "\tchain inbound {\n"
            "\t\ttcp dport { 7001, 7006, 15000, 15021, 15090 } return\n"
            "\t\ttcp dport { 8080, 9090 } jump inbound_redirect\n"
            "\t}\n"
            "\tchain inbound_redirect {\n"
            "\t\tmeta l4proto tcp redirect to :7006\n"
            "\t}\n"
            "\tchain outbound {\n"
            "\t\toifname \"lo\" ip saddr 127.0.0.6 return\n"
            "\t\toifname \"lo\" ip6 saddr ::6 return\n"
            "\t\toifname \"lo\" meta skuid 2000 ip daddr != 127.0.0.1 jump inbound\n"
            "\t\toifname \"lo\" meta skuid 2000 ip6 daddr != ::1 jump inbound\n"
            "\t\tmeta skuid 2000 return\n"
            "\t\toifname \"lo\" meta skgid 3000 ip daddr != 127.0.0.1 jump inbound\n"
            "\t\toifname \"lo\" meta skgid 3000 ip6 daddr != ::1 jump inbound\n"
            "\t\tmeta skgid 3000 return\n"
            "\t\toifname \"lo\" return\n"
            "\t\ttcp dport 25 return\n"
            "\t\tip daddr { 10.96.0.0/12, 169.254.169.254 } return\n"
            "\t\tip6 daddr fd00:10:96::/112 return\n"
            "\t\tip daddr { 10.0.0.0/8, 192.0.2.0/24 } tcp dport { 80, 443 } jump "
            "outbound_redirect\n"
            "\t\tip6 daddr fd00::/8 tcp dport { 80, 443 } jump outbound_redirect\n"
            "\t}\n"
            "\tchain outbound_redirect {\n"
            "\t\tmeta l4proto tcp redirect to :7001\n"
            "\t}\n"
            "}\n");
}

TEST(NftRenderTest, EmptyInboundListInstallsNoInboundCapture) {
  FlagValues f;
  f.inbound_ports = "";
  const std::string script = RenderNftInstall(BuildRuleModel(Options(f), false));
  EXPECT_THAT(script, Not(HasSubstr("jump inbound\n")));
  EXPECT_THAT(script, Not(HasSubstr("jump inbound_redirect")));
  EXPECT_THAT(script, HasSubstr("\t\tmeta l4proto tcp jump outbound_redirect\n"));
}

TEST(NftRenderTest, EmptyOutboundListInstallsNoOutboundCapture) {
  FlagValues f;
  f.outbound_cidrs = "";
  const std::string script = RenderNftInstall(BuildRuleModel(Options(f), true));
  EXPECT_THAT(script, Not(HasSubstr("jump outbound_redirect")));
  // The proxy's calls to its own pod still take the inbound path.
  EXPECT_THAT(script, HasSubstr("meta skuid 1337 ip daddr != 127.0.0.1 jump inbound"));
}

TEST(NftRenderTest, IpOnlyIncludeListLeavesIpv6Uncaptured) {
  FlagValues f;
  f.outbound_cidrs = "10.0.0.0/8";
  const std::string script = RenderNftInstall(BuildRuleModel(Options(f), true));
  EXPECT_THAT(script,
              HasSubstr("\t\tip daddr 10.0.0.0/8 meta l4proto tcp jump outbound_redirect\n"));
  EXPECT_THAT(script, Not(HasSubstr("ip6 daddr fd")));
}

TEST(NftRenderTest, SameOptionsSameScript) {
  FlagValues f;
  f.exclude_outbound_cidrs = "10.1.0.0/16,10.0.0.0/8";
  FlagValues g = f;
  g.exclude_outbound_cidrs = "10.0.0.0/8";
  EXPECT_EQ(RenderNftInstall(BuildRuleModel(Options(f), true)),
            RenderNftInstall(BuildRuleModel(Options(g), true)));
}

TEST(NftRenderTest, CleanupDeletesOnlyOurTable) {
  EXPECT_EQ(RenderNftCleanup(), "delete table inet remora\n");
}

TEST(NftRenderTest, FindsOurTableInTheListing) {
  EXPECT_TRUE(NftListsOurTable("table ip nat\ntable inet remora\n"));
  EXPECT_FALSE(NftListsOurTable("table ip nat\ntable inet remora2\ntable ip remora\n"));
  EXPECT_FALSE(NftListsOurTable(""));
}

}  // namespace
}  // namespace remora::iptables_init
