#include "common/stats.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora {
namespace {

using ::testing::HasSubstr;

#define TEST_STATS(COUNTER, GAUGE)          \
  COUNTER(cx_total, "Connections accepted") \
  GAUGE(cx_active, "Connections open")
REMORA_DECLARE_STATS(TestStats, TEST_STATS);

TEST(StatsTest, RendersOneFamilyPerNameWithLabels) {
  TestStats inbound, outbound;
  inbound.cx_total.Inc(3);
  outbound.cx_total.Inc();
  inbound.cx_active.Add(2);
  inbound.cx_active.Sub();
  StatsRegistry registry;
  inbound.Register(registry, "listener_", "listener=\"inbound\"");
  outbound.Register(registry, "listener_", "listener=\"outbound\"");
  std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE remora_listener_cx_total_total counter\n"
                              "remora_listener_cx_total_total{listener=\"inbound\"} 3\n"
                              "remora_listener_cx_total_total{listener=\"outbound\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("remora_listener_cx_active{listener=\"inbound\"} 1\n"));
  EXPECT_EQ(text.find("# HELP remora_listener_cx_total_total"),
            text.rfind("# HELP remora_listener_cx_total_total"));
}

}  // namespace
}  // namespace remora
