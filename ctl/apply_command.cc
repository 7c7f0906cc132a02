// remoractl apply / delete: send documents to remora-control in one atomic change, and with
// --wait report when every affected proxy enforces it.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "ctl/config_commands.h"
#include "ctl/control_client.h"

namespace remora::ctl {
namespace {

constexpr char kApplyUsage[] =
    "remoractl apply: create or update configuration in remora-control, atomically: every\n"
    "document is validated first and nothing is applied if one is invalid.\n"
    "\n"
    "usage: remoractl apply -f FILE|DIR|- [-f ...] [--wait] [--timeout=30s]\n"
    "\n"
    "Kinds: security.istio.io/v1 AuthorizationPolicy and PeerAuthentication,\n"
    "networking.k8s.io/v1 NetworkPolicy, remora.io/v1 Workload and Service, v1 Namespace.\n"
    "--wait returns once every affected proxy has acknowledged the change (or refused it), and\n"
    "says so: \"version 17 active on 12/12 affected proxies (slowest 180 ms)\".";

constexpr char kDeleteUsage[] =
    "remoractl delete: remove the objects the documents name (kind, namespace, name).\n"
    "\n"
    "usage: remoractl delete -f FILE|DIR|- [-f ...] [--wait] [--timeout=30s]";

}  // namespace

absl::StatusOr<std::string> ReadInputs(const std::vector<std::string>& inputs, std::string* names) {
  std::string all;
  auto add = [&](const std::string& name, const std::string& text) {
    if (!all.empty()) all += "\n---\n";
    all += text;
    *names += (names->empty() ? "" : ", ") + name;
  };
  for (const std::string& input : inputs) {
    if (input == "-") {
      add("stdin", std::string(std::istreambuf_iterator<char>(std::cin), {}));
      continue;
    }
    struct stat st {};
    if (::stat(input.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      std::vector<std::string> files;
      if (DIR* dir = ::opendir(input.c_str())) {
        while (dirent* e = ::readdir(dir)) {
          std::string n = e->d_name;
          if (absl::EndsWith(n, ".yaml") || absl::EndsWith(n, ".yml"))
            files.push_back(input + "/" + n);
        }
        ::closedir(dir);
      }
      std::sort(files.begin(), files.end());
      if (files.empty())
        return absl::InvalidArgumentError(absl::StrCat(input, ": no .yaml or .yml files"));
      for (const std::string& f : files) {
        absl::StatusOr<std::string> text = ReadFile(f);
        if (!text.ok()) return text.status();
        add(f, *text);
      }
      continue;
    }
    absl::StatusOr<std::string> text = ReadFile(input);
    if (!text.ok()) return text.status();
    add(input, *text);
  }
  return all;
}

int WaitForVersion(OperatorClient& client, uint64_t version, absl::Duration timeout) {
  remora::v1::WaitRequest request;
  request.set_version(version);
  request.set_timeout_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(timeout)));
  remora::v1::WaitResponse response;
  auto context = client.Context(timeout + absl::Seconds(5));
  grpc::Status status = client.stub().WaitForVersion(context.get(), request, &response);
  if (!status.ok()) return Fail(kExitFailure, DescribeRpcError("wait", status, client.server()));
  return PrintWaitResponse(response);
}

int PrintWaitResponse(const remora::v1::WaitResponse& response) {
  const uint64_t version = response.version();
  std::cout << "version " << version << " active on " << response.acked() << "/"
            << response.affected() << " affected prox" << (response.affected() == 1 ? "y" : "ies")
            << " (slowest " << response.slowest_ms() << " ms)\n";
  for (const remora::v1::ProxyProgress& p : response.proxies()) {
    std::cout << "  " << p.proxy() << ": " << p.state() << (p.detail().empty() ? "" : ": ")
              << p.detail() << "\n";
  }
  return response.acked() == response.affected() ? kExitOk : kExitFailure;
}

namespace {

int Run(int argc, const char* const* argv, bool remove) {
  std::vector<std::string> files;
  bool wait = false;
  absl::Duration timeout = absl::Seconds(30);
  ConnectionFlags connection;
  FlagSet flags(remove ? "remoractl delete" : "remoractl apply",
                remove ? kDeleteUsage : kApplyUsage);
  flags.StringList("f", &files, "a file, a directory of .yaml files, or - for standard input");
  flags.Bool("wait", &wait, "wait until every affected proxy acknowledged the change");
  flags.Duration("timeout", &timeout, "how long --wait waits");
  AddConnectionFlags(flags, &connection);
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (files.empty() || !args.empty())
    return Fail(kExitUsage, "give the documents with -f FILE|DIR|-");
  std::string names;
  absl::StatusOr<std::string> yaml = ReadInputs(files, &names);
  if (!yaml.ok()) return Fail(kExitUsage, std::string(yaml.status().message()));
  absl::StatusOr<OperatorClient> client = OperatorClient::Connect(connection);
  if (!client.ok()) return Fail(kExitFailure, std::string(client.status().message()));
  remora::v1::ApplyRequest request;
  request.set_yaml(*yaml);
  request.set_source(names);
  request.set_delete_(remove);
  remora::v1::ApplyResponse response;
  auto context = client->Context(connection.timeout);
  grpc::Status status = client->stub().Apply(context.get(), request, &response);
  if (!status.ok()) {
    const int code =
        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kExitUsage : kExitFailure;
    return Fail(code, DescribeRpcError(remove ? "delete refused" : "apply refused", status,
                                       client->server()));
  }
  for (const remora::v1::AppliedObject& o : response.objects()) {
    std::cout << absl::AsciiStrToLower(o.kind()) << " "
              << (o.namespace_().empty() ? o.name() : absl::StrCat(o.namespace_(), "/", o.name()))
              << " " << o.action() << "\n";
  }
  if (!wait) return kExitOk;
  return WaitForVersion(*client, response.version(), timeout);
}

}  // namespace

Command ApplyCommand() {
  return {"apply", "create or update policies, workloads and services (atomic; --wait)",
          [](int argc, const char* const* argv) { return Run(argc, argv, false); }};
}

Command DeleteCommand() {
  return {"delete", "delete the objects named by documents",
          [](int argc, const char* const* argv) { return Run(argc, argv, true); }};
}

}  // namespace remora::ctl
