// The watch stream's framing (lines across arbitrary chunk boundaries, bounded) and its events.
#include "kube/watch_event.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::kube {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Lines(JsonLineBuffer& buffer) {
  std::vector<std::string> out;
  std::string line;
  while (buffer.Next(&line)) out.push_back(line);
  return out;
}

TEST(JsonLineBufferTest, ReassemblesLinesAcrossChunks) {
  JsonLineBuffer buffer(100);
  ASSERT_TRUE(buffer.Append("{\"a\":").ok());
  EXPECT_TRUE(Lines(buffer).empty());
  ASSERT_TRUE(buffer.Append("1}\n{\"b\":2}\n{\"c\"").ok());
  EXPECT_THAT(Lines(buffer), ElementsAre("{\"a\":1}", "{\"b\":2}"));
  ASSERT_TRUE(buffer.Append(":3}\r\n\n").ok());
  EXPECT_THAT(Lines(buffer), ElementsAre("{\"c\":3}"));
  EXPECT_EQ(buffer.pending(), 0u);
}

TEST(JsonLineBufferTest, RefusesAnIncompleteLineOverTheLimit) {
  JsonLineBuffer buffer(8);
  ASSERT_TRUE(buffer.Append("12345678").ok());
  absl::Status status = buffer.Append("9");
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "watch stream: an event is larger than the limit of 8 bytes");
}

TEST(JsonLineBufferTest, RefusesACompleteLineOverTheLimit) {
  JsonLineBuffer buffer(8);
  EXPECT_EQ(buffer.Append("ok\n123456789\nok\n").code(), absl::StatusCode::kResourceExhausted);
}

TEST(JsonLineBufferTest, StaysAboutOneLineLong) {
  JsonLineBuffer buffer(16);
  std::string line;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(buffer.Append("{\"n\":1}\n{\"n\"").ok());
    ASSERT_TRUE(buffer.Next(&line));
    ASSERT_TRUE(buffer.Append(":2}\n").ok());
    ASSERT_TRUE(buffer.Next(&line));
    EXPECT_EQ(line, "{\"n\":2}");
  }
  EXPECT_EQ(buffer.pending(), 0u);
}

TEST(WatchEventTest, ParsesEachType) {
  for (const char* type : {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"}) {
    auto event = ParseWatchEvent(absl::StrCat(
        R"({"type":")", type, R"(","object":{"kind":"Pod","metadata":{"resourceVersion":"7"}}})"));
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(WatchEventTypeName(event->type), type);
    EXPECT_EQ(event->object["metadata"]["resourceVersion"], "7");
  }
  auto error = ParseWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","code":410}})");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->type, WatchEvent::Type::kError);
}

TEST(WatchEventTest, RefusesMalformedEvents) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"nope", "watch event: not JSON: \"nope\""},
      {R"({"object":{}})", "watch event: \"type\" is missing or not a string"},
      {R"({"type":"RENAMED","object":{}})", "watch event: unknown type \"RENAMED\""},
      {R"({"type":"ADDED","object":[]})",
       "watch event ADDED: \"object\" is missing or not an object"},
      {R"({"type":"ADDED","object":{"kind":"Pod"}})",
       "watch event ADDED: the object has no metadata"},
      {R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":7}}})",
       "watch event BOOKMARK: the object has no metadata.resourceVersion"},
  };
  for (const auto& [line, message] : cases) {
    auto event = ParseWatchEvent(line);
    ASSERT_FALSE(event.ok()) << line;
    EXPECT_EQ(event.status().message(), message);
  }
}

}  // namespace
}  // namespace remora::kube
