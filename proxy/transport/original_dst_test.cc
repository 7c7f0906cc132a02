#include "proxy/transport/original_dst.h"

#include "gtest/gtest.h"
#include "net/endpoint.h"

namespace remora::proxy::transport {
namespace {

tcp::endpoint Ep(const char* text) { return *net::ParseEndpoint(text); }

TEST(OriginalDstTest, CanonicalSpellsIpv4MappedAddressesAsIpv4) {
  EXPECT_EQ(Canonical(Ep("[::ffff:10.0.0.5]:15006")), Ep("10.0.0.5:15006"));
  EXPECT_EQ(Canonical(Ep("10.0.0.5:15006")), Ep("10.0.0.5:15006"));
  EXPECT_EQ(Canonical(Ep("[fd00::5]:8080")), Ep("[fd00::5]:8080"));
}

// Issue 16, item 8: a direct connection to the capture port reads ::ffff:a.b.c.d on the
// dual-stack listener and a.b.c.d from conntrack; both are the proxy's own listener.
TEST(OriginalDstTest, RecognizesTheProxysOwnListenersWhateverTheSpelling) {
  const std::vector<tcp::endpoint> own{Ep("[::]:15006"), Ep("127.0.0.1:15001"), Ep("[::1]:15001")};
  EXPECT_TRUE(IsOneOf(Ep("10.0.0.5:15006"), own));
  EXPECT_TRUE(IsOneOf(Ep("[::ffff:10.0.0.5]:15006"), own));
  EXPECT_TRUE(IsOneOf(Ep("[fd00::5]:15006"), own));
  EXPECT_TRUE(IsOneOf(Ep("[::ffff:127.0.0.1]:15001"), own));
  EXPECT_FALSE(IsOneOf(Ep("10.0.0.5:15001"), own));  // 15001 listens on loopback only
  EXPECT_FALSE(IsOneOf(Ep("10.0.0.5:8080"), own));
  EXPECT_TRUE(IsOneOf(Ep("10.0.0.5:15090"), {Ep("0.0.0.0:15090")}));
  EXPECT_FALSE(IsOneOf(Ep("10.0.0.5:0"), {Ep("0.0.0.0:0")}));  // an unbound port is no listener
}

}  // namespace
}  // namespace remora::proxy::transport
