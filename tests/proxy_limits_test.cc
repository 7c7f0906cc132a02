// remora-proxy's connection limits (issue 16, item 9): inbound and outbound have limits of their
// own, so connections from the network cannot starve the app's own outbound traffic, and one
// source address cannot hold more than its share of connections still in protocol detection or
// TLS handshake. Every refusal is counted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/net.h"
#include "tests/support/proxy_harness.h"
#include "tests/support/proxy_pair_fixture.h"
#include "tests/support/test_app.h"

namespace remora::testing {
namespace {

using ::testing::HasSubstr;

using ProxyLimitsTest = ProxyPairTest;

constexpr int kHandshakesPerSource = 8;

// A proxy with an inbound listener in front of `inbound_app` (PERMISSIVE) and an outbound
// listener passing through to `outbound_app`.
std::string TwoWayConfig(const certs::testing::WrittenFiles& files, const std::string& inbound_app,
                         const std::string& outbound_app, const std::string& limits) {
  return absl::StrCat(
      "identity: {cert_file: \"", files.cert, "\", key_file: \"", files.key, "\", bundle_file: \"",
      files.bundle, "\"}\n", "listeners:\n",
      "  - {name: inbound, direction: inbound, address: \"127.0.0.1:0\", target: \"", inbound_app,
      "\"}\n", "  - {name: outbound, direction: outbound, address: \"127.0.0.1:0\", target: \"",
      outbound_app, "\"}\n", "admin: \"127.0.0.1:0\"\nprometheus: \"off\"\nhealth: \"off\"\n",
      "inbound: {mode: PERMISSIVE}\n", "outbound: {unknown_destinations: passthrough}\n",
      "limits: ", limits, "\n");
}

// A connection echoed one byte: the proxy served it.
bool Served(Conn& conn, const std::string& byte) {
  return conn.SendAll(byte).ok() && conn.ReadExactly(1).value_or("") == byte;
}

// One counter of the admin /stats page ("listener_timeout{listener=\"inbound\"}: 3"); -1 if absent.
int64_t Stat(const ProxyProcess& proxy, const std::string& name) {
  const std::string stats = proxy.AdminGet("/stats").value_or("");
  for (absl::string_view line : absl::StrSplit(stats, '\n')) {
    if (absl::StartsWith(line, name + ": ")) {
      int64_t value = -1;
      return absl::SimpleAtoi(line.substr(name.size() + 2), &value) ? value : -1;
    }
  }
  return -1;
}

// A plain TCP connection to `endpoint` ("127.0.0.1:port") from the source address `source`.
class SourcedConn {
 public:
  SourcedConn(const std::string& source, const std::string& endpoint) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    const size_t colon = endpoint.rfind(':');
    ::inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &to.sin_addr);
    to.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      error_ = std::strerror(errno);
    }
  }
  ~SourcedConn() { ::close(fd_); }
  const std::string& error() const { return error_; }
  // Sends one byte and reads one back: "" when the connection was closed instead.
  std::string Echo(char byte) {
    if (::send(fd_, &byte, 1, MSG_NOSIGNAL) != 1) return "";
    char back = 0;
    return ::recv(fd_, &back, 1, 0) == 1 ? std::string(1, back) : "";
  }

 private:
  int fd_ = -1;
  std::string error_;
};

TEST_F(ProxyLimitsTest, InboundConnectionsCannotStarveTheAppsOutboundTraffic) {
  TestApp inbound_app(TestApp::Mode::kEcho);
  TestApp outbound_app(TestApp::Mode::kEcho);
  // Only the overall limit is set: each direction gets half of it by default.
  auto proxy = StartProxy("proxy", TwoWayConfig(server_files_, inbound_app.endpoint(),
                                                outbound_app.endpoint(), "{max_connections: 2}"));
  ASSERT_TRUE(proxy);
  // Callers from the network take every inbound connection they can get, and hold them.
  std::vector<Conn> inbound;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Conn> c = Conn::Dial(proxy->Address("inbound"));
    ASSERT_TRUE(c.ok()) << c.status();
    if (!Served(*c, "x")) break;
    inbound.push_back(std::move(*c));
  }
  EXPECT_EQ(inbound.size(), 1u) << "inbound is limited to half of max_connections";
  // The app's own outbound call still goes through.
  absl::StatusOr<Conn> out = Conn::Dial(proxy->Address("outbound"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(Served(*out, "y")) << "the app's outbound connection was refused:\n" << proxy->Log();
  EXPECT_EQ(Stat(*proxy, "listener_direction_overload_refused{listener=\"inbound\"}"), 1);
  EXPECT_EQ(Stat(*proxy, "listener_downstream_cx_refused{listener=\"inbound\"}"), 1);
  EXPECT_TRUE(WaitForText(proxy->log_path(), "max_inbound_connections=1 reached"));
}

TEST_F(ProxyLimitsTest, ExplicitDirectionLimitsReplaceTheDefaultHalves) {
  TestApp inbound_app(TestApp::Mode::kEcho);
  TestApp outbound_app(TestApp::Mode::kEcho);
  auto proxy = StartProxy(
      "proxy", TwoWayConfig(server_files_, inbound_app.endpoint(), outbound_app.endpoint(),
                            "{max_connections: 10, max_inbound_connections: 2, "
                            "max_outbound_connections: 1}"));
  ASSERT_TRUE(proxy);
  std::vector<Conn> held;
  for (const char* listener : {"inbound", "inbound", "outbound"}) {
    absl::StatusOr<Conn> c = Conn::Dial(proxy->Address(listener));
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(Served(*c, "x")) << listener;
    held.push_back(std::move(*c));
  }
  for (const char* listener : {"inbound", "outbound"}) {
    absl::StatusOr<Conn> c = Conn::Dial(proxy->Address(listener));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_FALSE(Served(*c, "x")) << listener << " over its limit was served";
    EXPECT_EQ(Stat(*proxy, absl::StrCat("listener_direction_overload_refused{listener=\"", listener,
                                        "\"}")),
              1);
  }
}

TEST_F(ProxyLimitsTest, OneSourceCannotHoldMoreThanItsShareOfHandshakes) {
  TestApp app(TestApp::Mode::kEcho);
  auto proxy = StartProxy("proxy", TwoWayConfig(server_files_, app.endpoint(), app.endpoint(),
                                                "{sniff_timeout: 60s, handshake_timeout: 60s, "
                                                "max_handshakes_per_source: 8}"));
  ASSERT_TRUE(proxy);
  const std::string inbound = proxy->Address("inbound");
  // Silent clients from 127.0.0.1: each one waits in protocol detection.
  std::vector<Conn> silent;
  for (int i = 0; i < kHandshakesPerSource; ++i) {
    absl::StatusOr<Conn> c = Conn::Dial(inbound);
    ASSERT_TRUE(c.ok()) << c.status();
    silent.push_back(std::move(*c));
  }
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return Stat(*proxy, "listener_downstream_cx{listener=\"inbound\"}") == kHandshakesPerSource;
  }));
  // One more from the same source is refused at once...
  absl::StatusOr<Conn> over = Conn::Dial(inbound);
  ASSERT_TRUE(over.ok()) << over.status();
  absl::StatusOr<std::string> rest = over->ReadToEof();
  EXPECT_TRUE(rest.ok() && rest->empty()) << "the connection over the per-source cap was kept";
  EXPECT_EQ(Stat(*proxy, "listener_source_overload_refused{listener=\"inbound\"}"), 1);
  EXPECT_TRUE(WaitForText(proxy->log_path(), "max_handshakes_per_source=8 reached"));

  // ...while another source is served,
  SourcedConn other("127.0.0.2", inbound);
  ASSERT_EQ(other.error(), "");
  EXPECT_EQ(other.Echo('z'), "z");
  // and a connection past protocol detection frees its source's slot.
  EXPECT_TRUE(Served(silent.front(), "w"));
  absl::StatusOr<Conn> again = Conn::Dial(inbound);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(Served(*again, "v"));
  EXPECT_EQ(Stat(*proxy, "listener_source_overload_refused{listener=\"inbound\"}"), 1);
}

}  // namespace
}  // namespace remora::testing
