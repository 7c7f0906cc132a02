// The HTTP/1.1 L7 path against the request shapes of the hardening issue (#16), with real proxies
// and real sockets: nothing the policy did not see reaches the app (trailers, obs-fold, h2c
// upgrades, forged x-forwarded-client-cert spellings, dot segments with path parameters), every
// byte the proxy buffers is bounded (chunk extensions, trailer sections, the app's response), and
// a request head must complete within limits.request_head_timeout.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/proxy_pair_fixture.h"
#include "tests/support/scripted_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kWebId[] = "spiffe://cluster.local/ns/b/sa/web";

constexpr char kAllowPublic[] = R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-public, namespace: b}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/a/sa/client"]}}]
    to: [{operation: {methods: ["GET", "HEAD", "POST"], paths: ["/public/*"]}}]
)";

// 200 "hello from app <method> <target>" for a request head.
std::string Hello(const std::string& head) {
  const std::string line = head.substr(0, head.find("\r\n"));
  const std::string body = absl::StrCat("hello from app ", line.substr(0, line.rfind(' ')), "\n");
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
}

ScriptedApp::Answer HelloAnswer(const std::string& head) { return {Hello(head)}; }

// Switches protocols when asked to (h2c or websocket), as an upgrade-capable server does.
ScriptedApp::Answer UpgradeWhenAsked(const std::string& head) {
  const std::string lower = absl::AsciiStrToLower(head);
  for (const char* protocol : {"h2c", "websocket"}) {
    if (lower.find(absl::StrCat("\r\nupgrade: ", protocol)) != std::string::npos) {
      return {absl::StrCat("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ",
                           protocol, "\r\n\r\n"),
              /*then_echo=*/true};
    }
  }
  return {Hello(head)};
}

// Reads one response: its head, then a Content-Length body (none for 1xx).
std::string ReadResponse(Conn& conn) {
  std::string response;
  while (true) {
    const size_t head_end = response.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      if (absl::StartsWith(response, "HTTP/1.1 1")) return response;
      const std::string head = absl::AsciiStrToLower(response.substr(0, head_end));
      const size_t cl = head.find("content-length: ");
      const size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
      if (response.size() >= head_end + 4 + length) return response;
    }
    absl::StatusOr<std::string> more = conn.ReadExactly(1);
    if (!more.ok()) return response;
    response += *more;
  }
}

std::string RoundTrip(Conn& conn, const std::string& request) {
  if (!conn.SendAll(request).ok()) return "send failed";
  return ReadResponse(conn);
}

// Sends `request` (the proxy may stop reading and close before all of it is sent) and reads what
// comes back until the proxy closes. A test that sees an error here saw no close.
absl::StatusOr<std::string> SendAndReadToClose(Conn& conn, const std::string& request) {
  (void)conn.SendAll(request);
  return conn.ReadToEof();
}

class ProxyHttpHardeningTest : public ProxyPairTest {
 protected:
  // A server sidecar on an HTTP port of `app` enforcing `policy`, with `server_extra` appended to
  // its configuration, and a client sidecar in front of it (mTLS between them).
  void StartPair(const std::string& app, const std::string& policy,
                 const std::string& server_extra = "") {
    WriteFileOrDie(dir_ + "/server-policy.yaml", policy);
    server_ = StartProxy(
        "server", ServerYaml(app, "STRICT",
                             absl::StrCat("policy_files: [\"", dir_, "/server-policy.yaml\"]\n",
                                          "workload: {labels: {app: web}}\n", server_extra)));
    ASSERT_NE(server_, nullptr);
    client_ =
        StartProxy("client", OutboundConfig(client_files_, server_->Address("inbound"), {kWebId}));
    ASSERT_NE(client_, nullptr);
  }

  // Only a server sidecar, its HTTP port in plaintext (DISABLE) and no policy: the test's socket
  // talks to the L7 path directly, so a refusal is seen exactly as the proxy sends it.
  void StartAlone(const std::string& app, const std::string& server_extra = "") {
    server_ = StartProxy("server", ServerYaml(app, "DISABLE", server_extra));
    ASSERT_NE(server_, nullptr);
  }

  std::string ServerYaml(const std::string& app, const std::string& mode,
                         const std::string& extra) {
    const std::string port = app.substr(app.rfind(':') + 1);
    const std::string yaml = InboundConfig(server_files_, app, mode);
    return absl::StrCat(yaml.substr(0, yaml.find("inbound:")),
                        "inbound:\n  mode: STRICT\n  ports:\n    - {port: ", port, ", mode: ", mode,
                        ", protocol: http}\n", extra);
  }

  Conn DialClient() {
    absl::StatusOr<Conn> conn = Conn::Dial(client_->Address("outbound"));
    EXPECT_TRUE(conn.ok()) << conn.status();
    return std::move(*conn);
  }

  Conn DialServer() {
    absl::StatusOr<Conn> conn = Conn::Dial(server_->Address("inbound"));
    EXPECT_TRUE(conn.ok()) << conn.status();
    return std::move(*conn);
  }

  std::string Stats() {
    absl::StatusOr<std::string> stats = server_->AdminGet("/stats");
    return stats.ok() ? *stats : stats.status().ToString();
  }

  std::unique_ptr<ProxyProcess> server_;
  std::unique_ptr<ProxyProcess> client_;
};

// --- Item 1: trailers and obs-fold --------------------------------------------------------------

TEST_F(ProxyHttpHardeningTest, RefusesTrailerFieldsAfterChunkedBody) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  Conn conn = DialClient();
  // The policy sees the head only; a trailer field must never reach the app as a header.
  const std::string reply =
      RoundTrip(conn,
                "POST /public/upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n0\r\nX-Impersonate: root\r\nHost: internal\r\n\r\n");
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 Bad Request"));
  EXPECT_THAT(reply, HasSubstr("trailer"));
  EXPECT_THAT(app.received(), Not(HasSubstr("X-Impersonate")));
  EXPECT_EQ(app.connections(), 0) << app.received();
}

TEST_F(ProxyHttpHardeningTest, RefusesMalformedTrailerSections) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  for (const char* trailer : {"X:POST / HTTP/1.1\r\n\r\n", "POST / HTTP/1.1\r\n\r\n",
                              " folded\r\n\r\n", "X: a\r\n continued\r\n\r\n"}) {
    Conn conn = DialClient();
    absl::StatusOr<std::string> reply = SendAndReadToClose(
        conn, absl::StrCat("POST /public/upload HTTP/1.1\r\nHost: web\r\nConnection: close\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
                           trailer));
    ASSERT_TRUE(reply.ok()) << reply.status() << " trailer=" << trailer;
    EXPECT_THAT(*reply, StartsWith("HTTP/1.1 400 Bad Request")) << trailer;
  }
  EXPECT_EQ(app.connections(), 0) << app.received();
}

TEST_F(ProxyHttpHardeningTest, RefusesObsFoldHeaderLines) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  // RFC 9112 5.2 lets a proxy replace obs-fold with spaces; Remora refuses it instead, so no
  // reader downstream can take a folded line for a header of its own.
  for (const char* head :
       {"GET /public/a HTTP/1.1\r\nHost: web\r\nConnection: close\r\nX: a\r\n Injected: "
        "yes\r\n\r\n",
        "GET /public/a HTTP/1.1\r\nHost: web\r\nConnection: close\r\nX: a\r\n\tInjected: "
        "yes\r\n\r\n",
        "GET /public/a HTTP/1.1\r\n Host: web\r\nHost: web\r\nConnection: close\r\n\r\n"}) {
    Conn conn = DialClient();
    absl::StatusOr<std::string> reply = SendAndReadToClose(conn, head);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_THAT(*reply, StartsWith("HTTP/1.1 400 Bad Request")) << head;
    EXPECT_THAT(*reply, HasSubstr("folding")) << head;
  }
  EXPECT_EQ(app.connections(), 0) << app.received();
}

// --- Item 7: every buffered byte is bounded -----------------------------------------------------

TEST_F(ProxyHttpHardeningTest, BoundsChunkExtensionBytes) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartAlone(app.endpoint()));
  Conn conn = DialServer();
  // A chunk-size line whose extension never ends: Beast 1.81 counts it against no limit.
  absl::StatusOr<std::string> reply = SendAndReadToClose(
      conn, absl::StrCat("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5;ext=",
                         std::string(64 * 1024, 'a')));
  ASSERT_TRUE(reply.ok()) << "the proxy kept buffering: " << reply.status();
  EXPECT_THAT(*reply, StartsWith("HTTP/1.1 400 Bad Request"));
  EXPECT_THAT(*reply, HasSubstr("http_max_header_bytes"));
  EXPECT_EQ(app.connections(), 0);
  EXPECT_THAT(Stats(), HasSubstr("listener_http_bad_request{listener=\"inbound\"}: 1"));
}

TEST_F(ProxyHttpHardeningTest, BoundsTrailerSectionBytes) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartAlone(app.endpoint()));
  Conn conn = DialServer();
  absl::StatusOr<std::string> reply = SendAndReadToClose(
      conn, absl::StrCat("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\nhello\r\n0\r\nX-Pad: ",
                         std::string(64 * 1024, 'a')));
  ASSERT_TRUE(reply.ok()) << "the proxy kept buffering: " << reply.status();
  EXPECT_THAT(*reply, StartsWith("HTTP/1.1 400 Bad Request"));
  EXPECT_EQ(app.connections(), 0);
}

TEST_F(ProxyHttpHardeningTest, BoundsTheAppsChunkedResponseTrailer) {
  // The app's response never ends its trailer section: the proxy must stop buffering it.
  ScriptedApp app([](const std::string&) -> ScriptedApp::Answer {
    return {
        absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                     "0\r\nX-Pad: ",
                     std::string(64 * 1024, 'a'))};
  });
  ASSERT_NO_FATAL_FAILURE(StartAlone(app.endpoint()));
  Conn conn = DialServer();
  absl::StatusOr<std::string> reply =
      SendAndReadToClose(conn, "GET / HTTP/1.1\r\nHost: web\r\n\r\n");
  ASSERT_TRUE(reply.ok()) << "the proxy kept buffering the app's trailer: " << reply.status();
  // Nothing was forwarded yet (the first read covers the whole small body): a 502 instead.
  EXPECT_THAT(*reply, StartsWith("HTTP/1.1 502 Bad Gateway"));
  EXPECT_THAT(*reply, Not(HasSubstr("X-Pad")));
  EXPECT_TRUE(WaitFor(absl::Seconds(10), [&] {
    return absl::StrContains(Stats(), "listener_http_bad_response{listener=\"inbound\"}: 1");
  })) << Stats();
}

TEST_F(ProxyHttpHardeningTest, BoundsTheAppsResponseHead) {
  ScriptedApp app([](const std::string&) -> ScriptedApp::Answer {
    return {absl::StrCat("HTTP/1.1 200 OK\r\nX-Big: ", std::string(64 * 1024, 'a'),
                         "\r\nContent-Length: 0\r\n\r\n")};
  });
  ASSERT_NO_FATAL_FAILURE(StartAlone(app.endpoint()));
  Conn conn = DialServer();
  absl::StatusOr<std::string> reply =
      SendAndReadToClose(conn, "GET / HTTP/1.1\r\nHost: web\r\n\r\n");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, StartsWith("HTTP/1.1 502 Bad Gateway"));
}

// --- Item 9: request-head timeout ---------------------------------------------------------------

TEST_F(ProxyHttpHardeningTest, ClosesARequestHeadThatDoesNotCompleteInTime) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartAlone(app.endpoint(), "limits: {request_head_timeout: 200ms}\n"));
  Conn conn = DialServer();
  // Slowloris: a head that starts and never ends. The idle timeout (1h) must not be its bound.
  absl::StatusOr<std::string> reply = SendAndReadToClose(conn, "GET / HTTP/1.1\r\nHost: web\r\n");
  ASSERT_TRUE(reply.ok()) << "no close: " << reply.status();
  EXPECT_THAT(*reply, StartsWith("HTTP/1.1 408 Request Timeout"));
  EXPECT_EQ(app.connections(), 0);
  EXPECT_THAT(Stats(), HasSubstr("listener_http_request_head_timeout{listener=\"inbound\"}: 1"));
}

TEST_F(ProxyHttpHardeningTest, RequestHeadTimeoutAppliesToEachHeadButNotToIdleKeepAlive) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartAlone(app.endpoint(), "limits: {request_head_timeout: 200ms}\n"));
  Conn kept = DialServer();
  EXPECT_THAT(RoundTrip(kept, "GET /first HTTP/1.1\r\nHost: web\r\n\r\n"),
              HasSubstr("hello from app GET /first"));
  // `kept` now idles. Another connection's unfinished head times out meanwhile, so `kept` has
  // been idle for longer than the head timeout when it is used again (no sleep needed).
  Conn slow = DialServer();
  absl::StatusOr<std::string> slow_reply = SendAndReadToClose(slow, "GET /slow HTTP/1.1\r\n");
  ASSERT_TRUE(slow_reply.ok()) << slow_reply.status();
  EXPECT_THAT(*slow_reply, StartsWith("HTTP/1.1 408"));
  EXPECT_THAT(RoundTrip(kept, "GET /second HTTP/1.1\r\nHost: web\r\n\r\n"),
              HasSubstr("hello from app GET /second"));
  // And the next head on the same keep-alive connection has its own deadline.
  absl::StatusOr<std::string> third = SendAndReadToClose(kept, "GET /third HTTP/1.1\r\nHo");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_THAT(*third, StartsWith("HTTP/1.1 408"));
  EXPECT_THAT(app.received(), Not(HasSubstr("/third")));
  EXPECT_THAT(Stats(), HasSubstr("listener_http_request_head_timeout{listener=\"inbound\"}: 2"));
}

// --- Item 13: h2c upgrades ----------------------------------------------------------------------

TEST_F(ProxyHttpHardeningTest, StripsH2cUpgradeSoEveryLaterRequestIsAuthorized) {
  ScriptedApp app(UpgradeWhenAsked);
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  Conn conn = DialClient();
  const std::string first =
      RoundTrip(conn,
                "GET /public/a HTTP/1.1\r\nHost: web\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200 OK")) << "the app was offered h2c";
  // Still HTTP/1.1, still authorized request by request.
  EXPECT_THAT(RoundTrip(conn, "GET /admin HTTP/1.1\r\nHost: web\r\n\r\n"),
              StartsWith("HTTP/1.1 403 Forbidden"));
  const std::string seen = absl::AsciiStrToLower(app.received());
  EXPECT_THAT(seen, Not(HasSubstr("h2c")));
  EXPECT_THAT(seen, Not(HasSubstr("http2-settings")));
  EXPECT_THAT(seen, Not(HasSubstr("/admin")));
}

TEST_F(ProxyHttpHardeningTest, RefusesASwitchOfProtocolTheClientDidNotAskFor) {
  // An app that answers 101 to anything would turn the connection into a raw relay.
  ScriptedApp app([](const std::string&) -> ScriptedApp::Answer {
    return {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            /*then_echo=*/true};
  });
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  Conn conn = DialClient();
  absl::StatusOr<std::string> reply = SendAndReadToClose(
      conn, "GET /public/a HTTP/1.1\r\nHost: web\r\n\r\nGET /admin HTTP/1.1\r\nHost: web\r\n\r\n");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, StartsWith("HTTP/1.1 502 Bad Gateway"));
  EXPECT_THAT(app.received(), Not(HasSubstr("/admin")));
}

TEST_F(ProxyHttpHardeningTest, WebSocketUpgradesStillWorkAndAreAuthorizedByTheUpgradingRequest) {
  ScriptedApp app(UpgradeWhenAsked);
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  constexpr char kUpgrade[] =
      " HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  Conn denied = DialClient();
  EXPECT_THAT(RoundTrip(denied, absl::StrCat("GET /admin", kUpgrade)),
              StartsWith("HTTP/1.1 403 Forbidden"));
  Conn conn = DialClient();
  EXPECT_THAT(RoundTrip(conn, absl::StrCat("GET /public/ws", kUpgrade)),
              StartsWith("HTTP/1.1 101 Switching Protocols"));
  ASSERT_TRUE(conn.SendAll("websocket frames").ok());
  absl::StatusOr<std::string> echoed = conn.ReadExactly(16);
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(*echoed, "websocket frames");
  EXPECT_THAT(app.received(), HasSubstr("Upgrade: websocket"));
  EXPECT_THAT(app.received(), Not(HasSubstr("/admin")));
}

TEST_F(ProxyHttpHardeningTest, ForwardsResponsesWithoutABody) {
  // 101 is one of them: its head must reach the client like a 204's or a HEAD response's.
  ScriptedApp app([](const std::string& head) -> ScriptedApp::Answer {
    if (absl::StartsWith(head, "GET /public/no-content "))
      return {"HTTP/1.1 204 No Content\r\n\r\n"};
    if (absl::StartsWith(head, "GET /public/empty ")) {
      return {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
    }
    return {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"};  // HEAD: no body follows
  });
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  Conn conn = DialClient();
  EXPECT_THAT(RoundTrip(conn, "GET /public/no-content HTTP/1.1\r\nHost: web\r\n\r\n"),
              StartsWith("HTTP/1.1 204 No Content"));
  EXPECT_THAT(RoundTrip(conn, "GET /public/empty HTTP/1.1\r\nHost: web\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK"));
  ASSERT_TRUE(conn.SendAll("HEAD /public/page HTTP/1.1\r\nHost: web\r\n\r\n").ok());
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    absl::StatusOr<std::string> more = conn.ReadExactly(1);
    ASSERT_TRUE(more.ok()) << more.status() << " after " << head;
    head += *more;
  }
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK"));
}

// --- Item 14: every spelling of x-forwarded-client-cert -----------------------------------------

TEST_F(ProxyHttpHardeningTest, StripsEverySpellingOfForwardedClientCert) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  Conn conn = DialClient();
  // CGI/WSGI servers map '-' and '_' to the same HTTP_X_FORWARDED_CLIENT_CERT variable.
  EXPECT_THAT(RoundTrip(conn,
                        "GET /public/a HTTP/1.1\r\nHost: web\r\n"
                        "x_forwarded_client_cert: By=forged1\r\n"
                        "X-Forwarded_Client-Cert: By=forged2\r\n"
                        "X-FORWARDED-CLIENT-CERT: By=forged3\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK"));
  const std::string seen = app.received();
  EXPECT_THAT(seen, Not(HasSubstr("forged")));
  EXPECT_THAT(seen, HasSubstr("x-forwarded-client-cert: By=spiffe://cluster.local/ns/b/sa/web;"
                              "URI=spiffe://cluster.local/ns/a/sa/client"));
}

// --- Item 15: dot segments with path parameters -------------------------------------------------

TEST_F(ProxyHttpHardeningTest, RefusesDotSegmentsCarryingPathParameters) {
  ScriptedApp app(HelloAnswer);
  ASSERT_NO_FATAL_FAILURE(StartPair(app.endpoint(), kAllowPublic));
  // Tomcat strips ";params" from each segment before resolving dot segments, so "..;" climbs.
  for (const char* target : {"/public/..;/admin", "/public/..;jsessionid=1/admin",
                             "/public/%2e%2e;/admin", "/public/.;x/../..;/admin"}) {
    Conn conn = DialClient();
    absl::StatusOr<std::string> reply = SendAndReadToClose(
        conn, absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_THAT(*reply, StartsWith("HTTP/1.1 400 Bad Request")) << target;
  }
  EXPECT_EQ(app.connections(), 0) << app.received();
}

}  // namespace
}  // namespace remora::testing
