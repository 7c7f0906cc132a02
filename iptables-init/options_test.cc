#include "iptables-init/options.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::iptables_init {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Parses the default flags with `edit` applied; expects a refusal naming `fragment`.
void ExpectRefused(const std::function<void(FlagValues&)>& edit, absl::string_view fragment) {
  FlagValues flags;
  edit(flags);
  absl::StatusOr<CaptureOptions> o = ParseCaptureOptions(flags);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << fragment;
  EXPECT_THAT(o.status().message(), HasSubstr(fragment));
}

CaptureOptions Parse(const std::function<void(FlagValues&)>& edit) {
  FlagValues flags;
  edit(flags);
  absl::StatusOr<CaptureOptions> o = ParseCaptureOptions(flags);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : CaptureOptions{};
}

TEST(OptionsTest, DefaultsAreTheIstioConventions) {
  absl::StatusOr<CaptureOptions> o = ParseCaptureOptions(FlagValues{});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->inbound_capture_port, 15006);
  EXPECT_EQ(o->outbound_capture_port, 15001);
  EXPECT_EQ(o->proxy_uid, 1337u);
  EXPECT_EQ(o->proxy_gid, 1337u);
  EXPECT_TRUE(o->inbound_ports.all);
  // Only --exclude-inbound-ports' own list: the proxy's ports are excluded anyway, and 15020 is no
  // port of Remora's, so an app on it is captured (issue 16).
  EXPECT_TRUE(o->exclude_inbound_ports.empty());
  EXPECT_TRUE(o->outbound_ports.all);
  EXPECT_TRUE(o->exclude_outbound_ports.empty());
  EXPECT_TRUE(o->outbound_cidrs.all);
  EXPECT_TRUE(o->exclude_outbound_cidrs.empty());
  EXPECT_EQ(o->ipv6, Ipv6Mode::kAuto);
  EXPECT_EQ(o->backend, Backend::kAuto);
}

TEST(OptionsTest, ListsAreTrimmedSortedAndDeduplicated) {
  CaptureOptions o = Parse([](FlagValues& f) {
    f.inbound_ports = " 9090, 8080 ,9090";
    f.exclude_outbound_ports = "443,80";
    f.exclude_outbound_cidrs = "fd00::/8, 10.1.0.0/16,10.0.0.0/8";
    f.outbound_cidrs = "192.0.2.9";
  });
  EXPECT_FALSE(o.inbound_ports.all);
  EXPECT_THAT(o.inbound_ports.ports, ElementsAre(8080, 9090));
  EXPECT_THAT(o.exclude_outbound_ports, ElementsAre(80, 443));
  ASSERT_EQ(o.exclude_outbound_cidrs.size(), 2u);
  EXPECT_EQ(o.exclude_outbound_cidrs[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(o.exclude_outbound_cidrs[1].ToString(), "fd00::/8");
  ASSERT_EQ(o.outbound_cidrs.cidrs.size(), 1u);
  EXPECT_EQ(o.outbound_cidrs.cidrs[0].ToString(), "192.0.2.9/32");
}

TEST(OptionsTest, EmptyIncludeListCapturesNothingInThatDirection) {
  CaptureOptions o = Parse([](FlagValues& f) {
    f.inbound_ports = "";
    f.outbound_cidrs = " ";
    f.exclude_inbound_ports = "";
  });
  EXPECT_FALSE(o.inbound_ports.all);
  EXPECT_TRUE(o.inbound_ports.ports.empty());
  EXPECT_FALSE(o.outbound_cidrs.all);
  EXPECT_TRUE(o.outbound_cidrs.cidrs.empty());
  EXPECT_TRUE(o.exclude_inbound_ports.empty());
}

TEST(OptionsTest, EnumsAreCaseInsensitive) {
  CaptureOptions o = Parse([](FlagValues& f) {
    f.ipv6 = "OFF";
    f.backend = "IPTables-Legacy";
  });
  EXPECT_EQ(o.ipv6, Ipv6Mode::kOff);
  EXPECT_EQ(o.backend, Backend::kIptablesLegacy);
}

TEST(OptionsTest, RefusesPortOutOfRange) {
  ExpectRefused([](FlagValues& f) { f.inbound_ports = "8080,70000"; },
                "--inbound-ports: \"70000\" is not a port (1-65535)");
  ExpectRefused([](FlagValues& f) { f.exclude_outbound_ports = "0"; },
                "--exclude-outbound-ports: \"0\" is not a port");
  ExpectRefused([](FlagValues& f) { f.inbound_capture_port = "65536"; },
                "--inbound-capture-port: \"65536\" is not a port");
  ExpectRefused([](FlagValues& f) { f.outbound_capture_port = ""; },
                "--outbound-capture-port: \"\" is not a port");
}

TEST(OptionsTest, RefusesPortThatIsNotANumber) {
  ExpectRefused([](FlagValues& f) { f.outbound_ports = "http"; }, "\"http\" is not a port");
  ExpectRefused([](FlagValues& f) { f.outbound_ports = "+80"; }, "\"+80\" is not a port");
  ExpectRefused([](FlagValues& f) { f.outbound_ports = "80 443"; }, "\"80 443\" is not a port");
  ExpectRefused([](FlagValues& f) { f.outbound_ports = "99999999999999999999"; }, "is not a port");
}

TEST(OptionsTest, RefusesPortRangeWithAHint) {
  ExpectRefused([](FlagValues& f) { f.exclude_inbound_ports = "8000-8080"; },
                "ranges are not supported, list the ports");
}

TEST(OptionsTest, RefusesEmptyListEntry) {
  ExpectRefused([](FlagValues& f) { f.inbound_ports = "8080,,9090"; }, "has an empty entry");
  ExpectRefused([](FlagValues& f) { f.exclude_outbound_cidrs = "10.0.0.0/8,"; },
                "--exclude-outbound-cidrs: \"10.0.0.0/8,\" has an empty entry");
}

TEST(OptionsTest, RefusesStarMixedWithEntries) {
  ExpectRefused([](FlagValues& f) { f.inbound_ports = "*,8080"; },
                "\"*\" (every port) must be alone");
  ExpectRefused([](FlagValues& f) { f.outbound_cidrs = "10.0.0.0/8,*"; },
                "\"*\" (everywhere) must be alone");
}

TEST(OptionsTest, RefusesStarInExclusionLists) {
  ExpectRefused([](FlagValues& f) { f.exclude_inbound_ports = "*"; },
                "--exclude-inbound-ports: \"*\" is not allowed here");
  ExpectRefused([](FlagValues& f) { f.exclude_outbound_cidrs = "*"; },
                "--exclude-outbound-cidrs: \"*\" is not allowed here");
}

TEST(OptionsTest, RefusesTooLongList) {
  std::string ports;
  for (int p = 1; p <= 300; ++p) absl::StrAppend(&ports, p == 1 ? "" : ",", p);
  ExpectRefused([&](FlagValues& f) { f.exclude_outbound_ports = ports; }, "more than 256 entries");
}

TEST(OptionsTest, RefusesCidrThatIsNotOne) {
  ExpectRefused([](FlagValues& f) { f.exclude_outbound_cidrs = "10.0.0.0/33"; },
                "--exclude-outbound-cidrs: \"10.0.0.0/33\" is not a CIDR");
  ExpectRefused([](FlagValues& f) { f.outbound_cidrs = "10.0.0.0/8,cluster.local"; },
                "--outbound-cidrs: \"cluster.local\" is not a CIDR");
}

TEST(OptionsTest, RefusesExcludedPortEqualToACapturePort) {
  ExpectRefused([](FlagValues& f) { f.exclude_inbound_ports = "15006"; },
                "--exclude-inbound-ports: 15006 is a capture port (--inbound-capture-port)");
  ExpectRefused([](FlagValues& f) { f.exclude_outbound_ports = "15001"; },
                "--exclude-outbound-ports: 15001 is a capture port (--outbound-capture-port)");
  ExpectRefused(
      [](FlagValues& f) {
        f.inbound_capture_port = "7000";
        f.exclude_outbound_ports = "443,7000";
      },
      "7000 is a capture port");
}

TEST(OptionsTest, RefusesEqualCapturePorts) {
  ExpectRefused([](FlagValues& f) { f.inbound_capture_port = "15001"; },
                "--inbound-capture-port and --outbound-capture-port are both 15001");
}

TEST(OptionsTest, ExclusionsWinOverInclusions) {
  // What the sidecar injector writes for a pod declaring ports 8080, 9000 and 15090 whose
  // annotation excludes 9000.
  CaptureOptions o = Parse([](FlagValues& f) {
    f.inbound_ports = "8080,9000,15090";
    f.exclude_inbound_ports = "15020,15021,15090,9000";
    f.outbound_ports = "80,443";
    f.exclude_outbound_ports = "443";
  });
  EXPECT_THAT(o.inbound_ports.ports, ElementsAre(8080));
  EXPECT_THAT(o.outbound_ports.ports, ElementsAre(80));
}

TEST(OptionsTest, TheProxysOwnPortsAreNeverCapturedInbound) {
  CaptureOptions o = Parse([](FlagValues& f) {
    f.inbound_ports = "15000,15001,15006,15020,15021,15090,8080";
    f.exclude_inbound_ports = "";
  });
  EXPECT_THAT(o.inbound_ports.ports, ElementsAre(8080, 15020));
  // Only excluded ports listed: nothing left to capture inbound.
  o = Parse([](FlagValues& f) { f.inbound_ports = "15021"; });
  EXPECT_FALSE(o.inbound_ports.all);
  EXPECT_TRUE(o.inbound_ports.ports.empty());
}

TEST(OptionsTest, AllowsExcludingPartOrAllOfACapturedNetwork) {
  CaptureOptions o = Parse([](FlagValues& f) {
    f.outbound_cidrs = "10.0.0.0/8";
    f.exclude_outbound_cidrs = "10.96.0.0/12";
  });
  EXPECT_EQ(o.exclude_outbound_cidrs[0].ToString(), "10.96.0.0/12");
  o = Parse([](FlagValues& f) {
    f.outbound_cidrs = "10.0.0.0/8";
    f.exclude_outbound_cidrs = "10.0.0.0/8";
  });
  EXPECT_EQ(o.outbound_cidrs.cidrs.size(), 1u);
}

TEST(OptionsTest, RefusesRootAndInvalidIds) {
  ExpectRefused([](FlagValues& f) { f.proxy_uid = "0"; },
                "--proxy-uid: 0 would exempt every process with UID 0 (root) from capture");
  ExpectRefused([](FlagValues& f) { f.proxy_gid = "0"; }, "--proxy-gid: 0 would exempt");
  ExpectRefused([](FlagValues& f) { f.proxy_uid = "istio-proxy"; },
                "--proxy-uid: \"istio-proxy\" is not a numeric UID");
  ExpectRefused([](FlagValues& f) { f.proxy_gid = "4294967295"; }, "is not a numeric GID");
  ExpectRefused([](FlagValues& f) { f.proxy_uid = "-1"; }, "is not a numeric UID");
}

TEST(OptionsTest, RefusesUnknownIpv6ModeAndBackend) {
  ExpectRefused([](FlagValues& f) { f.ipv6 = "yes"; }, "--ipv6: \"yes\" is not auto, on or off");
  ExpectRefused([](FlagValues& f) { f.backend = "ebtables"; },
                "--backend: \"ebtables\" is not a backend (auto, nft, iptables, iptables-nft, "
                "iptables-legacy)");
}

TEST(OptionsTest, InboundExclusionsAlwaysHoldTheProxysPorts) {
  CaptureOptions o = Parse([](FlagValues& f) {
    f.inbound_capture_port = "7006";
    f.outbound_capture_port = "7001";
    f.exclude_inbound_ports = "22";
  });
  EXPECT_THAT(InboundExcludedPorts(o), ElementsAre(22, 7001, 7006, 15000, 15021, 15090));
}

TEST(OptionsTest, FlagValuesRoundTrip) {
  CaptureOptions o = Parse([](FlagValues& f) {
    f.inbound_ports = "9090,8080";
    f.exclude_outbound_ports = "25";
    f.outbound_cidrs = "10.0.0.0/8,fd00::/8";
    f.exclude_outbound_cidrs = "10.1.2.3/16";
    f.ipv6 = "on";
    f.backend = "iptables";
  });
  FlagValues back = ToFlagValues(o);
  EXPECT_EQ(back.inbound_ports, "8080,9090");
  EXPECT_EQ(back.exclude_outbound_cidrs, "10.1.0.0/16");
  absl::StatusOr<CaptureOptions> again = ParseCaptureOptions(back);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, o);
}

}  // namespace
}  // namespace remora::iptables_init
