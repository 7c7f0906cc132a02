#include "proxy/http1/request_checks.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::proxy::http1 {
namespace {

using ::testing::HasSubstr;

absl::Status Check(const std::string& raw, beast_http::request_header<>* out = nullptr) {
  beast_http::request_parser<beast_http::empty_body> parser;
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(raw), ec);
  if (ec) return absl::InvalidArgumentError(ec.message());
  beast_http::request_header<> head = parser.get().base();
  absl::Status s = CheckRequestHead(head);
  if (out != nullptr) *out = head;
  return s;
}

TEST(RequestChecksTest, AcceptsOrdinaryRequests) {
  EXPECT_TRUE(Check("GET /a HTTP/1.1\r\nHost: web\r\n\r\n").ok());
  EXPECT_TRUE(Check("POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n").ok());
  EXPECT_TRUE(Check("GET / HTTP/1.0\r\n\r\n").ok());
}

TEST(RequestChecksTest, RefusesSmugglingShapes) {
  EXPECT_THAT(Check("GET / HTTP/1.1\r\n\r\n").message(), HasSubstr("without Host"));
  EXPECT_THAT(Check("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").message(),
              HasSubstr("more than one Host"));
  EXPECT_THAT(Check("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n").message(),
              HasSubstr("only chunked"));
  EXPECT_THAT(
      Check("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n").message(),
      HasSubstr("only chunked"));
  EXPECT_THAT(Check("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n").message(), HasSubstr("CONNECT"));
  // Beast itself refuses these before our checks run.
  EXPECT_FALSE(
      Check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").ok());
  EXPECT_FALSE(
      Check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
          .ok());
}

TEST(RequestChecksTest, BeastJoinsObsoleteLineFoldingSoTheRawHeadIsCheckedFirst) {
  // Beast replaces obs-fold with a space and its parsed head shows no trace of it: only
  // FindRequestHeadEnd, over the raw bytes, can refuse it (see FindRequestHeadEndTest).
  beast_http::request_header<> head;
  ASSERT_TRUE(Check("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n Injected: yes\r\n\r\n", &head).ok());
  EXPECT_EQ(std::string(head["X"]), "a Injected: yes");
}

TEST(RequestChecksTest, CollapsesRepeatedIdenticalContentLength) {
  beast_http::request_header<> head;
  ASSERT_TRUE(
      Check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &head)
          .ok());
  EXPECT_EQ(head.count(beast_http::field::content_length), 1u);
}

TEST(FindRequestHeadEndTest, FindsTheEmptyLineThatEndsTheHead) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(*FindRequestHeadEnd(head, 1024), head.size());
  EXPECT_EQ(*FindRequestHeadEnd(head + "POST / HTTP/1.1\r\n", 1024), head.size());
  EXPECT_EQ(*FindRequestHeadEnd("GET / HTTP/1.1\nHost: a\n\nrest", 1024), 24u);  // Beast refuses
  for (size_t n = 0; n < head.size(); ++n) {
    EXPECT_EQ(*FindRequestHeadEnd(head.substr(0, n), 1024), 0u) << n;
  }
}

TEST(FindRequestHeadEndTest, RefusesObsoleteLineFolding) {
  for (const char* raw : {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n Injected: yes\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tInjected: yes\r\n\r\n",
                          "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost: a\r\nX: a\n Injected: yes\r\n\r\n",
                          // refused as soon as the folded line starts, before the head ends
                          "GET / HTTP/1.1\r\nHost: a\r\n X"}) {
    absl::StatusOr<size_t> end = FindRequestHeadEnd(raw, 1024);
    EXPECT_EQ(end.status().code(), absl::StatusCode::kInvalidArgument) << raw;
    EXPECT_THAT(end.status().message(), HasSubstr("line folding")) << raw;
  }
}

TEST(FindRequestHeadEndTest, RefusesAHeadOverTheLimit) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";  // 27 bytes
  EXPECT_EQ(*FindRequestHeadEnd(head, head.size()), head.size());
  EXPECT_EQ(FindRequestHeadEnd(head, head.size() - 1).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(FindRequestHeadEnd(std::string(100, 'a'), 64).status().message(),
              HasSubstr("over 64 bytes (limits.http_max_header_bytes)"));
  EXPECT_EQ(*FindRequestHeadEnd(std::string(63, 'a'), 64), 0u);
}

// Parses a whole request (head, then body) as the proxy does, then checks for trailer fields.
absl::Status ParseWhole(const std::string& raw) {
  beast_http::request_parser<beast_http::string_body> parser;
  boost::system::error_code ec;
  size_t used = parser.put(boost::asio::buffer(raw), ec);
  if (ec || !parser.is_header_done()) return absl::InvalidArgumentError("head: " + ec.message());
  const size_t fields = FieldCount(parser.get());
  parser.eager(true);
  parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
  if (ec) return absl::InvalidArgumentError("body: " + ec.message());
  if (!parser.is_done()) return absl::InvalidArgumentError("incomplete");
  return CheckNoTrailerFields(fields, parser.get());
}

TEST(CheckNoTrailerFieldsTest, RefusesTrailerFieldsBeastMergesIntoTheHead) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_TRUE(ParseWhole(head + "5\r\nhello\r\n0\r\n\r\n").ok());
  EXPECT_TRUE(ParseWhole(head + "5;name=value\r\nhello\r\n0;last\r\n\r\n").ok());
  for (const char* trailer :
       {"X-Impersonate: root\r\nHost: internal\r\n\r\n", "X:POST / HTTP/1.1\r\n\r\n"}) {
    absl::Status s = ParseWhole(head + "5\r\nhello\r\n0\r\n" + trailer);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << trailer;
    EXPECT_THAT(s.message(), HasSubstr("trailer")) << trailer;
  }
  // Malformed trailer sections: Beast refuses them itself.
  EXPECT_THAT(ParseWhole(head + "5\r\nhello\r\n0\r\nPOST / HTTP/1.1\r\n\r\n").message(),
              HasSubstr("body:"));
}

}  // namespace
}  // namespace remora::proxy::http1
