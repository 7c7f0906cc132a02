#include "filters/ip_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace remora::filters {
namespace {

using ::testing::HasSubstr;

IpAddress Ip(const char* text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << text << ": " << ip.status();
  return ip.ok() ? *ip : IpAddress();
}

Cidr Range(const char* text) {
  absl::StatusOr<Cidr> c = Cidr::Parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status();
  return c.ok() ? *c : Cidr();
}

TEST(IpAddressTest, ParsesBothFamiliesAndTreatsMappedIpv4AsIpv4) {
  EXPECT_TRUE(Ip("10.0.0.5").is_v4());
  EXPECT_EQ(Ip("10.0.0.5").ToString(), "10.0.0.5");
  EXPECT_FALSE(Ip("2001:db8::1").is_v4());
  EXPECT_EQ(Ip("2001:db8::1").ToString(), "2001:db8::1");
  EXPECT_TRUE(Ip("::ffff:10.0.0.5").is_v4());
  EXPECT_EQ(Ip("::ffff:10.0.0.5"), Ip("10.0.0.5"));
  EXPECT_EQ(IpAddress::V4(0x0a000005), Ip("10.0.0.5"));
}

TEST(IpAddressTest, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"", "10.0.0.300", "10.0.0", "010.0.0.1", "host", "1.2.3.4 ",
                          "fe80::1%eth0", "::g", "10.0.0.0/8"}) {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(bad);
    EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(ip.status().message(), HasSubstr("is not an IP address")) << bad;
  }
}

TEST(CidrTest, ContainsAddressesOfItsRangeAndFamilyOnly) {
  Cidr ten = Range("10.0.0.0/8");
  EXPECT_TRUE(ten.Contains(Ip("10.255.1.2")));
  EXPECT_FALSE(ten.Contains(Ip("11.0.0.1")));
  EXPECT_TRUE(ten.Contains(Ip("::ffff:10.1.1.1")));
  EXPECT_FALSE(Range("::/0").Contains(Ip("10.0.0.1")));
  EXPECT_TRUE(Range("::/0").Contains(Ip("2001:db8::1")));
  EXPECT_TRUE(Range("0.0.0.0/0").Contains(Ip("1.2.3.4")));
  EXPECT_FALSE(Range("0.0.0.0/0").Contains(Ip("2001:db8::1")));
  EXPECT_TRUE(Range("2001:db8::/32").Contains(Ip("2001:db8:ffff::1")));
  EXPECT_FALSE(Range("2001:db8::/32").Contains(Ip("2001:db9::1")));
  EXPECT_TRUE(Range("2001:db8::/100").Contains(Ip("2001:db8::fff:ffff")));
  EXPECT_FALSE(Range("2001:db8::/100").Contains(Ip("2001:db8::1:0:0")));
}

TEST(CidrTest, BareAddressIsASingleHostAndHostBitsAreMasked) {
  Cidr one = Range("10.0.0.5");
  EXPECT_EQ(one.prefix_length(), 32);
  EXPECT_TRUE(one.Contains(Ip("10.0.0.5")));
  EXPECT_FALSE(one.Contains(Ip("10.0.0.6")));
  Cidr masked = Range("10.1.2.3/8");
  EXPECT_EQ(masked.ToString(), "10.0.0.0/8");
  EXPECT_TRUE(masked.Contains(Ip("10.200.0.1")));
  EXPECT_EQ(Range("2001:db8::1").prefix_length(), 128);
}

TEST(CidrTest, ContainsRange) {
  EXPECT_TRUE(Range("10.0.0.0/8").Contains(Range("10.1.0.0/16")));
  EXPECT_TRUE(Range("10.0.0.0/8").Contains(Range("10.0.0.0/8")));
  EXPECT_FALSE(Range("10.1.0.0/16").Contains(Range("10.0.0.0/8")));
  EXPECT_FALSE(Range("10.0.0.0/8").Contains(Range("11.0.0.0/16")));
  EXPECT_FALSE(Range("::/0").Contains(Range("10.0.0.0/8")));
}

TEST(CidrTest, RefusesBadRangesNamingTheProblem) {
  struct Bad {
    const char* text;
    const char* fragment;
  };
  for (const Bad& b : std::vector<Bad>{
           {"10.0.0.0/33", "\"10.0.0.0/33\" is not a CIDR: prefix length 33 is over 32"},
           {"2001:db8::/129", "prefix length 129 is over 128"},
           {"10.0.0.0/", "prefix length \"\" is not a number"},
           {"10.0.0.0/-1", "prefix length \"-1\" is not a number"},
           {"10.0.0.0/8x", "is not a number"},
           {"10.0.0/8", "the part before '/' is not an IP address"},
           {"/8", "is not a CIDR"},
           {"abc", "\"abc\" is not an IP address"},
       }) {
    absl::StatusOr<Cidr> c = Cidr::Parse(b.text);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << b.text;
    EXPECT_THAT(c.status().message(), HasSubstr(b.fragment)) << b.text;
  }
}

}  // namespace
}  // namespace remora::filters
