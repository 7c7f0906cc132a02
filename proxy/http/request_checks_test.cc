#include "proxy/http/request_checks.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::proxy::http {
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

TEST(RequestChecksTest, ObsoleteLineFoldingReachesTheAppAsOneLine) {
  // RFC 9112 5.2: a proxy rejects obs-fold or replaces it with spaces; Beast replaces it, so the
  // app can never read a second header out of a folded value.
  beast_http::request_header<> head;
  ASSERT_TRUE(Check("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n Injected: yes\r\n\r\n", &head).ok());
  std::string value(head["X"]);
  EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos);
  EXPECT_EQ(head.count("Injected"), 0u);
}

TEST(RequestChecksTest, CollapsesRepeatedIdenticalContentLength) {
  beast_http::request_header<> head;
  ASSERT_TRUE(
      Check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &head)
          .ok());
  EXPECT_EQ(head.count(beast_http::field::content_length), 1u);
}

TEST(NormalizeTargetTest, NormalizesWhatPoliciesMatch) {
  std::string authority;
  EXPECT_EQ(*NormalizeTarget("/a/b?x=1", &authority), "/a/b?x=1");
  EXPECT_EQ(*NormalizeTarget("/%61dmin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("//admin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("/public/../admin", &authority), "/admin");
  EXPECT_EQ(*NormalizeTarget("/./admin/.", &authority), "/admin/");
  EXPECT_EQ(*NormalizeTarget("/../../etc", &authority), "/etc");
  EXPECT_EQ(*NormalizeTarget("/a%2fb", &authority), "/a%2Fb");
  EXPECT_EQ(*NormalizeTarget("/dir/", &authority), "/dir/");
  EXPECT_EQ(*NormalizeTarget("http://web.shop:8080/x/../y?q", &authority), "/y?q");
  EXPECT_EQ(authority, "web.shop:8080");
  EXPECT_EQ(*NormalizeTarget("*", &authority), "*");
}

TEST(NormalizeTargetTest, RefusesMalformedTargets) {
  EXPECT_THAT(NormalizeTarget("/a%zz", nullptr).status().message(), HasSubstr("percent-escape"));
  EXPECT_THAT(NormalizeTarget("/a%4", nullptr).status().message(), HasSubstr("percent-escape"));
  EXPECT_THAT(NormalizeTarget("a/b", nullptr).status().message(), HasSubstr("must start with"));
  EXPECT_THAT(NormalizeTarget("/a#frag", nullptr).status().message(), HasSubstr("fragment"));
}

}  // namespace
}  // namespace remora::proxy::http
