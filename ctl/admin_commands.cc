// remoractl token and ca: bootstrap credentials and root rotation.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "ctl/config_commands.h"
#include "ctl/control_client.h"

namespace remora::ctl {
namespace {

constexpr char kTokenUsage[] =
    "remoractl token create: mint a bootstrap token that lets a workload obtain its first\n"
    "certificate for exactly one namespace and service account. The certificate is bound to\n"
    "the workload named: the control plane serves it that workload's configuration only.\n"
    "\n"
    "usage: remoractl token create --namespace=NS --service-account=SA --workload=NAME\n"
    "                              [--ttl=1h] [--out=FILE]";

constexpr char kCaUsage[] =
    "remoractl ca: the mesh CA's roots and their rotation without downtime.\n"
    "\n"
    "usage: remoractl ca status\n"
    "       remoractl ca rotate [--step=next|add|switch|retire]\n"
    "\n"
    "A rotation has three steps, each run when the previous one has reached every proxy:\n"
    "  add     a new root joins every trust bundle (the old root still signs)\n"
    "  switch  the new root signs; proxies renew onto it at their next rotation\n"
    "  retire  the old root leaves the bundles\n"
    "--step=next (the default) runs whichever comes next.";

int Token(int argc, const char* const* argv) {
  std::string ns, sa, workload, out;
  absl::Duration ttl = absl::Hours(1);
  ConnectionFlags connection;
  FlagSet flags("remoractl token", kTokenUsage);
  flags.String("namespace", &ns, "the workload's namespace");
  flags.String("service-account", &sa, "the workload's service account");
  flags.String("workload", &workload, "the workload's name (its Workload or pod name)");
  flags.Duration("ttl", &ttl, "how long the token is valid");
  flags.String("out", &out, "write the token to this file (mode 0600) instead of printing it");
  AddConnectionFlags(flags, &connection);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (args.size() != 1 || args[0] != "create")
    return Fail(kExitUsage, "usage: remoractl token create ...");
  if (ns.empty() || sa.empty() || workload.empty())
    return Fail(kExitUsage, "--namespace, --service-account and --workload are required");
  absl::StatusOr<OperatorClient> client = OperatorClient::Connect(connection);
  if (!client.ok()) return Fail(kExitFailure, std::string(client.status().message()));
  remora::v1::CreateTokenRequest request;
  request.set_namespace_(ns);
  request.set_service_account(sa);
  request.set_workload(workload);
  request.set_ttl_seconds(static_cast<uint32_t>(absl::ToInt64Seconds(ttl)));
  remora::v1::CreateTokenResponse response;
  auto context = client->Context(connection.timeout);
  grpc::Status status = client->stub().CreateToken(context.get(), request, &response);
  if (!status.ok())
    return Fail(kExitFailure, DescribeRpcError("token create", status, client->server()));
  if (out.empty()) {
    std::cout << response.token() << "\n";
  } else {
    if (absl::Status s = WriteFileAtomic(out, response.token() + "\n", 0600); !s.ok()) {
      return Fail(kExitFailure, std::string(s.message()));
    }
    std::cerr << "token for " << ns << "/" << sa << " written to " << out << " (expires "
              << response.expires() << ")\n";
  }
  return kExitOk;
}

int Ca(int argc, const char* const* argv) {
  std::string step = "next";
  bool wait = false;
  absl::Duration timeout = absl::Seconds(30);
  ConnectionFlags connection;
  FlagSet flags("remoractl ca", kCaUsage);
  flags.String("step", &step, "next, add, switch or retire");
  flags.Bool("wait", &wait, "wait until every proxy acknowledged the new trust bundle");
  flags.Duration("timeout", &timeout, "how long --wait waits");
  AddConnectionFlags(flags, &connection);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (args.size() != 1 || (args[0] != "status" && args[0] != "rotate")) {
    return Fail(kExitUsage, "usage: remoractl ca status | remoractl ca rotate [--step=...]");
  }
  absl::StatusOr<OperatorClient> client = OperatorClient::Connect(connection);
  if (!client.ok()) return Fail(kExitFailure, std::string(client.status().message()));
  remora::v1::RotateCaRequest request;
  request.set_step(args[0] == "status" ? "status" : step);
  remora::v1::RotateCaResponse response;
  auto context = client->Context(connection.timeout);
  grpc::Status status = client->stub().RotateCa(context.get(), request, &response);
  if (!status.ok())
    return Fail(kExitFailure, DescribeRpcError("ca " + args[0], status, client->server()));
  if (args[0] == "rotate") std::cout << response.message() << "\n";
  std::cout << "phase: " << response.phase() << "\n";
  std::cout << absl::StrFormat("%-18s %-22s %-8s %s\n", "ROOT", "EXPIRES", "SIGNING", "IN BUNDLE");
  for (const auto& r : response.roots()) {
    std::cout << absl::StrFormat("%-18s %-22s %-8s %s\n", r.fingerprint(), r.not_after(),
                                 r.signing() ? "yes" : "no", r.in_bundle() ? "yes" : "no");
  }
  if (wait && args[0] == "rotate") return WaitForVersion(*client, response.version(), timeout);
  return kExitOk;
}

}  // namespace

Command TokenCommand() { return {"token", "mint a bootstrap token for a workload", Token}; }
Command CaCommand() { return {"ca", "show the CA's roots; rotate them without downtime", Ca}; }

}  // namespace remora::ctl
