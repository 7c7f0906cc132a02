#include "tests/e2e/mesh.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/support/net.h"

namespace remora::e2e {
namespace {

namespace fs = std::filesystem;
using testing::Subprocess;

constexpr uint16_t kHealthPort = 15021;
constexpr uint16_t kPrometheusPort = 15090;
constexpr absl::Duration kStartTimeout = absl::Seconds(60);  // generous: ASan builds start slowly

// A line echo server: an ordinary program that knows nothing of the mesh.
constexpr char kEchoServer[] = R"(# A TCP line echo server that logs each connection it accepts.
import socketserver
import sys


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        print(f"connection from {self.client_address[0]}:{self.client_address[1]}", flush=True)
        for line in self.rfile:
            self.wfile.write(line)


socketserver.ThreadingTCPServer.allow_reuse_address = True
host = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
socketserver.ThreadingTCPServer((host, int(sys.argv[1])), Echo).serve_forever()
)";

absl::Status WriteFile(const std::string& path, absl::string_view content, mode_t mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  if (::chmod(path.c_str(), mode) != 0) {
    return absl::UnavailableError(absl::StrCat("chmod ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("mkdir ", path, ": ", std::strerror(errno)));
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return absl::UnavailableError(absl::StrCat("chmod ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status GiveToProxy(const std::string& path) {
  if (::chown(path.c_str(), kProxyUid, kProxyUid) != 0) {
    return absl::UnavailableError(absl::StrCat("chown ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// A hard link when the file system allows it, else a copy: the Bazel output tree lives under
// /root, which UID 1337 cannot enter.
absl::Status PlaceExecutable(const std::string& from, const std::string& to) {
  std::error_code ec;
  const fs::path real = fs::canonical(from, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(from, ": ", ec.message()));
  fs::remove(to, ec);
  // Bazel's outputs are mode 0555 already; a link must not change the original's mode.
  if (::link(real.c_str(), to.c_str()) == 0) return absl::OkStatus();
  fs::copy_file(real, to, fs::copy_options::overwrite_existing, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("copy ", from, " to ", to, ": ", ec.message()));
  if (::chmod(to.c_str(), 0755) != 0) {
    return absl::UnavailableError(absl::StrCat("chmod ", to, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string Tail(const std::string& text, int lines) {
  if (text.empty()) return text;  // a log not written yet
  size_t at = text.size();
  for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string::npos ? text : text.substr(at + 1);
}

// GET on a plain HTTP endpoint from the node; "<status line> <body>".
absl::StatusOr<std::string> NodeHttpGet(const std::string& endpoint, const std::string& path) {
  absl::StatusOr<testing::Conn> conn = testing::Conn::Dial(endpoint, absl::Seconds(5));
  if (!conn.ok()) return conn.status();
  if (absl::Status s = conn->SendAll(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", endpoint,
                                                  "\r\nConnection: close\r\n\r\n"));
      !s.ok()) {
    return s;
  }
  return conn->ReadToEof();
}

std::string Resolve(const std::string& program) {
  if (absl::StartsWith(program, "/")) return program;
  const std::string path = iptables_init::FindProgram(program);
  return path.empty() ? program : path;
}

std::string RandomHex(int bytes) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < bytes; ++i) absl::StrAppend(&out, absl::Hex(rd() & 0xff, absl::kZeroPad2));
  return out;
}

}  // namespace

std::string RunfilesBase() {
  if (const char* srcdir = std::getenv("TEST_SRCDIR"); srcdir != nullptr) {
    const char* workspace = std::getenv("TEST_WORKSPACE");
    return absl::StrCat(srcdir, "/", workspace != nullptr ? workspace : "remora");
  }
  if (const char* runfiles = std::getenv("RUNFILES_DIR"); runfiles != nullptr) {
    return absl::StrCat(runfiles, "/remora");
  }
  std::error_code ec;
  return absl::StrCat(fs::read_symlink("/proc/self/exe", ec).string(), ".runfiles/remora");
}

absl::StatusOr<Binaries> Binaries::FromRunfiles() {
  const std::string base = RunfilesBase();
  Binaries b{base + "/xds/remora-control", base + "/proxy/remora-proxy", base + "/ctl/remoractl",
             base + "/iptables-init/remora-init"};
  for (const std::string* path : {&b.control, &b.proxy, &b.ctl, &b.init}) {
    if (::access(path->c_str(), X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat(*path,
                       " is not there: build the mesh's binaries first (bazel build "
                       "//examples/demo:mesh-demo builds all four as its data)"));
    }
  }
  return b;
}

// --- Pod ---------------------------------------------------------------------------------------

std::string Pod::identity() const {
  return absl::StrCat("spiffe://cluster.local/ns/", spec_.ns, "/sa/", spec_.service_account);
}

CommandResult Pod::Exec(const std::vector<std::string>& argv, absl::string_view input) const {
  std::vector<std::string> told{"ip", "netns", "exec", netns_.name()};
  told.insert(told.end(), argv.begin(), argv.end());
  mesh_->Tell(told);
  absl::StatusOr<CommandResult> r = netns_.Run(argv, input);
  CommandResult result = r.ok() ? *r : CommandResult{-1, "", std::string(r.status().message())};
  mesh_->Tell(told, &result);
  return result;
}

absl::StatusOr<HttpReply> Pod::HttpGet(const std::string& url,
                                       const std::vector<std::string>& headers) const {
  // --noproxy: an http_proxy in the environment must not take the call elsewhere.
  std::vector<std::string> argv{"curl",       "-sS", "--noproxy",   "*",
                                "--max-time", "10",  "--write-out", "\n%{http_code}"};
  for (const std::string& h : headers) {
    argv.push_back("-H");
    argv.push_back(h);
  }
  argv.push_back(url);
  CommandResult r = Exec(argv);
  if (r.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("curl ", url, " from pod ", name(), " failed (exit ",
                                               r.exit_code,
                                               "): ", absl::StripAsciiWhitespace(r.err)));
  }
  const size_t newline = r.out.rfind('\n');
  HttpReply reply;
  if (newline == std::string::npos || !absl::SimpleAtoi(r.out.substr(newline + 1), &reply.status)) {
    return absl::InternalError(absl::StrCat("curl printed no status code: ", r.out));
  }
  reply.body = r.out.substr(0, newline);
  return reply;
}

CommandResult Pod::TcpExchange(const std::string& ip, uint16_t port,
                               const std::string& line) const {
  for (char c : line) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return CommandResult{2, "",
                           absl::StrCat("TcpExchange: \"", line, "\" must be [A-Za-z0-9._-]")};
    }
  }
  return Exec({"bash", "-c",
               absl::StrCat("exec 3<>/dev/tcp/", ip, "/", port, " && echo ", line,
                            " >&3 && timeout 5 head -c ", line.size() + 1, " <&3")});
}

CommandResult Pod::RemoraInit(const std::vector<std::string>& flags) const {
  std::vector<std::string> argv{mesh_->binaries().init};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return Exec(argv);
}

std::string Pod::RulesSnapshot() const {
  static const std::regex kCounters(R"(\[\d+:\d+\]|counter packets \d+ bytes \d+)");
  std::string out;
  for (const std::vector<std::string>& argv : {std::vector<std::string>{"nft", "list", "ruleset"},
                                               {"iptables-legacy-save"},
                                               {"ip6tables-legacy-save"}}) {
    absl::StrAppend(&out, "== ", absl::StrJoin(argv, " "), "\n");
    if (iptables_init::FindProgram(argv[0]).empty()) {
      absl::StrAppend(&out, "(not installed)\n");
      continue;
    }
    absl::StatusOr<CommandResult> r = netns_.Run(argv);
    if (!r.ok() || !r->ok()) {
      absl::StrAppend(&out, "(failed: ", r.ok() ? r->err : r.status().message(), ")\n");
      continue;
    }
    for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line, "#")) continue;  // dates and versions
      absl::StrAppend(&out, std::regex_replace(std::string(line), kCounters, "counter"), "\n");
    }
  }
  return out;
}

absl::StatusOr<std::string> Pod::ProxyMetrics() const {
  absl::StatusOr<std::string> response =
      NodeHttpGet(absl::StrCat(ip_, ":", kPrometheusPort), "/stats/prometheus");
  if (!response.ok()) return response.status();
  if (!absl::StartsWith(*response, "HTTP/1.1 200")) {
    return absl::UnavailableError(absl::StrCat("proxy metrics: ", response->substr(0, 80)));
  }
  return *response;
}

int64_t Pod::ListenerStat(absl::string_view stat, absl::string_view listener) const {
  absl::StatusOr<std::string> metrics = ProxyMetrics();
  if (!metrics.ok()) return -1;
  return PrometheusValue(*metrics, absl::StrCat("remora_listener_", stat),
                         absl::StrCat("listener=\"", listener, "\""))
      .value_or(-1);
}

std::optional<int64_t> PrometheusValue(absl::string_view text, absl::string_view name,
                                       absl::string_view label) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    const size_t end = line.find_first_of("{ ");
    if (end == absl::string_view::npos) continue;
    absl::string_view metric = line.substr(0, end);
    if (metric != name && metric != absl::StrCat(name, "_total")) continue;
    const size_t space = line.rfind(' ');
    if (!label.empty() && !absl::StrContains(line.substr(end, space - end), label)) continue;
    int64_t value = 0;
    if (absl::SimpleAtoi(line.substr(space + 1), &value)) return value;
  }
  return std::nullopt;
}

// --- PacketCapture -----------------------------------------------------------------------------

absl::StatusOr<std::string> PacketCapture::Stop(const std::string& probe_ip) {
  const std::string marker = absl::StrCat("remora-capture-end-", RandomHex(8));
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);  // discard; the datagram only has to cross the bridge
  ::inet_pton(AF_INET, probe_ip.c_str(), &to.sin_addr);
  bool seen = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!seen && absl::Now() < deadline) {
    ::sendto(fd, marker.data(), marker.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    for (int i = 0; i < 10 && !seen; ++i) {
      absl::SleepFor(absl::Milliseconds(20));
      seen = absl::StrContains(testing::ReadFileOrEmpty(path_), marker);
    }
  }
  ::close(fd);
  if (!seen) {
    return absl::DeadlineExceededError(
        absl::StrCat("tcpdump did not record the end-of-capture datagram:\n", process_.Log()));
  }
  process_.Signal(SIGINT);
  absl::StatusOr<int> code = process_.Wait(absl::Seconds(10));
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(absl::StrCat("tcpdump exited with ", *code, ":\n", process_.Log()));
  }
  return testing::ReadFileOrEmpty(path_);
}

// --- Mesh --------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Mesh>> Mesh::Start(MeshOptions options) {
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError(
        "building a mesh needs root (network namespaces, a bridge, capture rules)");
  }
  std::vector<std::string> swept = SweepLeftovers(options.tag);
  const std::string run_dir = absl::StrCat("/tmp/", options.tag, "-", ::getpid());
  std::error_code ec;
  fs::remove_all(run_dir, ec);
  for (const std::string& dir : {run_dir, run_dir + "/logs", run_dir + "/manifests",
                                 run_dir + "/bin", run_dir + "/apps", run_dir + "/pods"}) {
    if (absl::Status s = MakeDir(dir, 0755); !s.ok()) return s;
  }
  absl::StatusOr<NodeNetwork> network = NodeNetwork::Create();
  if (!network.ok()) {
    fs::remove_all(run_dir, ec);
    return network.status();
  }
  std::unique_ptr<Mesh> mesh(new Mesh(std::move(options), run_dir, std::move(*network)));
  mesh->swept_ = std::move(swept);
  mesh->Tell({"ip", "link", "add", mesh->network_.bridge(), "type", "bridge"});
  mesh->Tell(
      {"ip", "addr", "add", mesh->network_.node_ip() + "/24", "dev", mesh->network_.bridge()});

  mesh->proxy_binary_ = run_dir + "/bin/remora-proxy";
  if (absl::Status s = PlaceExecutable(mesh->options_.binaries.proxy, mesh->proxy_binary_);
      !s.ok()) {
    return s;
  }
  mesh->python_ = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : Resolve("python3");
  if (absl::Status s = WriteFile(run_dir + "/apps/tcp-echo.py", kEchoServer, 0644); !s.ok())
    return s;

  const std::string ports_file = run_dir + "/control.ports";
  std::vector<std::string> control_argv{
      "setpriv",
      "--pdeathsig=KILL",
      "--",
      mesh->options_.binaries.control,
      "--state-dir=" + mesh->state_dir(),
      absl::StrCat("--listen=", mesh->network_.node_ip(), ":", mesh->options_.control_port),
      "--admin=127.0.0.1:0",
      "--bound-ports-file=" + ports_file,
      "--debounce=5ms"};
  if (mesh->options_.control_args) {
    absl::StatusOr<std::vector<std::string>> more = mesh->options_.control_args(*mesh);
    if (!more.ok()) return more.status();
    control_argv.insert(control_argv.end(), more->begin(), more->end());
  }
  absl::StatusOr<Subprocess> control = mesh->Launch(control_argv, "control.log");
  if (!control.ok()) return control.status();
  mesh->control_.emplace(std::move(*control));
  if (!testing::WaitFor(kStartTimeout,
                        [&] {
                          return !testing::ReadFileOrEmpty(ports_file).empty() ||
                                 !mesh->control_->Running();
                        }) ||
      testing::ReadFileOrEmpty(ports_file).empty()) {
    return absl::UnavailableError(
        absl::StrCat("remora-control did not start:\n", Tail(mesh->control_->Log(), 20)));
  }
  nlohmann::json ports =
      nlohmann::json::parse(testing::ReadFileOrEmpty(ports_file), nullptr, false);
  if (!ports.is_object() || !ports.contains("grpc") || !ports["grpc"].is_string()) {
    return absl::InternalError(absl::StrCat("remora-control wrote unexpected ports: ",
                                            testing::ReadFileOrEmpty(ports_file)));
  }
  mesh->control_address_ = ports["grpc"].get<std::string>();
  if (ports.contains("webhook") && ports["webhook"].is_string()) {
    mesh->webhook_address_ = ports["webhook"].get<std::string>();
  }
  return mesh;
}

Mesh::~Mesh() {
  pods_.clear();  // their processes, then their namespaces (and with them their veths)
  control_.reset();
  if (!options_.save_logs_to.empty()) {
    std::error_code ec;
    fs::copy(log_dir(), options_.save_logs_to,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  }
  std::error_code ec;
  fs::remove_all(run_dir_, ec);
  // network_ goes last, after this body: the bridge and any veth still attached.
}

void Mesh::Tell(const std::vector<std::string>& argv, const CommandResult* result) const {
  if (options_.on_command) options_.on_command(argv, result);
}

CommandResult Mesh::RunLogged(const std::vector<std::string>& argv, absl::string_view input) const {
  Tell(argv);
  absl::StatusOr<CommandResult> r = iptables_init::testing::Run(argv, input);
  CommandResult result = r.ok() ? *r : CommandResult{-1, "", std::string(r.status().message())};
  Tell(argv, &result);
  return result;
}

absl::StatusOr<Subprocess> Mesh::Launch(const std::vector<std::string>& argv,
                                        const std::string& log_name) const {
  Tell(argv);
  std::vector<std::string> resolved = argv;
  resolved[0] = Resolve(resolved[0]);
  return Subprocess::Start(std::move(resolved), absl::StrCat(log_dir(), "/", log_name));
}

std::vector<std::string> Mesh::RemoractlArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{options_.binaries.ctl};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--server=" + control_address_);
  argv.push_back("--state-dir=" + state_dir());
  return argv;
}

CommandResult Mesh::Remoractl(const std::vector<std::string>& args) const {
  return RunLogged(RemoractlArgv(args));
}

absl::StatusOr<std::string> Mesh::Apply(const std::string& file, const std::string& yaml,
                                        bool wait) const {
  const std::string path = absl::StrCat(run_dir_, "/manifests/", file, ".yaml");
  if (absl::Status s = WriteFile(path, yaml, 0644); !s.ok()) return s;
  std::vector<std::string> args{"apply", "-f", path};
  if (wait) args.push_back("--wait");
  CommandResult r = Remoractl(args);
  if (!r.ok()) {
    return absl::InternalError(absl::StrCat("remoractl apply -f ", path, " failed (exit ",
                                            r.exit_code, "):\n", r.out, r.err));
  }
  return r.out + r.err;
}

absl::StatusOr<std::string> Mesh::Delete(const std::string& file, bool wait) const {
  const std::string path = absl::StrCat(run_dir_, "/manifests/", file, ".yaml");
  std::vector<std::string> args{"delete", "-f", path};
  if (wait) args.push_back("--wait");
  CommandResult r = Remoractl(args);
  if (!r.ok()) {
    return absl::InternalError(absl::StrCat("remoractl delete -f ", path, " failed (exit ",
                                            r.exit_code, "):\n", r.out, r.err));
  }
  return r.out + r.err;
}

absl::Status Mesh::WaitForSync(absl::Duration timeout) const {
  std::string last;
  const bool synced = testing::WaitFor(timeout, [&] {
    absl::StatusOr<CommandResult> r = iptables_init::testing::Run(RemoractlArgv({"proxy-status"}));
    if (!r.ok() || !r->ok()) return false;
    last = r->out;
    for (const std::unique_ptr<Pod>& pod : pods_) {
      bool found = false;
      for (absl::string_view line : absl::StrSplit(r->out, '\n')) {
        std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
        if (words.size() >= 4 && words[0] == pod->key()) found = words[3] == "SYNCED";
      }
      if (!found) return false;
    }
    return true;
  });
  if (!synced) {
    return absl::DeadlineExceededError(absl::StrCat("not every proxy is SYNCED after ",
                                                    absl::FormatDuration(timeout), ":\n", last));
  }
  return absl::OkStatus();
}

Pod* Mesh::pod(absl::string_view name) const {
  for (const std::unique_ptr<Pod>& p : pods_) {
    if (p->name() == name) return p.get();
  }
  return nullptr;
}

absl::StatusOr<std::string> Mesh::PodVolume(const Pod& pod, const std::string& name) const {
  const std::string pod_dir = absl::StrCat(run_dir_, "/pods/", pod.name());
  const std::string dir = absl::StrCat(pod_dir, "/", name);
  for (const std::string& d : {pod_dir, dir}) {
    if (absl::Status s = MakeDir(d, 0700); !s.ok()) return s;
    if (absl::Status s = GiveToProxy(d); !s.ok()) return s;
  }
  return dir;
}

absl::Status Mesh::WriteProxyFile(const std::string& dir, const std::string& file,
                                  absl::string_view content) const {
  const std::string path = absl::StrCat(dir, "/", file);
  if (absl::Status s = WriteFile(path, content, 0600); !s.ok()) return s;
  return GiveToProxy(path);
}

absl::StatusOr<Pod*> Mesh::AddPod(PodSpec spec) {
  absl::StatusOr<Pod*> added = AddPodNetwork(std::move(spec));
  if (!added.ok()) return added.status();
  Pod& pod = **added;
  absl::StatusOr<PodLaunch> launch = Register(pod);
  if (!launch.ok()) return launch.status();
  if (absl::Status s = StartPod(pod, *launch); !s.ok()) return s;
  return &pod;
}

absl::StatusOr<Pod*> Mesh::AddPodNetwork(PodSpec spec) {
  if (spec.service_account.empty()) spec.service_account = spec.name;
  if (spec.labels.empty()) spec.labels = {{"app", spec.name}};
  const int host = 2 + static_cast<int>(pods_.size());
  if (host > 254) return absl::ResourceExhaustedError("a mesh holds at most 253 pods");

  // 1. The pod's network: a namespace with a veth on the bridge.
  absl::StatusOr<NetNs> ns = NetNs::Create(absl::StrCat(options_.tag, "-", spec.name));
  if (!ns.ok()) return ns.status();
  Tell({"ip", "netns", "add", ns->name()});
  auto owned = std::unique_ptr<Pod>(new Pod(spec, network_.Address(host), std::move(*ns), this));
  Pod& pod = *owned;
  pods_.push_back(std::move(owned));  // from here on, ~Mesh cleans up after a failure too
  std::vector<std::vector<std::string>> commands;
  absl::Status attached = network_.Attach(pod.netns_, host, &commands);
  for (const std::vector<std::string>& c : commands) Tell(c);
  if (!attached.ok()) return attached;
  if (!spec.preexisting_nft.empty()) {
    if (CommandResult r = pod.Exec({"nft", "-f", "-"}, spec.preexisting_nft); !r.ok()) {
      return absl::InternalError(absl::StrCat("nft -f - in pod ", spec.name, ": ", r.err));
    }
  }
  pod.rules_before_init_ = pod.RulesSnapshot();
  return &pod;
}

absl::StatusOr<PodLaunch> Mesh::Register(const Pod& pod) {
  const PodSpec& spec = pod.spec();
  // 2. Registration, as Kubernetes would report the pod, and its bootstrap token.
  std::string ports;
  if (!spec.http_body.empty()) {
    absl::StrAppend(&ports, "  - {name: http, port: ", kHttpPort, ", protocol: http}\n");
  }
  if (spec.tcp_echo)
    absl::StrAppend(&ports, "  - {name: echo, port: ", kEchoPort, ", protocol: tcp}\n");
  if (spec.loopback_only_port != 0) {
    absl::StrAppend(&ports, "  - {name: debug, port: ", spec.loopback_only_port,
                    ", protocol: tcp}\n");
  }
  std::string labels;
  for (const auto& [k, v] : spec.labels)
    absl::StrAppend(&labels, labels.empty() ? "" : ", ", k, ": ", v);
  const std::string workload = absl::StrCat(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: ", spec.ns,
      "}\n---\napiVersion: remora.io/v1\nkind: Workload\nmetadata:\n  name: ", spec.name,
      "\n  namespace: ", spec.ns, "\n  labels: {", labels,
      "}\nspec:\n  serviceAccount: ", spec.service_account, "\n  addresses: [", pod.ip_, "]\n",
      ports.empty() ? "" : absl::StrCat("  ports:\n", ports));
  if (absl::StatusOr<std::string> applied = Apply(spec.name + "-workload", workload, false);
      !applied.ok()) {
    return applied.status();
  }
  const std::string dir = absl::StrCat(run_dir_, "/pods/", spec.name);
  if (absl::Status s = MakeDir(dir, 0700); !s.ok()) return s;
  if (CommandResult r = Remoractl({"token", "create", "--namespace=" + spec.ns,
                                   "--service-account=" + spec.service_account,
                                   "--workload=" + spec.name, "--out=" + dir + "/token"});
      !r.ok()) {
    return absl::InternalError(absl::StrCat("remoractl token create: ", r.out, r.err));
  }
  if (absl::Status s = WriteFile(dir + "/ca.pem",
                                 testing::ReadFileOrEmpty(state_dir() + "/ca-bundle.pem"), 0644);
      !s.ok()) {
    return s;
  }
  const std::string config = absl::StrCat(
      "# remora-proxy of pod ", pod.key(),
      ". No listeners: inbound on 0.0.0.0:15006 and outbound\n",
      "# on 127.0.0.1:15001, both reading the original destination of what remora-init "
      "redirects.\n",
      "control_plane:\n  address: \"", control_address_, "\"\n  token_file: ", dir, "/token\n",
      "  ca_file: ", dir, "/ca.pem\n  retry_initial: 100ms\n  retry_max: 2s\n",
      "workload: {name: ", spec.name, ", namespace: ", spec.ns,
      ", service_account: ", spec.service_account, ", ip: ", pod.ip_, "}\n",
      spec.proxy_config_extra);
  if (absl::Status s = WriteFile(dir + "/proxy.yaml", config, 0600); !s.ok()) return s;
  for (const std::string& path : {dir, dir + "/token", dir + "/ca.pem", dir + "/proxy.yaml"}) {
    if (absl::Status s = GiveToProxy(path); !s.ok()) return s;
  }
  PodLaunch launch;
  launch.proxy_args = {"--config=" + dir + "/proxy.yaml"};
  return launch;
}

absl::Status Mesh::StartPod(Pod& pod, const PodLaunch& launch) {
  // 3. The capture rules, then the proxy and the apps.
  if (CommandResult r = pod.RemoraInit(launch.init_flags); !r.ok()) {
    return absl::InternalError(absl::StrCat("remora-init in pod ", pod.name(), " failed (exit ",
                                            r.exit_code, "): ", r.err));
  }
  return StartPodProcesses(pod, launch);
}

absl::Status Mesh::StartPodProcesses(Pod& pod, const PodLaunch& launch) {
  const PodSpec& spec = pod.spec_;
  const std::string dir = absl::StrCat(run_dir_, "/pods/", spec.name);
  const std::string ns = pod.netns_.name();
  pod.proxy_log_path_ = absl::StrCat(log_dir(), "/", spec.name, "-proxy.log");
  std::vector<std::string> argv{"ip", "netns", "exec", ns};
  if (!launch.proxy_env.empty()) {
    argv.push_back("env");
    for (const auto& [name, value] : launch.proxy_env) argv.push_back(name + "=" + value);
  }
  for (const std::string& a :
       {std::string("setpriv"), std::string("--pdeathsig=KILL"),
        absl::StrCat("--reuid=", kProxyUid), absl::StrCat("--regid=", kProxyUid),
        std::string("--clear-groups"), std::string("--"), proxy_binary_}) {
    argv.push_back(a);
  }
  argv.insert(argv.end(), launch.proxy_args.begin(), launch.proxy_args.end());
  absl::StatusOr<Subprocess> proxy = Launch(argv, spec.name + "-proxy.log");
  if (!proxy.ok()) return proxy.status();
  pod.proxy_.emplace(std::move(*proxy));
  const std::string health = absl::StrCat(pod.ip_, ":", kHealthPort);
  std::string last;
  if (!testing::WaitFor(kStartTimeout,
                        [&] {
                          if (!pod.proxy_->Running()) return true;
                          absl::StatusOr<std::string> r = NodeHttpGet(health, "/healthz/ready");
                          last = r.ok() ? r->substr(0, r->find('\r'))
                                        : std::string(r.status().message());
                          return r.ok() && absl::StartsWith(*r, "HTTP/1.1 200");
                        }) ||
      !pod.proxy_->Running()) {
    return absl::UnavailableError(absl::StrCat("the proxy of pod ", spec.name,
                                               " did not become ready (", last, "):\n",
                                               Tail(pod.proxy_->Log(), 20)));
  }

  auto wait_listening = [&](Subprocess& app, uint16_t port) -> absl::Status {
    const bool up = testing::WaitFor(kStartTimeout, [&] {
      if (!app.Running()) return true;
      absl::StatusOr<CommandResult> r =
          pod.netns_.Run({"ss", "-Hltn", absl::StrCat("sport = :", port)});
      return r.ok() && r->ok() && !r->out.empty();
    });
    if (!up || !app.Running()) {
      return absl::UnavailableError(absl::StrCat("the app on port ", port, " of pod ", spec.name,
                                                 " did not start:\n", Tail(app.Log(), 20)));
    }
    return absl::OkStatus();
  };
  if (!spec.http_body.empty()) {
    const std::string www = dir + "-www";
    if (absl::Status s = MakeDir(www, 0755); !s.ok()) return s;
    if (absl::Status s = WriteFile(www + "/index.html", spec.http_body, 0644); !s.ok()) return s;
    absl::StatusOr<Subprocess> http =
        Launch({"ip", "netns", "exec", ns, "setpriv", "--pdeathsig=KILL", "--", python_, "-m",
                "http.server", absl::StrCat(kHttpPort), "--bind", "0.0.0.0", "--directory", www},
               spec.name + "-http.log");
    if (!http.ok()) return http.status();
    pod.http_.emplace(std::move(*http));
    if (absl::Status s = wait_listening(*pod.http_, kHttpPort); !s.ok()) return s;
  }
  if (spec.tcp_echo) {
    absl::StatusOr<Subprocess> echo =
        Launch({"ip", "netns", "exec", ns, "setpriv", "--pdeathsig=KILL", "--", python_, "-u",
                run_dir_ + "/apps/tcp-echo.py", absl::StrCat(kEchoPort)},
               spec.name + "-echo.log");
    if (!echo.ok()) return echo.status();
    pod.echo_.emplace(std::move(*echo));
    if (absl::Status s = wait_listening(*pod.echo_, kEchoPort); !s.ok()) return s;
  }
  if (spec.loopback_only_port != 0) {
    absl::StatusOr<Subprocess> echo =
        Launch({"ip", "netns", "exec", ns, "setpriv", "--pdeathsig=KILL", "--", python_, "-u",
                run_dir_ + "/apps/tcp-echo.py", absl::StrCat(spec.loopback_only_port), "127.0.0.1"},
               spec.name + "-loopback-echo.log");
    if (!echo.ok()) return echo.status();
    pod.loopback_echo_.emplace(std::move(*echo));
    if (absl::Status s = wait_listening(*pod.loopback_echo_, spec.loopback_only_port); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PacketCapture> Mesh::StartCapture(const std::string& name) const {
  // .pcap: Debian's AppArmor profile for tcpdump lets it write files with that extension only.
  const std::string path = absl::StrCat(run_dir_, "/", name, ".pcap");
  const std::string log = name + "-tcpdump.log";
  // -Z root: keep the privileges to write the file; -U: write each packet as it arrives;
  // full snapshot length (the default) so nothing is cut.
  absl::StatusOr<Subprocess> p = Launch({"setpriv", "--pdeathsig=KILL", "--", "tcpdump", "-Z",
                                         "root", "-i", network_.bridge(), "-n", "-U", "-w", path},
                                        log);
  if (!p.ok()) return p.status();
  if (!testing::WaitFor(
          absl::Seconds(20),
          [&] { return !p->Running() || absl::StrContains(p->Log(), "listening on"); }) ||
      !p->Running()) {
    return absl::UnavailableError(absl::StrCat("tcpdump did not start:\n", p->Log()));
  }
  return PacketCapture(std::move(*p), path);
}

std::string Mesh::LogTails(int lines) const {
  std::string out;
  absl::StrAppend(&out, "--- remora-control (", log_dir(), "/control.log)\n",
                  Tail(control_log(), lines));
  for (const std::unique_ptr<Pod>& pod : pods_) {
    absl::StrAppend(&out, "--- proxy of ", pod->key(), " (", pod->proxy_log_path(), ")\n",
                    Tail(pod->proxy_log(), lines));
  }
  return out;
}

}  // namespace remora::e2e
