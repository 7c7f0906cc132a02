#include "net/endpoint.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::net {
namespace {

using ::testing::HasSubstr;

TEST(EndpointTest, ParsesAndPrintsV4AndV6) {
  EXPECT_EQ(ToString(*ParseEndpoint("127.0.0.1:8080")), "127.0.0.1:8080");
  EXPECT_EQ(ToString(*ParseEndpoint("[::1]:15006")), "[::1]:15006");
  EXPECT_EQ(ParseEndpoint("0.0.0.0:0")->port(), 0);
}

TEST(EndpointTest, RefusesWhatIsNotAnEndpoint) {
  EXPECT_THAT(ParseEndpoint("127.0.0.1").status().message(), HasSubstr("missing \":port\""));
  EXPECT_THAT(ParseEndpoint("127.0.0.1:65536").status().message(), HasSubstr("0 to 65535"));
  EXPECT_THAT(ParseEndpoint("127.0.0.1:-1").status().message(), HasSubstr("0 to 65535"));
  EXPECT_THAT(ParseEndpoint("127.0.0.1:").status().message(), HasSubstr("0 to 65535"));
  EXPECT_THAT(ParseEndpoint("web:80").status().message(), HasSubstr("IP address literal"));
  EXPECT_THAT(ParseEndpoint("::1:80").status().message(), HasSubstr("in brackets"));
}

}  // namespace
}  // namespace remora::net
