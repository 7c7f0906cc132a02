#include "iptables-init/cidr.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::iptables_init {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Cidr C(absl::string_view text) { return *Cidr::Parse(text); }

TEST(CidrTest, ParsesBothFamilies) {
  absl::StatusOr<Cidr> v4 = Cidr::Parse("10.0.0.0/8");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->family(), IpFamily::kIpv4);
  EXPECT_EQ(v4->prefix_len(), 8);
  EXPECT_EQ(v4->ToString(), "10.0.0.0/8");
  absl::StatusOr<Cidr> v6 = Cidr::Parse("fd00::/8");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->family(), IpFamily::kIpv6);
  EXPECT_EQ(v6->ToString(), "fd00::/8");
  EXPECT_EQ(C("0.0.0.0/0").ToString(), "0.0.0.0/0");
  EXPECT_EQ(C("::/0").ToString(), "::/0");
}

TEST(CidrTest, BareAddressIsAHostNetwork) {
  EXPECT_EQ(C("192.0.2.7").ToString(), "192.0.2.7/32");
  EXPECT_TRUE(C("192.0.2.7").is_host());
  EXPECT_EQ(C("2001:db8::1").ToString(), "2001:db8::1/128");
  EXPECT_FALSE(C("192.0.2.0/24").is_host());
}

TEST(CidrTest, ClearsHostBitsAsIptablesDoes) {
  EXPECT_EQ(C("10.1.2.3/8").ToString(), "10.0.0.0/8");
  EXPECT_EQ(C("10.1.2.3/8"), C("10.0.0.0/8"));
  EXPECT_EQ(C("192.0.2.255/25").ToString(), "192.0.2.128/25");
  EXPECT_EQ(C("fd00:1:2:3::1/48").ToString(), "fd00:1:2::/48");
}

TEST(CidrTest, RefusesWhatIsNotACidrSayingWhy) {
  for (absl::string_view bad :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "10.0.0.0/-1",
        "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0 /8", " 10.0.0.0/8", "010.0.0.1", "fe80::1%eth0",
        "example.com", "10.0.0.0/0008", "1.2.3.4.5", "*"}) {
    absl::StatusOr<Cidr> c = Cidr::Parse(bad);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << bad << "\"";
    EXPECT_THAT(c.status().message(), HasSubstr("is not a CIDR")) << bad;
  }
  EXPECT_THAT(Cidr::Parse("10.0.0.0/33").status().message(), HasSubstr("from 0 to 32"));
  EXPECT_THAT(Cidr::Parse("::/200").status().message(), HasSubstr("from 0 to 128"));
  EXPECT_THAT(Cidr::Parse("example.com").status().message(),
              HasSubstr("\"example.com\" is not an IPv4 or IPv6 address"));
}

TEST(CidrTest, ContainsOnlyWithinTheSameFamily) {
  EXPECT_TRUE(C("10.0.0.0/8").Contains(C("10.1.0.0/16")));
  EXPECT_TRUE(C("10.0.0.0/8").Contains(C("10.0.0.0/8")));
  EXPECT_FALSE(C("10.1.0.0/16").Contains(C("10.0.0.0/8")));
  EXPECT_FALSE(C("10.0.0.0/8").Contains(C("11.0.0.0/16")));
  EXPECT_TRUE(C("0.0.0.0/0").Contains(C("203.0.113.9")));
  EXPECT_FALSE(C("0.0.0.0/0").Contains(C("::1")));
  EXPECT_TRUE(C("fd00::/8").Contains(C("fd12:3456::/32")));
}

TEST(CidrTest, NormalizeSortsAndDropsCoveredNetworks) {
  EXPECT_THAT(NormalizeCidrs({C("fd00::/8"), C("10.1.0.0/16"), C("192.0.2.0/24"), C("10.0.0.0/8"),
                              C("10.2.3.4"), C("fd00:1::/32"), C("192.0.2.0/24")}),
              ElementsAre(C("10.0.0.0/8"), C("192.0.2.0/24"), C("fd00::/8")));
  EXPECT_THAT(NormalizeCidrs({C("10.0.0.1"), C("10.0.0.0/31")}), ElementsAre(C("10.0.0.0/31")));
  EXPECT_THAT(NormalizeCidrs({}), ElementsAre());
}

}  // namespace
}  // namespace remora::iptables_init
