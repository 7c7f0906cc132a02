// A Remora mesh on this machine, built the way an operator runs one: remora-control on the node,
// and "pods" that are network namespaces on a bridge, each with an ordinary app (an HTTP server,
// a TCP echo), the capture rules of remora-init and a remora-proxy running as UID 1337, joined
// through the control plane with a bootstrap token and a Workload registration made by remoractl.
//
//   root namespace (the node)                 pod namespaces, eth0 on the bridge
//   bridge rmr-<pid> <subnet>.1/24  ───────── <subnet>.2  app :8080/:9000, remora-init rules,
//   remora-control <subnet>.1:<port>          <subnet>.3  remora-proxy (UID 1337): 15001 out,
//   (root; state in /tmp/<tag>-<pid>)         ...         15006 in, 15000 admin, 15021, 15090
//
// Everything is removed when the Mesh goes (processes, namespaces, links, files), also when a step
// fails; a run killed before that is swept by the next Mesh::Start with the same tag. Needs root:
// tests are tagged "local" and skip when not root.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "iptables-init/command_runner.h"
#include "iptables-init/testing/netns.h"
#include "tests/e2e/node_network.h"
#include "tests/support/process.h"

namespace remora::e2e {

using iptables_init::CommandResult;
using iptables_init::testing::NetNs;

class Mesh;

inline constexpr uint16_t kHttpPort = 8080;  // PodSpec::http_body
inline constexpr uint16_t kEchoPort = 9000;  // PodSpec::tcp_echo
inline constexpr uint32_t kProxyUid = 1337;  // and GID: what remora-init's rules exclude

// The four programs, as built by Bazel.
struct Binaries {
  std::string control;  // remora-control
  std::string proxy;    // remora-proxy
  std::string ctl;      // remoractl
  std::string init;     // remora-init
  // From the runfiles of the running test or binary, which lists the four targets as data.
  static absl::StatusOr<Binaries> FromRunfiles();
};

// Told about every command the mesh runs or starts (ip, remora-init, remoractl, curl, the
// processes): once before with `result` null, and once more with the result for a command that
// runs to completion. A narrator prints them.
using CommandObserver =
    std::function<void(const std::vector<std::string>& argv, const CommandResult* result)>;

struct MeshOptions {
  // Names: namespaces "<tag>-<pod>-<pid>-<n>", run directory "/tmp/<tag>-<pid>".
  std::string tag = "rme2e";
  Binaries binaries;
  uint16_t control_port = 0;  // remora-control's port on the bridge address; 0: any free one
  CommandObserver on_command;
  // When set, the logs are copied there before the run directory is removed.
  std::string save_logs_to;
  // Called once the run directory and the bridge exist, before remora-control starts: returns more
  // flags for it (Kubernetes mode: --kubeconfig, the webhook's, files written into run_dir()).
  std::function<absl::StatusOr<std::vector<std::string>>(const Mesh&)> control_args;
};

// How the "kubelet" starts a pod's mesh containers when they come from somewhere else than
// AddPod's own registration (Kubernetes mode: the injected container specs, see kube_mesh.h).
struct PodLaunch {
  std::vector<std::string> init_flags;                         // remora-init's arguments
  std::vector<std::string> proxy_args;                         // remora-proxy's arguments
  std::vector<std::pair<std::string, std::string>> proxy_env;  // its environment, in order
};

struct PodSpec {
  std::string name;  // the Workload's name, in namespace `ns`
  std::string ns = "shop";
  std::string service_account;                // empty: `name`
  std::map<std::string, std::string> labels;  // empty: {app: <name>}
  // Non-empty: `python3 -m http.server 8080` answers GET / with this text (port declared http).
  std::string http_body;
  // A line echo server on port 9000 (declared tcp) that logs each connection it accepts.
  bool tcp_echo = false;
  // Non-zero: the same echo server bound to 127.0.0.1:<port> only, like a debug endpoint (pprof,
  // actuator, a local Redis) an app means for itself; the port is declared tcp.
  uint16_t loopback_only_port = 0;
  // Appended to the proxy's configuration (e.g. "limits: {max_connections: 20}\n").
  std::string proxy_config_extra;
  // nftables rules the pod holds before remora-init runs (`nft -f -` input), e.g. an app's own.
  std::string preexisting_nft;
};

struct HttpReply {
  int status = 0;
  std::string body;
};

class Pod {
 public:
  const PodSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }
  const std::string& ip() const { return ip_; }
  const NetNs& netns() const { return netns_; }
  std::string key() const { return spec_.ns + "/" + spec_.name; }  // as proxy-status names it
  std::string identity() const;  // spiffe://cluster.local/ns/<ns>/sa/<service account>

  // Runs `argv` inside the pod as root, like a process of the app's container.
  CommandResult Exec(const std::vector<std::string>& argv, absl::string_view input = "") const;
  // `curl http://...` from inside the pod. An error when curl gets no HTTP answer at all.
  absl::StatusOr<HttpReply> HttpGet(const std::string& url,
                                    const std::vector<std::string>& headers = {}) const;
  // Connects to ip:port from inside the pod (bash's /dev/tcp), sends `line` and a newline, and
  // reads as many bytes back (5 s at most). `out` holds what came back: the line when an echo
  // server answered, nothing when the connection was closed first.
  CommandResult TcpExchange(const std::string& ip, uint16_t port, const std::string& line) const;
  // Runs remora-init inside the pod with `flags`.
  CommandResult RemoraInit(const std::vector<std::string>& flags) const;

  // Every rule of the namespace (nftables, and legacy iptables for both families), without
  // counters: equal snapshots mean equal rules.
  std::string RulesSnapshot() const;
  // The snapshot taken before remora-init ran.
  const std::string& rules_before_init() const { return rules_before_init_; }

  // The proxy's Prometheus text, read from the node at <ip>:15090 (not captured by the rules).
  absl::StatusOr<std::string> ProxyMetrics() const;
  // One counter or gauge of a proxy listener ("inbound", "outbound"), e.g.
  // ListenerStat("tls_handshake_ok", "inbound"); -1 when it cannot be read.
  int64_t ListenerStat(absl::string_view stat, absl::string_view listener) const;

  std::string proxy_log() const { return proxy_ ? proxy_->Log() : ""; }
  std::string http_log() const { return http_ ? http_->Log() : ""; }
  std::string echo_log() const { return echo_ ? echo_->Log() : ""; }
  std::string loopback_echo_log() const { return loopback_echo_ ? loopback_echo_->Log() : ""; }
  const std::string& proxy_log_path() const { return proxy_log_path_; }
  testing::Subprocess* proxy() { return proxy_ ? &*proxy_ : nullptr; }

 private:
  friend class Mesh;
  Pod(PodSpec spec, std::string ip, NetNs netns, const Mesh* mesh)
      : spec_(std::move(spec)), ip_(std::move(ip)), netns_(std::move(netns)), mesh_(mesh) {}

  PodSpec spec_;
  std::string ip_;
  NetNs netns_;  // declared before the processes, so it is deleted after they are stopped
  const Mesh* mesh_;
  std::string rules_before_init_;
  std::string proxy_log_path_;
  std::optional<testing::Subprocess> proxy_;
  std::optional<testing::Subprocess> http_;
  std::optional<testing::Subprocess> echo_;
  std::optional<testing::Subprocess> loopback_echo_;
};

// A tcpdump writing a pcap file; stopping it is deterministic (see Stop).
class PacketCapture {
 public:
  PacketCapture(PacketCapture&&) = default;
  ~PacketCapture() = default;  // the Subprocess kills tcpdump if Stop was not called
  // Sends a UDP datagram with a unique text across the captured interface to `probe_ip`, waits
  // until the file holds it (so it holds every packet that crossed before), stops tcpdump and
  // returns the file's bytes.
  absl::StatusOr<std::string> Stop(const std::string& probe_ip);
  const std::string& path() const { return path_; }

 private:
  friend class Mesh;
  PacketCapture(testing::Subprocess process, std::string path)
      : process_(std::move(process)), path_(std::move(path)) {}
  testing::Subprocess process_;
  std::string path_;
};

class Mesh {
 public:
  // Sweeps leftovers of killed runs with the same tag, creates the run directory and the bridge,
  // and starts remora-control on the bridge address.
  static absl::StatusOr<std::unique_ptr<Mesh>> Start(MeshOptions options);
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Creates a pod and brings it into the mesh, in the order a Kubernetes node would: namespace
  // and veth, Workload registration and bootstrap token (remoractl), remora-init, remora-proxy
  // as UID 1337 (until it reports ready: certificate and configuration received), then the apps.
  absl::StatusOr<Pod*> AddPod(PodSpec spec);
  // The two halves of AddPod without the registration, for a pod that Kubernetes describes:
  // the namespace and its veth (the pod's address is known from here on), ...
  absl::StatusOr<Pod*> AddPodNetwork(PodSpec spec);
  // ... then remora-init with `launch.init_flags`, remora-proxy as UID 1337 with its arguments and
  // environment (until it reports ready), then the apps.
  absl::Status StartPod(Pod& pod, const PodLaunch& launch);
  // <run>/pods/<pod>/<name>, a directory only the proxy's UID may read, as a kubelet's volume.
  absl::StatusOr<std::string> PodVolume(const Pod& pod, const std::string& name) const;
  // Writes `content` to `dir`/`file`, owned by the proxy's UID, mode 0600.
  absl::Status WriteProxyFile(const std::string& dir, const std::string& file,
                              absl::string_view content) const;
  Pod* pod(absl::string_view name) const;
  const std::vector<std::unique_ptr<Pod>>& pods() const { return pods_; }

  // remoractl <args> --server=... --state-dir=... (flags follow the subcommand).
  std::vector<std::string> RemoractlArgv(const std::vector<std::string>& args) const;
  CommandResult Remoractl(const std::vector<std::string>& args) const;
  // Writes `yaml` to <run>/manifests/<file>.yaml and runs `remoractl apply -f` on it (with
  // `--wait`: returns once every affected proxy has acknowledged). Returns remoractl's output;
  // an error with that output when it fails.
  absl::StatusOr<std::string> Apply(const std::string& file, const std::string& yaml,
                                    bool wait = true) const;
  // `remoractl delete -f` of a file written by Apply.
  absl::StatusOr<std::string> Delete(const std::string& file, bool wait = true) const;
  // Until `remoractl proxy-status` lists every pod as SYNCED.
  absl::Status WaitForSync(absl::Duration timeout = absl::Seconds(30)) const;

  // Starts `tcpdump -w` on the bridge and returns once it captures.
  absl::StatusOr<PacketCapture> StartCapture(const std::string& name) const;

  const NodeNetwork& network() const { return network_; }
  const std::string& control_address() const { return control_address_; }
  // Where remora-control serves the injection webhook (--webhook-listen); empty when it does not.
  const std::string& webhook_address() const { return webhook_address_; }
  const std::string& run_dir() const { return run_dir_; }
  std::string log_dir() const { return run_dir_ + "/logs"; }
  std::string state_dir() const { return run_dir_ + "/control"; }
  const Binaries& binaries() const { return options_.binaries; }
  const std::vector<std::string>& swept() const { return swept_; }
  std::string control_log() const { return control_ ? control_->Log() : ""; }
  // The last `lines` lines of every log, for a failure message.
  std::string LogTails(int lines = 15) const;

  // Runs `argv` on the node, telling the observer.
  CommandResult RunLogged(const std::vector<std::string>& argv, absl::string_view input = "") const;
  void Tell(const std::vector<std::string>& argv, const CommandResult* result = nullptr) const;

 private:
  Mesh(MeshOptions options, std::string run_dir, NodeNetwork network)
      : options_(std::move(options)), run_dir_(std::move(run_dir)), network_(std::move(network)) {}
  absl::StatusOr<testing::Subprocess> Launch(const std::vector<std::string>& argv,
                                             const std::string& log_name) const;
  // The embedded mode's registration: a Workload (remoractl apply), a bootstrap token, a proxy
  // configuration file; returns how to start the proxy on them.
  absl::StatusOr<PodLaunch> Register(const Pod& pod);
  absl::Status StartPodProcesses(Pod& pod, const PodLaunch& launch);

  MeshOptions options_;
  std::string run_dir_;
  NodeNetwork network_;
  std::vector<std::string> swept_;
  std::string proxy_binary_;  // a copy UID 1337 may execute
  std::string python_;
  std::optional<testing::Subprocess> control_;
  std::string control_address_;
  std::string webhook_address_;
  std::vector<std::unique_ptr<Pod>> pods_;  // destroyed first (see ~Mesh)
};

// The directory of the running test's or binary's runfiles for this workspace.
std::string RunfilesBase();

// The value of one sample in Prometheus text, matched by metric name and a label fragment
// (`listener="inbound"`); nullopt when absent.
std::optional<int64_t> PrometheusValue(absl::string_view text, absl::string_view name,
                                       absl::string_view label);

}  // namespace remora::e2e
