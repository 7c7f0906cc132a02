#include "inject/values.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace remora::inject {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ValuesTest, PortListsTrimAndDeduplicate) {
  absl::StatusOr<std::vector<int>> ports = ParsePortList(" 8080, 9090 ,8080,1,65535");
  ASSERT_TRUE(ports.ok()) << ports.status();
  EXPECT_THAT(*ports, ElementsAre(8080, 9090, 1, 65535));
  EXPECT_EQ(JoinPorts(*ports), "8080,9090,1,65535");
}

TEST(ValuesTest, PortListsRefuseWhatIsNotAPort) {
  for (const char* bad : {"0", "65536", "-1", "+80", "80x", "http", "99999999999", "8 0"}) {
    absl::StatusOr<std::vector<int>> ports = ParsePortList(bad);
    ASSERT_FALSE(ports.ok()) << bad;
    EXPECT_EQ(ports.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(ports.status().message(), HasSubstr("is not a port number (1-65535)")) << bad;
  }
  EXPECT_THAT(ParsePortList("80,,90").status().message(), HasSubstr("has an empty item"));
  EXPECT_THAT(ParsePortList("80,").status().message(), HasSubstr("has an empty item"));
  EXPECT_THAT(ParsePortList(" ").status().message(), HasSubstr("is empty"));
}

TEST(ValuesTest, CidrListsAcceptNetworksOfBothFamilies) {
  absl::StatusOr<std::vector<std::string>> cidrs =
      ParseCidrList("10.0.0.0/8, 192.168.1.0/24,fd00::/8, ::/0, 0.0.0.0/0, 10.0.0.1/32", false);
  ASSERT_TRUE(cidrs.ok()) << cidrs.status();
  EXPECT_THAT(*cidrs, ElementsAre("10.0.0.0/8", "192.168.1.0/24", "fd00::/8", "::/0", "0.0.0.0/0",
                                  "10.0.0.1/32"));
  EXPECT_THAT(*ParseCidrList(" * ", true), ElementsAre("*"));
}

TEST(ValuesTest, CidrListsRefuseMistakes) {
  struct Case {
    const char* text;
    bool star;
    const char* message;
  };
  for (const Case& c : {
           Case{"10.0.0.1", false, "add a prefix length, e.g. 10.0.0.1/32"},
           Case{"fd00::1", false, "e.g. fd00::1/128"},
           Case{"10.0.0.0/33", false, "prefix length \"33\" is not in 0..32"},
           Case{"fd00::/129", false, "is not in 0..128"},
           Case{"10.0.0.0/x", false, "prefix length \"x\""},
           Case{"10.0.0.0/", false, "prefix length \"\""},
           Case{"10.1.0.0/8", false, "has host bits set after the /8 prefix"},
           Case{"fd00::1/64", false, "has host bits set"},
           Case{"300.0.0.0/8", false, "\"300.0.0.0\" is not an IP address"},
           Case{"*", false, "\"*\" is not allowed here"},
           Case{"*,10.0.0.0/8", true, "\"*\" must stand alone"},
       }) {
    absl::StatusOr<std::vector<std::string>> cidrs = ParseCidrList(c.text, c.star);
    ASSERT_FALSE(cidrs.ok()) << c.text;
    EXPECT_THAT(cidrs.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(ValuesTest, QuantitiesFollowKubernetesSyntax) {
  struct Case {
    const char* text;
    long double value;
  };
  for (const Case& c : {Case{"100m", 0.1L}, Case{"2", 2}, Case{"0.5", 0.5L}, Case{".5", 0.5L},
                        Case{"128Mi", 128.0L * 1024 * 1024}, Case{"1Gi", 1073741824.0L},
                        Case{"1G", 1e9L}, Case{"2e3", 2000}, Case{"1E-3", 0.001L}, Case{"5k", 5000},
                        Case{"250u", 0.00025L}, Case{"0", 0}}) {
    absl::StatusOr<Quantity> q = ParseQuantity(c.text);
    ASSERT_TRUE(q.ok()) << c.text << ": " << q.status();
    EXPECT_NEAR(static_cast<double>(q->value), static_cast<double>(c.value),
                static_cast<double>(c.value) * 1e-9)
        << c.text;
    EXPECT_EQ(q->text, c.text);
  }
  for (const char* bad :
       {"", "m", "-1", "+1", "1.2.3", "128MB", "1 Gi", "two", "1e", "1e+", "1Ki2", "0x10"}) {
    absl::StatusOr<Quantity> q = ParseQuantity(bad);
    EXPECT_FALSE(q.ok()) << bad;
    EXPECT_THAT(q.status().message(), HasSubstr("is not a Kubernetes quantity")) << bad;
  }
}

}  // namespace
}  // namespace remora::inject
