#include "proxy/http1/request_sanitize.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::proxy::http1 {
namespace {

beast_http::request_header<> Parse(const std::string& raw) {
  beast_http::request_parser<beast_http::empty_body> parser;
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(raw), ec);
  EXPECT_FALSE(ec) << ec.message();
  return parser.get().base();
}

std::string Sanitized(const std::string& raw) {
  beast_http::request_header<> head = Parse(raw);
  SanitizeRequestHead(head);
  std::string out;
  for (const auto& field : head) {
    out += std::string(field.name_string()) + ": " + std::string(field.value()) + "\n";
  }
  return out;
}

TEST(RequestSanitizeTest, RecognizesEverySpellingOfForwardedClientCert) {
  for (const char* name : {"x-forwarded-client-cert", "X-Forwarded-Client-Cert",
                           "x_forwarded_client_cert", "X_Forwarded-Client_CERT"}) {
    EXPECT_TRUE(IsForwardedClientCertName(name)) << name;
  }
  for (const char* name : {"x-forwarded-client-certs", "x-forwarded-client", "xforwardedclientcert",
                           "x.forwarded.client.cert", ""}) {
    EXPECT_FALSE(IsForwardedClientCertName(name)) << name;
  }
}

TEST(RequestSanitizeTest, RemovesEverySpellingOfForwardedClientCert) {
  EXPECT_EQ(Sanitized("GET / HTTP/1.1\r\nHost: a\r\nx_forwarded_client_cert: By=f1\r\n"
                      "X-Forwarded-Client-Cert: By=f2\r\nX-Forwarded_Client-Cert: By=f3\r\n"
                      "X-Other: kept\r\n\r\n"),
            "Host: a\nX-Other: kept\n");
}

TEST(RequestSanitizeTest, RemovesAnH2cUpgradeOffer) {
  EXPECT_EQ(Sanitized("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
            "Host: a\n");
  EXPECT_EQ(Sanitized("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, upgrade, "
                      "http2-settings\r\nUpgrade: H2C\r\nhttp2-settings: x\r\n\r\n"),
            "Host: a\nConnection: keep-alive\n");
  // Other protocols offered with h2c stay.
  EXPECT_EQ(Sanitized("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                      "Upgrade: h2c, websocket\r\n\r\n"),
            "Host: a\nUpgrade: websocket\nConnection: Upgrade\n");
}

TEST(RequestSanitizeTest, KeepsWebSocketUpgrades) {
  const std::string raw =
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  EXPECT_EQ(Sanitized(raw),
            "Host: a\nConnection: Upgrade\nUpgrade: websocket\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n");
}

}  // namespace
}  // namespace remora::proxy::http1
