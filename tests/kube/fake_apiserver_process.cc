#include "tests/kube/fake_apiserver_process.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/net.h"

namespace remora::testing {
namespace {

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kKubectl[] = "/usr/bin/kubectl";

std::string FreshDir() {
  static std::atomic<int> n{0};
  return TestDir(absl::StrCat("fake-apiserver-", ::getpid(), "-", n++));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeApiServer>> FakeApiServer::Start(FakeApiServerOptions options) {
  std::unique_ptr<FakeApiServer> s(new FakeApiServer());
  s->dir_ = options.dir.empty() ? FreshDir() : options.dir;
  s->kubeconfig_ = s->dir_ + "/kubeconfig";
  const std::string ready = s->dir_ + "/ready.json";
  ::unlink(ready.c_str());
  std::vector<std::string> argv = options.launcher;
  for (const std::string& arg : {std::string(kPython), Runfile("tests/kube/fake_apiserver.py"),
                                 "--kubeconfig=" + s->kubeconfig_, "--ready-file=" + ready,
                                 "--cert-dir=" + s->dir_ + "/certs"}) {
    argv.push_back(arg);
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  auto process = Subprocess::Start(argv, s->dir_ + "/server.log");
  if (!process.ok()) return process.status();
  s->process_ = std::make_unique<Subprocess>(std::move(*process));
  const bool up = WaitFor(options.start_timeout, [&] {
    return !ReadFileOrEmpty(ready).empty() || !s->process_->Running();
  });
  const std::string text = ReadFileOrEmpty(ready);
  if (!up || text.empty()) {
    return absl::UnavailableError(absl::StrCat("fake apiserver did not write ", ready, " (",
                                               up ? "it exited" : "timed out", "); its log ",
                                               s->process_->log_path(), ":\n", s->process_->Log()));
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("port")) {
    return absl::InternalError(absl::StrCat("unreadable ready file ", ready, ": ", text));
  }
  s->server_url_ = j.value("server", "");
  s->port_ = j.value("port", 0);
  s->admin_port_ = j["adminPort"].is_number() ? j["adminPort"].get<int>() : 0;
  s->ca_file_ = j.value("caFile", "");
  s->token_ = j.value("token", "");
  return s;
}

FakeApiServer::~FakeApiServer() {
  if (process_ && process_->Running()) (void)Stop(absl::Seconds(10));
  // ~Subprocess SIGKILLs and reaps whatever is left.
}

absl::StatusOr<int> FakeApiServer::Stop(absl::Duration timeout) {
  process_->Signal(SIGTERM);
  return process_->Wait(timeout);
}

absl::StatusOr<nlohmann::json> FakeApiServer::Admin(absl::string_view method,
                                                    absl::string_view path,
                                                    const nlohmann::json& body) const {
  if (admin_port_ == 0) return absl::FailedPreconditionError("started with --admin-port=-1");
  auto conn = Conn::Dial(absl::StrCat("127.0.0.1:", admin_port_));
  if (!conn.ok()) return conn.status();
  const std::string payload = body.is_null() ? "" : body.dump();
  absl::Status sent = conn->SendAll(absl::StrCat(
      method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
      "Content-Type: application/json\r\nContent-Length: ", payload.size(), "\r\n\r\n", payload));
  if (!sent.ok()) return sent;
  auto response = conn->ReadToEof(64 << 20);
  if (!response.ok()) return response.status();
  const size_t split = response->find("\r\n\r\n");
  if (split == std::string::npos || response->size() < 12) {
    return absl::UnavailableError(
        absl::StrCat("admin ", method, " ", path, ": malformed answer: ", *response));
  }
  int code = 0;
  if (!absl::SimpleAtoi(response->substr(9, 3), &code)) code = 0;
  const std::string payload_in = response->substr(split + 4);
  if (code != 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin ", method, " ", path, ": HTTP ", code, ": ", payload_in));
  }
  nlohmann::json j = nlohmann::json::parse(payload_in, nullptr, false);
  if (j.is_discarded()) {
    return absl::InternalError(absl::StrCat("admin ", path, ": not JSON: ", payload_in));
  }
  return j;
}

absl::Status FakeApiServer::DropWatches(bool reset_connections) const {
  return Admin("POST", reset_connections ? "/watches/drop?mode=reset" : "/watches/drop").status();
}

absl::StatusOr<std::string> FakeApiServer::ExpireHistory() const {
  auto j = Admin("POST", "/history/expire");
  if (!j.ok()) return j.status();
  return (*j)["resourceVersion"].get<std::string>();
}

absl::Status FakeApiServer::InjectFault(int code, int count, absl::string_view path_prefix) const {
  return Admin("POST", "/faults",
               {{"code", code}, {"count", count}, {"pathPrefix", std::string(path_prefix)}})
      .status();
}

absl::Status FakeApiServer::InjectFaultFor(int code, absl::Duration duration,
                                           absl::string_view path_prefix) const {
  return Admin("POST", "/faults",
               {{"code", code},
                {"seconds", absl::ToDoubleSeconds(duration)},
                {"pathPrefix", std::string(path_prefix)}})
      .status();
}

absl::Status FakeApiServer::ClearFaults() const { return Admin("DELETE", "/faults").status(); }
absl::Status FakeApiServer::Down() const { return Admin("POST", "/down").status(); }
absl::Status FakeApiServer::Up() const { return Admin("POST", "/up").status(); }

absl::Status FakeApiServer::SetBookmarkInterval(absl::Duration interval) const {
  return Admin("POST", absl::StrCat("/bookmarks?intervalSeconds=", absl::ToDoubleSeconds(interval)))
      .status();
}

absl::Status FakeApiServer::MapWebhookHost(absl::string_view host_port,
                                           absl::string_view target) const {
  return Admin("POST", "/webhook-hosts", {{std::string(host_port), std::string(target)}}).status();
}

absl::Status FakeApiServer::LoadObjects(const nlohmann::json& objects) const {
  return Admin("POST", "/objects", {{"objects", objects}}).status();
}

absl::Status FakeApiServer::InstallIstioCrds() const {
  return Admin("POST", "/crds/istio").status();
}

absl::StatusOr<nlohmann::json> FakeApiServer::Counters() const { return Admin("GET", "/counters"); }

KubectlResult FakeApiServer::Kubectl(const std::vector<std::string>& args) const {
  static std::atomic<int> n{0};
  std::vector<std::string> argv = {kKubectl, "--kubeconfig=" + kubeconfig_,
                                   "--cache-dir=" + dir_ + "/kube-cache"};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string log = absl::StrCat(dir_, "/kubectl-", n++, ".log");
  KubectlResult result;
  auto p = Subprocess::Start(argv, log);
  if (!p.ok()) {
    result.output = p.status().ToString();
    return result;
  }
  auto code = p->Wait(absl::Seconds(120));
  result.exit_code = code.ok() ? *code : -1;
  result.output = ReadFileOrEmpty(log);
  return result;
}

KubectlResult FakeApiServer::KubectlApply(absl::string_view manifest) const {
  static std::atomic<int> n{0};
  const std::string path = absl::StrCat(dir_, "/manifest-", n++, ".yaml");
  WriteFileOrDie(path, std::string(manifest));
  return Kubectl({"apply", "-f", path});
}

}  // namespace remora::testing
