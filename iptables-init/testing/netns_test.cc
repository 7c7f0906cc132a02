#include "iptables-init/testing/netns.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iptables-init/testing/sockets.h"

namespace remora::iptables_init::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool NetnsExists(const std::string& name) {
  absl::StatusOr<CommandResult> list = Run({"ip", "netns", "list"});
  return list.ok() && absl::StrContains(absl::StrCat("\n", list->out), absl::StrCat("\n", name));
}

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root to create network namespaces";
  }
};

TEST_F(NetnsTest, CreatesNamespaceWithLoopbackUpAndDeletesIt) {
  std::string name;
  {
    absl::StatusOr<NetNs> ns = NetNs::Create("remora-nstest");
    ASSERT_TRUE(ns.ok()) << ns.status();
    name = ns->name();
    EXPECT_TRUE(NetnsExists(name));
    absl::StatusOr<CommandResult> lo = ns->Run({"ip", "-o", "link", "show", "lo"});
    ASSERT_TRUE(lo.ok() && lo->ok());
    EXPECT_THAT(lo->out, HasSubstr("UP"));
  }
  EXPECT_FALSE(NetnsExists(name));
}

TEST_F(NetnsTest, KillsProcessesLeftInside) {
  absl::StatusOr<NetNs> created = NetNs::Create("remora-nstest");
  ASSERT_TRUE(created.ok()) << created.status();
  std::optional<NetNs> ns(std::move(*created));
  const std::string name = ns->name();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execlp("ip", "ip", "netns", "exec", name.c_str(), "sleep", "1000", nullptr);
    ::_exit(127);
  }
  // Wait until the sleeper is inside the namespace.
  bool inside = false;
  for (int i = 0; i < 500 && !inside; ++i) {
    absl::StatusOr<CommandResult> pids = testing::Run({"ip", "netns", "pids", name});
    inside = pids.ok() && absl::StrContains(pids->out, absl::StrCat(child));
    if (!inside) ::usleep(10000);
  }
  EXPECT_TRUE(inside);
  ns.reset();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_FALSE(NetnsExists(name));
}

TEST_F(NetnsTest, SweepsNamespacesOfDeadTestProcesses) {
  const pid_t dead = ::fork();
  ASSERT_GE(dead, 0);
  if (dead == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  const std::string stale = absl::StrCat("remora-sweep-", dead, "-0");
  ASSERT_TRUE(RunOk({"ip", "netns", "add", stale}).ok());
  absl::StatusOr<NetNs> ns = NetNs::Create("remora-sweep");
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_FALSE(NetnsExists(stale));
  (void)testing::Run({"ip", "netns", "del", stale});  // in case the assertion above failed
}

TEST_F(NetnsTest, VethPairCarriesTcpBothFamiliesAndIsDeleted) {
  absl::StatusOr<NetNs> a = NetNs::Create("remora-nstest");
  absl::StatusOr<NetNs> b = NetNs::Create("remora-nstest");
  ASSERT_TRUE(a.ok() && b.ok());
  {
    absl::StatusOr<VethPair> veth =
        VethPair::Create({&*a, "eth0", {"192.0.2.1/24", "fd00:72::1/64"}},
                         {&*b, "eth0", {"192.0.2.2/24", "fd00:72::2/64"}});
    ASSERT_TRUE(veth.ok()) << veth.status();
    for (auto [listen, dial] : {std::pair{"0.0.0.0:7000", "192.0.2.2:7000"},
                                std::pair{"[::]:7000", "[fd00:72::2]:7000"}}) {
      absl::StatusOr<ScopedFd> listener = ListenTcp(*b, listen);
      ASSERT_TRUE(listener.ok()) << listener.status();
      absl::StatusOr<ScopedFd> client = ConnectTcp(*a, dial);
      ASSERT_TRUE(client.ok()) << client.status();
      absl::StatusOr<ScopedFd> server = AcceptTcp(*listener);
      ASSERT_TRUE(server.ok()) << server.status();
      EXPECT_EQ(*LocalAddress(*server), dial);
    }
  }
  absl::StatusOr<CommandResult> link = a->Run({"ip", "link", "show", "eth0"});
  ASSERT_TRUE(link.ok());
  EXPECT_FALSE(link->ok()) << "veth still there after its scope: " << link->out;
}

TEST_F(NetnsTest, ConnectsAsTheGivenUserAndGroup) {
  absl::StatusOr<NetNs> ns = NetNs::Create("remora-nstest");
  ASSERT_TRUE(ns.ok());
  absl::StatusOr<ScopedFd> listener = ListenTcp(*ns, "127.0.0.1:7001");
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<ScopedFd> client = ConnectTcp(*ns, "127.0.0.1:7001", Credentials{4242, 4343});
  ASSERT_TRUE(client.ok()) << client.status();
  // ss reports the owner UID of each socket; the client's is the UID it was made with.
  absl::StatusOr<CommandResult> ss = ns->Run({"ss", "-tne", "state", "established"});
  ASSERT_TRUE(ss.ok() && ss->ok());
  EXPECT_THAT(ss->out, HasSubstr("uid:4242"));
}

TEST_F(NetnsTest, ReportsRefusedConnections) {
  absl::StatusOr<NetNs> ns = NetNs::Create("remora-nstest");
  ASSERT_TRUE(ns.ok());
  absl::StatusOr<ScopedFd> client = ConnectTcp(*ns, "127.0.0.1:7002");
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status().message(), HasSubstr("Connection refused"));
  EXPECT_THAT(client.status().message(), HasSubstr(ns->name()));
}

}  // namespace
}  // namespace remora::iptables_init::testing
