// remora-init in real network namespaces: a "pod" namespace joined to a "peer" namespace by a
// veth pair, the built binary run inside the pod, and real TCP connections showing where each
// one lands. Every test runs with each backend: nft, iptables-nft, iptables-legacy.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iptables-init/command_runner.h"
#include "iptables-init/testing/netns.h"
#include "iptables-init/testing/sockets.h"

namespace remora::iptables_init {
namespace {

using testing::AcceptTcp;
using testing::ConnectTcp;
using testing::ConnectTcpFrom;
using testing::Credentials;
using ::testing::HasSubstr;
using testing::ListenTcp;
using testing::NetNs;
using ::testing::Not;
using testing::ScopedFd;
using testing::VethPair;

constexpr char kPodIp[] = "192.0.2.2";
constexpr char kPeerIp[] = "192.0.2.1";
constexpr char kPeerIp2[] = "192.0.2.3";
constexpr char kPodIp6[] = "fd00:72::2";
constexpr char kPeerIp6[] = "fd00:72::1";
// Where the proxy's connections to the app come from (Istio's inbound passthrough addresses).
constexpr char kPassthroughSource[] = "127.0.0.6";
constexpr char kPassthroughSource6[] = "::6";
const Credentials kProxy{1337, 1337};
const Credentials kApp{1000, 1000};

// How long to wait for a connection that should not arrive. Connections are established by the
// time ConnectTcp returns, so a short wait is enough to see that one went elsewhere.
constexpr absl::Duration kNone = absl::Milliseconds(50);

std::string RemoraInitPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return "iptables-init/remora-init";
  return absl::StrCat(srcdir, "/", workspace != nullptr ? workspace : "remora",
                      "/iptables-init/remora-init");
}

std::string Endpoint(absl::string_view ip, int port) {
  return absl::StrContains(ip, ':') ? absl::StrCat("[", ip, "]:", port)
                                    : absl::StrCat(ip, ":", port);
}

// Every rule the namespace holds, in every form we can read: the nftables ruleset and both
// iptables variants for both families. Comments and packet counters are dropped (they change
// with time and traffic, not with rules).
std::string RulesetSnapshot(const NetNs& ns) {
  std::string out;
  static const std::regex kCounters(R"(\[\d+:\d+\])");
  for (std::vector<std::string> argv : {std::vector<std::string>{"nft", "list", "ruleset"},
                                        {"iptables-nft-save"},
                                        {"ip6tables-nft-save"},
                                        {"iptables-legacy-save"},
                                        {"ip6tables-legacy-save"}}) {
    absl::StatusOr<CommandResult> r = ns.Run(argv);
    absl::StrAppend(&out, "== ", absl::StrJoin(argv, " "), "\n");
    if (!r.ok()) {
      absl::StrAppend(&out, "(cannot run: ", r.status().message(), ")\n");
      continue;
    }
    for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line, "#")) continue;
      absl::StrAppend(&out, std::regex_replace(std::string(line), kCounters, "[]"), "\n");
    }
  }
  return out;
}

// The legacy nat table, once used in a namespace, stays until the namespace goes: after a cleanup
// its empty built-in chains remain. This removes exactly that from a snapshot.
std::string WithoutEmptyLegacyNat(std::string snapshot) {
  for (absl::string_view family : {"iptables", "ip6tables"}) {
    const std::string header = absl::StrCat("== ", family, "-legacy-save\n");
    const std::string empty_nat = absl::StrCat(
        header,
        "*nat\n:PREROUTING ACCEPT []\n:INPUT ACCEPT []\n:OUTPUT ACCEPT []\n:POSTROUTING ACCEPT []\n"
        "COMMIT\n");
    if (size_t at = snapshot.find(empty_nat); at != std::string::npos) {
      snapshot.replace(at, empty_nat.size(), header);
    }
  }
  return snapshot;
}

class CaptureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create network namespaces";
    const std::string& backend = GetParam();
    const std::string program = backend == "nft" ? "nft" : absl::StrCat(backend, "-restore");
    if (FindProgram(program).empty()) GTEST_SKIP() << program << " is not installed";
    absl::StatusOr<NetNs> pod = NetNs::Create("remora-init-t");
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_.emplace(std::move(*pod));
    absl::StatusOr<NetNs> peer = NetNs::Create("remora-init-t");
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_.emplace(std::move(*peer));
    absl::StatusOr<VethPair> veth = VethPair::Create(
        {&*pod_, "eth0", {absl::StrCat(kPodIp, "/24"), absl::StrCat(kPodIp6, "/64")}},
        {&*peer_,
         "eth0",
         {absl::StrCat(kPeerIp, "/24"), absl::StrCat(kPeerIp2, "/24"),
          absl::StrCat(kPeerIp6, "/64")}});
    ASSERT_TRUE(veth.ok()) << veth.status();
    veth_.emplace(std::move(*veth));
    // The kernel must support the backend; asked in the peer, whose rules no test looks at.
    const std::vector<std::string> probe =
        backend == "nft" ? std::vector<std::string>{"nft", "list", "tables"}
                         : std::vector<std::string>{backend, "-t", "nat", "-S"};
    absl::StatusOr<CommandResult> works = peer_->Run(probe);
    if (!works.ok() || !works->ok()) {
      GTEST_SKIP() << "this kernel does not support " << backend << ": "
                   << (works.ok() ? works->err : std::string(works.status().message()));
    }
  }

  // Runs remora-init in the pod with this test's backend.
  CommandResult Init(std::vector<std::string> flags) {
    std::vector<std::string> argv{RemoraInitPath(), absl::StrCat("--backend=", GetParam())};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<CommandResult> r = pod_->Run(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, "", std::string(r.status().message())};
  }

  // Installs the rules; the test fails (and stops) when remora-init does not succeed.
  void Install(std::vector<std::string> flags = {}) {
    CommandResult r = Init(std::move(flags));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  ScopedFd Listen(const NetNs& ns, const std::string& endpoint) {
    absl::StatusOr<ScopedFd> fd = ListenTcp(ns, endpoint);
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? std::move(*fd) : ScopedFd();
  }

  // Connects from the pod (as `who`) and returns the client socket.
  ScopedFd Connect(const std::string& endpoint, std::optional<Credentials> who = std::nullopt) {
    absl::StatusOr<ScopedFd> fd = ConnectTcp(*pod_, endpoint, who);
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? std::move(*fd) : ScopedFd();
  }

  ScopedFd ConnectFromPeer(const std::string& endpoint) {
    absl::StatusOr<ScopedFd> fd = ConnectTcp(*peer_, endpoint);
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? std::move(*fd) : ScopedFd();
  }

  // The connection arrived on `listener`; returns its original destination ("" if none).
  std::string ArrivedAt(const ScopedFd& listener, absl::string_view what) {
    absl::StatusOr<ScopedFd> conn = AcceptTcp(listener, absl::Seconds(5));
    EXPECT_TRUE(conn.ok()) << what << ": " << conn.status();
    if (!conn.ok()) return "";
    absl::StatusOr<std::string> original = testing::OriginalDestination(*conn);
    EXPECT_TRUE(original.ok()) << what << ": " << original.status();
    return original.ok() ? *original : "";
  }

  void NothingAt(const ScopedFd& listener, absl::string_view what) {
    absl::StatusOr<ScopedFd> conn = AcceptTcp(listener, kNone);
    EXPECT_TRUE(absl::IsDeadlineExceeded(conn.status())) << what << ": a connection arrived";
  }

  std::optional<NetNs> pod_;
  std::optional<NetNs> peer_;
  std::optional<VethPair> veth_;
};

TEST_P(CaptureTest, OutboundConnectionIsRedirectedWithItsOriginalDestination) {
  Install();
  ScopedFd capture = Listen(*pod_, "127.0.0.1:15001");
  ScopedFd server = Listen(*peer_, "0.0.0.0:9000");
  ScopedFd client = Connect(Endpoint(kPeerIp, 9000), kApp);
  EXPECT_EQ(ArrivedAt(capture, "app -> peer:9000"), Endpoint(kPeerIp, 9000));
  NothingAt(server, "peer listener");
  // Root is an app like any other: only the proxy's IDs are exempt.
  ScopedFd root_client = Connect(Endpoint(kPeerIp, 9000));
  EXPECT_EQ(ArrivedAt(capture, "root app -> peer:9000"), Endpoint(kPeerIp, 9000));
}

TEST_P(CaptureTest, ProxyUidOrGidIsNotRedirected) {
  Install();
  ScopedFd capture = Listen(*pod_, "127.0.0.1:15001");
  ScopedFd server = Listen(*peer_, "0.0.0.0:9000");
  for (Credentials who : {kProxy, Credentials{1337, 2000}, Credentials{2000, 1337}}) {
    const std::string what = absl::StrCat("uid ", who.uid, " gid ", who.gid);
    ScopedFd client = Connect(Endpoint(kPeerIp, 9000), who);
    absl::StatusOr<ScopedFd> direct = AcceptTcp(server);
    EXPECT_TRUE(direct.ok()) << what << " did not reach the peer: " << direct.status();
    NothingAt(capture, what);
  }
}

TEST_P(CaptureTest, InboundConnectionIsRedirectedExceptExcludedAndProxyPorts) {
  Install({"--exclude-inbound-ports=15020,15021,15090,9999"});
  ScopedFd capture = Listen(*pod_, "0.0.0.0:15006");
  ScopedFd app = Listen(*pod_, "0.0.0.0:8080");
  ScopedFd excluded = Listen(*pod_, "0.0.0.0:9999");
  ScopedFd readiness = Listen(*pod_, "0.0.0.0:15021");

  ScopedFd c1 = ConnectFromPeer(Endpoint(kPodIp, 8080));
  EXPECT_EQ(ArrivedAt(capture, "peer -> pod:8080"), Endpoint(kPodIp, 8080));
  NothingAt(app, "app listener");

  ScopedFd c2 = ConnectFromPeer(Endpoint(kPodIp, 9999));
  EXPECT_TRUE(AcceptTcp(excluded).ok()) << "excluded port 9999 was captured";
  ScopedFd c3 = ConnectFromPeer(Endpoint(kPodIp, 15021));
  EXPECT_TRUE(AcceptTcp(readiness).ok()) << "readiness port 15021 was captured";
  NothingAt(capture, "capture listener");
}

TEST_P(CaptureTest, InboundPortListCapturesOnlyThosePorts) {
  Install({"--inbound-ports=8080"});
  ScopedFd capture = Listen(*pod_, "0.0.0.0:15006");
  ScopedFd other = Listen(*pod_, "0.0.0.0:9090");
  ScopedFd c1 = ConnectFromPeer(Endpoint(kPodIp, 8080));
  EXPECT_EQ(ArrivedAt(capture, "peer -> pod:8080"), Endpoint(kPodIp, 8080));
  ScopedFd c2 = ConnectFromPeer(Endpoint(kPodIp, 9090));
  EXPECT_TRUE(AcceptTcp(other).ok()) << "port 9090 is not listed but was captured";
  NothingAt(capture, "capture listener");
}

TEST_P(CaptureTest, LoopbackTrafficIsNotCapturedButProxySelfCallTakesTheInboundPath) {
  Install();
  ScopedFd outbound = Listen(*pod_, "127.0.0.1:15001");
  ScopedFd inbound = Listen(*pod_, "0.0.0.0:15006");
  ScopedFd app = Listen(*pod_, "0.0.0.0:8080");
  ScopedFd readiness = Listen(*pod_, "0.0.0.0:15021");

  // The app talking to itself, by localhost or by its own pod IP (routed over lo).
  for (std::string target : {Endpoint("127.0.0.1", 8080), Endpoint(kPodIp, 8080)}) {
    ScopedFd c = Connect(target, kApp);
    EXPECT_TRUE(AcceptTcp(app).ok()) << "app -> " << target << " did not reach the app";
  }
  // The proxy forwarding inbound traffic to the app on localhost.
  ScopedFd c1 = Connect(Endpoint("127.0.0.1", 8080), kProxy);
  EXPECT_TRUE(AcceptTcp(app).ok()) << "proxy -> 127.0.0.1:8080 did not reach the app";
  NothingAt(outbound, "outbound capture");
  NothingAt(inbound, "inbound capture");

  // The proxy calling its own pod IP goes through the inbound capture (as istio-iptables does),
  // but not for the proxy's own ports.
  ScopedFd c2 = Connect(Endpoint(kPodIp, 8080), kProxy);
  EXPECT_EQ(ArrivedAt(inbound, "proxy -> pod:8080"), Endpoint(kPodIp, 8080));
  ScopedFd c3 = Connect(Endpoint(kPodIp, 15021), kProxy);
  EXPECT_TRUE(AcceptTcp(readiness).ok()) << "proxy -> pod:15021 was captured";
  NothingAt(outbound, "outbound capture");
}

TEST_P(CaptureTest, OutboundExclusionsWinAndSelectionsRestrict) {
  ScopedFd capture = Listen(*pod_, "127.0.0.1:15001");
  ScopedFd s9000 = Listen(*peer_, "0.0.0.0:9000");
  ScopedFd s9001 = Listen(*peer_, "0.0.0.0:9001");
  ScopedFd s9002 = Listen(*peer_, "0.0.0.0:9002");

  Install({"--exclude-outbound-ports=9001", absl::StrCat("--exclude-outbound-cidrs=", kPeerIp2)});
  {
    ScopedFd c = Connect(Endpoint(kPeerIp, 9000), kApp);
    EXPECT_EQ(ArrivedAt(capture, "to peer:9000"), Endpoint(kPeerIp, 9000));
  }
  {
    ScopedFd c = Connect(Endpoint(kPeerIp, 9001), kApp);
    EXPECT_TRUE(AcceptTcp(s9001).ok()) << "excluded port 9001 was captured";
  }
  {
    ScopedFd c = Connect(Endpoint(kPeerIp2, 9000), kApp);
    EXPECT_TRUE(AcceptTcp(s9000).ok()) << "excluded network was captured";
  }
  NothingAt(capture, "capture after exclusions");

  // Now only port 9000 of the second address is captured.
  Install({absl::StrCat("--outbound-cidrs=", kPeerIp2, "/32"), "--outbound-ports=9000"});
  {
    ScopedFd c = Connect(Endpoint(kPeerIp2, 9000), kApp);
    EXPECT_EQ(ArrivedAt(capture, "to peer2:9000"), Endpoint(kPeerIp2, 9000));
  }
  {
    ScopedFd c = Connect(Endpoint(kPeerIp, 9000), kApp);
    EXPECT_TRUE(AcceptTcp(s9000).ok()) << "unselected network was captured";
  }
  {
    ScopedFd c = Connect(Endpoint(kPeerIp2, 9002), kApp);
    EXPECT_TRUE(AcceptTcp(s9002).ok()) << "unselected port was captured";
  }
  NothingAt(capture, "capture after selections");
}

TEST_P(CaptureTest, Ipv6IsCapturedWhenThePodHasIpv6) {
  Install();  // --ipv6=auto: the pod's eth0 has a ULA address
  ScopedFd outbound = Listen(*pod_, "[::1]:15001");
  ScopedFd inbound = Listen(*pod_, "[::]:15006");
  ScopedFd server = Listen(*peer_, "[::]:9000");
  ScopedFd c1 = Connect(Endpoint(kPeerIp6, 9000), kApp);
  EXPECT_EQ(ArrivedAt(outbound, "app -> [peer]:9000"), Endpoint(kPeerIp6, 9000));
  ScopedFd c2 = ConnectFromPeer(Endpoint(kPodIp6, 8080));
  EXPECT_EQ(ArrivedAt(inbound, "peer -> [pod]:8080"), Endpoint(kPodIp6, 8080));
  ScopedFd c3 = Connect(Endpoint(kPeerIp6, 9000), kProxy);
  EXPECT_TRUE(AcceptTcp(server).ok()) << "the proxy's IPv6 connection was captured";
}

TEST_P(CaptureTest, Ipv6OffLeavesIpv6TrafficAlone) {
  Install({"--ipv6=off"});
  ScopedFd outbound = Listen(*pod_, "[::1]:15001");
  ScopedFd server = Listen(*peer_, "[::]:9000");
  ScopedFd capture4 = Listen(*pod_, "127.0.0.1:15001");
  ScopedFd c1 = Connect(Endpoint(kPeerIp6, 9000), kApp);
  EXPECT_TRUE(AcceptTcp(server).ok()) << "IPv6 was captured with --ipv6=off";
  NothingAt(outbound, "IPv6 outbound capture");
  ScopedFd c2 = Connect(Endpoint(kPeerIp, 9000), kApp);
  EXPECT_EQ(ArrivedAt(capture4, "IPv4 still captured"), Endpoint(kPeerIp, 9000));
}

// 15020 is no port of Remora's (Istio's agent listens there; Remora's proxy does not): an app
// listening on it is captured like any other, not reachable around the mesh (issue 16, item 16).
TEST_P(CaptureTest, Port15020IsCapturedLikeAnyAppPort) {
  Install();
  ScopedFd capture = Listen(*pod_, "0.0.0.0:15006");
  ScopedFd app = Listen(*pod_, "0.0.0.0:15020");
  ScopedFd c = ConnectFromPeer(Endpoint(kPodIp, 15020));
  EXPECT_EQ(ArrivedAt(capture, "peer -> pod:15020"), Endpoint(kPodIp, 15020));
  NothingAt(app, "app listening on 15020");
}

// The proxy forwards inbound connections to the pod's own address (not 127.0.0.1, where a
// loopback-only debug listener of the app would be exposed), binding Istio's inbound passthrough
// source 127.0.0.6 / ::6: those connections leave through lo and must reach the app, not the
// inbound capture again (istio-iptables: `-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN`).
TEST_P(CaptureTest, InboundPassthroughFromTheProxyReachesTheAppNotTheCaptureAgain) {
  Install();
  ScopedFd inbound = Listen(*pod_, "[::]:15006");
  ScopedFd inbound4 = Listen(*pod_, "0.0.0.0:15006");
  ScopedFd app = Listen(*pod_, "0.0.0.0:8080");
  ScopedFd app6 = Listen(*pod_, "[::]:8080");
  {
    absl::StatusOr<ScopedFd> c =
        ConnectTcpFrom(*pod_, kPassthroughSource, Endpoint(kPodIp, 8080), kProxy);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(AcceptTcp(app).ok()) << "proxy from 127.0.0.6 -> pod:8080 did not reach the app";
  }
  {
    absl::StatusOr<ScopedFd> c =
        ConnectTcpFrom(*pod_, kPassthroughSource6, Endpoint(kPodIp6, 8080), kProxy);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(AcceptTcp(app6).ok()) << "proxy from ::6 -> [pod]:8080 did not reach the app";
  }
  NothingAt(inbound, "IPv6 inbound capture");
  NothingAt(inbound4, "IPv4 inbound capture");
  // Any other connection of the proxy to its own pod address still takes the inbound path.
  ScopedFd self = Connect(Endpoint(kPodIp, 8080), kProxy);
  EXPECT_EQ(ArrivedAt(inbound4, "proxy -> pod:8080"), Endpoint(kPodIp, 8080));
}

TEST_P(CaptureTest, RunningAgainGivesExactlyTheSameRules) {
  Install();
  const std::string first = RulesetSnapshot(*pod_);
  Install();
  EXPECT_EQ(RulesetSnapshot(*pod_), first);
  // A different configuration replaces the rules; the first one again restores them exactly.
  Install({"--inbound-ports=8080", "--exclude-outbound-cidrs=10.0.0.0/8", "--ipv6=off"});
  EXPECT_NE(RulesetSnapshot(*pod_), first);
  Install();
  EXPECT_EQ(RulesetSnapshot(*pod_), first);
}

TEST_P(CaptureTest, CleanupRestoresTheRulesetExactly) {
  // Unrelated rules that were there first: an nftables table, and iptables rules of the variant
  // under test (nf_tables when the backend is nft) in nat and filter, both families.
  const std::string variant = GetParam() == "iptables-legacy" ? "legacy" : "nft";
  ASSERT_TRUE(pod_->RunOk({"nft", "-f", "-"},
                          "table inet unrelated {\n"
                          "  chain out {\n"
                          "    type filter hook output priority 0; policy accept;\n"
                          "    tcp dport 5 accept\n"
                          "  }\n"
                          "}\n")
                  .ok());
  for (std::vector<std::string> rule :
       {std::vector<std::string>{"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j",
                                 "MASQUERADE"},
        {"iptables", "-t", "nat", "-A", "OUTPUT", "-d", "198.51.100.0/24", "-j", "RETURN"},
        {"iptables", "-t", "filter", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"},
        {"ip6tables", "-t", "nat", "-A", "OUTPUT", "-d", "2001:db8::/32", "-j", "RETURN"}}) {
    rule[0] = absl::StrCat(rule[0], "-", variant);
    absl::Status s = pod_->RunOk(rule);
    ASSERT_TRUE(s.ok()) << s;
  }
  const std::string before = RulesetSnapshot(*pod_);
  Install();
  ASSERT_NE(RulesetSnapshot(*pod_), before);
  CommandResult r = Init({"--cleanup"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(RulesetSnapshot(*pod_), before);
}

TEST_P(CaptureTest, CleanupOfAFreshNamespaceLeavesItAsItWas) {
  const std::string before = RulesetSnapshot(*pod_);
  Install();
  CommandResult r = Init({"--cleanup"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string after = RulesetSnapshot(*pod_);
  if (GetParam() == "iptables-legacy") {
    ASSERT_THAT(after, HasSubstr("== iptables-legacy-save\n*nat\n"));
    after = WithoutEmptyLegacyNat(after);
  }
  EXPECT_EQ(after, before);
}

TEST_P(CaptureTest, CleanupWithNothingInstalledChangesNothing) {
  const std::string before = RulesetSnapshot(*pod_);
  CommandResult r = Init({"--cleanup"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nothing to remove"));
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(RulesetSnapshot(*pod_), before);
}

TEST_P(CaptureTest, DryRunPrintsExactlyWhatARunAppliesAndChangesNothing) {
  const std::string before = RulesetSnapshot(*pod_);
  CommandResult dry = Init({"--dry-run", "--inbound-ports=8080,9090"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.err, HasSubstr("nothing was changed"));
  EXPECT_EQ(RulesetSnapshot(*pod_), before);
  CommandResult run = Init({"--inbound-ports=8080,9090"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, dry.out);
  EXPECT_THAT(dry.out, HasSubstr(GetParam() == "nft" ? "redirect to :15006" : "--to-ports 15006"));

  // The same for --cleanup: the dry run names the removal, and nothing is removed.
  const std::string installed = RulesetSnapshot(*pod_);
  CommandResult dry_cleanup = Init({"--cleanup", "--dry-run"});
  ASSERT_EQ(dry_cleanup.exit_code, 0) << dry_cleanup.err;
  EXPECT_EQ(RulesetSnapshot(*pod_), installed);
  CommandResult cleanup = Init({"--cleanup"});
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.err;
  EXPECT_EQ(cleanup.out, dry_cleanup.out);
}

TEST_P(CaptureTest, BadFlagsAreRefusedBeforeAnythingChanges) {
  Install();
  const std::string installed = RulesetSnapshot(*pod_);
  for (auto [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {"--inbound-ports=70000", "\"70000\" is not a port"},
           {"--exclude-outbound-cidrs=10.0.0.0/33", "is not a CIDR"},
           {"--exclude-inbound-ports=15006", "is a capture port"},
           {"--ipv6=maybe", "is not auto, on or off"},
           {"--no-such-flag", "unknown flag"}}) {
    CommandResult r = Init({flag});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_THAT(r.err, HasSubstr(message)) << flag;
    EXPECT_EQ(r.out, "") << flag;
  }
  EXPECT_EQ(RulesetSnapshot(*pod_), installed);
}

TEST_P(CaptureTest, FailureNamesTheCommandAndItsError) {
  // Root without CAP_NET_ADMIN: the rules cannot be changed.
  const std::string before = RulesetSnapshot(*pod_);
  std::vector<std::string> argv{"setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin",
                                RemoraInitPath(), absl::StrCat("--backend=", GetParam())};
  absl::StatusOr<CommandResult> r = pod_->Run(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 1) << r->err;
  // nft and iptables-nft cannot even read the rules; iptables-legacy reads (nothing) and fails
  // to write.
  const std::map<std::string, std::vector<std::string>> expected{
      {"nft", {"`nft list tables` failed (exit 1): ", "Operation not permitted"}},
      {"iptables-nft", {"`iptables-nft-save` failed (exit ", "ermission denied"}},
      {"iptables-legacy",
       {"cannot install the IPv4 capture rules (iptables-legacy): ",
        "`iptables-legacy-restore --noflush --wait=10` failed (exit 2): ",
        "unable to initialize table 'nat'"}}};
  for (const std::string& fragment : expected.at(GetParam())) {
    EXPECT_THAT(r->err, HasSubstr(fragment));
  }
  EXPECT_THAT(r->err, HasSubstr("lacks CAP_NET_ADMIN"));
  EXPECT_EQ(RulesetSnapshot(*pod_), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, CaptureTest,
                         ::testing::Values("nft", "iptables-nft", "iptables-legacy"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// A pod whose IPv6 stack is up with nothing but link-local addresses (before SLAAC or DHCPv6 gave
// it more, or on a network that never will): IPv6 reaches it all the same, so with --ipv6=auto it
// must be captured, never left open (issue 16, item 2).
class LinkLocalIpv6Test : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create network namespaces";
    const std::string& backend = GetParam();
    const std::string program = backend == "nft" ? "nft" : absl::StrCat(backend, "-restore");
    if (FindProgram(program).empty()) GTEST_SKIP() << program << " is not installed";
    absl::StatusOr<NetNs> pod = NetNs::Create("remora-init-t");
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_.emplace(std::move(*pod));
    absl::StatusOr<NetNs> peer = NetNs::Create("remora-init-t");
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_.emplace(std::move(*peer));
    VethPair::End pod_end{&*pod_, "eth0", {absl::StrCat(kPodIp, "/24"), "fe80::2/64"}};
    VethPair::End peer_end{&*peer_, "eth0", {absl::StrCat(kPeerIp, "/24"), "fe80::1/64"}};
    pod_end.only_listed_ipv6 = true;
    peer_end.only_listed_ipv6 = true;
    absl::StatusOr<VethPair> veth = VethPair::Create(pod_end, peer_end);
    ASSERT_TRUE(veth.ok()) << veth.status();
    veth_.emplace(std::move(*veth));
    absl::StatusOr<CommandResult> global =
        pod_->Run({"ip", "-6", "addr", "show", "scope", "global"});
    ASSERT_TRUE(global.ok() && global->ok());
    ASSERT_EQ(global->out, "") << "the pod must have no global IPv6 address";
  }

  std::optional<NetNs> pod_;
  std::optional<NetNs> peer_;
  std::optional<VethPair> veth_;
};

TEST_P(LinkLocalIpv6Test, Ipv6IsCapturedWhenThePodHasOnlyALinkLocalAddress) {
  absl::StatusOr<CommandResult> r =
      pod_->Run({RemoraInitPath(), absl::StrCat("--backend=", GetParam())});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_THAT(r->err, HasSubstr("IPv4 and IPv6"));

  absl::StatusOr<ScopedFd> inbound = ListenTcp(*pod_, "[::]:15006");
  absl::StatusOr<ScopedFd> app = ListenTcp(*pod_, "[::]:8080");  // the app, on every address
  absl::StatusOr<ScopedFd> server = ListenTcp(*peer_, "[::]:9000");
  ASSERT_TRUE(inbound.ok() && app.ok() && server.ok());

  // Inbound over IPv6 lands on the proxy, not on the app.
  absl::StatusOr<ScopedFd> in = ConnectTcp(*peer_, "[fe80::2%eth0]:8080");
  ASSERT_TRUE(in.ok()) << in.status();
  absl::StatusOr<ScopedFd> at_proxy = AcceptTcp(*inbound);
  ASSERT_TRUE(at_proxy.ok()) << "peer -> [fe80::2]:8080 was not captured: " << at_proxy.status();
  EXPECT_EQ(testing::OriginalDestination(*at_proxy).value_or(""), "[fe80::2]:8080");
  EXPECT_TRUE(absl::IsDeadlineExceeded(AcceptTcp(*app, kNone).status()))
      << "the app was reached over IPv6 around the proxy";

  // The app's outbound IPv6 is captured too. A link-local destination ties the app's socket to
  // eth0, so once redirected to [::1]:15001 its handshake cannot complete: the call fails closed,
  // and never reaches the peer around the proxy.
  (void)ConnectTcp(*pod_, "[fe80::1%eth0]:9000", kApp, absl::Seconds(1));
  EXPECT_TRUE(absl::IsDeadlineExceeded(AcceptTcp(*server, kNone).status()))
      << "the app reached the peer over IPv6 around the proxy";
}

INSTANTIATE_TEST_SUITE_P(Backends, LinkLocalIpv6Test,
                         ::testing::Values("nft", "iptables-nft", "iptables-legacy"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Backend auto: nft where it works; --cleanup removes rules of every backend.
class AutoBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create network namespaces";
    absl::StatusOr<NetNs> pod = NetNs::Create("remora-init-t");
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_.emplace(std::move(*pod));
  }
  CommandResult Init(std::vector<std::string> flags) {
    std::vector<std::string> argv{RemoraInitPath()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<CommandResult> r = pod_->Run(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, "", std::string(r.status().message())};
  }
  std::optional<NetNs> pod_;
};

TEST_F(AutoBackendTest, PrefersNftAndCleanupRemovesEveryBackendsRules) {
  const std::string before = RulesetSnapshot(*pod_);
  CommandResult r = Init({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nft (table inet remora)"));
  ASSERT_TRUE(pod_->RunOk({"nft", "list", "table", "inet", "remora"}).ok());
  for (const char* backend : {"--backend=iptables-nft", "--backend=iptables-legacy"}) {
    CommandResult other = Init({backend});
    ASSERT_EQ(other.exit_code, 0) << other.err;
  }
  CommandResult cleanup = Init({"--cleanup"});
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.err;
  EXPECT_EQ(WithoutEmptyLegacyNat(RulesetSnapshot(*pod_)), before);
}

TEST_F(AutoBackendTest, SwitchingBackendsLeavesOnlyTheNewBackendsRules) {
  ASSERT_EQ(Init({}).exit_code, 0);
  ASSERT_TRUE(pod_->RunOk({"nft", "list", "table", "inet", "remora"}).ok());
  CommandResult legacy = Init({"--backend=iptables-legacy"});
  ASSERT_EQ(legacy.exit_code, 0) << legacy.err;
  EXPECT_FALSE(pod_->RunOk({"nft", "list", "table", "inet", "remora"}).ok());
  absl::StatusOr<CommandResult> save = pod_->Run({"iptables-legacy-save"});
  ASSERT_TRUE(save.ok() && save->ok());
  EXPECT_THAT(save->out, HasSubstr("-A OUTPUT -p tcp -j REMORA_OUTPUT"));

  CommandResult back = Init({"--backend=auto"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  save = pod_->Run({"iptables-legacy-save"});
  ASSERT_TRUE(save.ok() && save->ok());
  EXPECT_THAT(save->out, Not(HasSubstr("REMORA")));
  EXPECT_TRUE(pod_->RunOk({"nft", "list", "table", "inet", "remora"}).ok());
}

}  // namespace
}  // namespace remora::iptables_init
