#include "inject/sidecar.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "inject/probes.h"
#include "inject/values.h"
#include "inject/yaml_json.h"

namespace remora::inject {
namespace {

constexpr char kReadyPath[] = "/healthz/ready";

OrderedJson Resources(const ResourceSettings& r) {
  OrderedJson out = OrderedJson::object();
  OrderedJson requests = OrderedJson::object();
  OrderedJson limits = OrderedJson::object();
  if (!r.cpu_request.empty()) requests["cpu"] = r.cpu_request;
  if (!r.memory_request.empty()) requests["memory"] = r.memory_request;
  if (!r.cpu_limit.empty()) limits["cpu"] = r.cpu_limit;
  if (!r.memory_limit.empty()) limits["memory"] = r.memory_limit;
  if (!requests.empty()) out["requests"] = std::move(requests);
  if (!limits.empty()) out["limits"] = std::move(limits);
  return out;
}

OrderedJson ReadyGet() {
  OrderedJson get = OrderedJson::object();
  get["path"] = kReadyPath;
  get["port"] = kHealthPort;
  get["scheme"] = "HTTP";
  return get;
}

OrderedJson Probe(int period_seconds, int timeout_seconds, int failure_threshold) {
  OrderedJson probe = OrderedJson::object();
  probe["httpGet"] = ReadyGet();
  probe["periodSeconds"] = period_seconds;
  probe["timeoutSeconds"] = timeout_seconds;
  probe["failureThreshold"] = failure_threshold;
  return probe;
}

OrderedJson DownwardEnv(const char* name, const char* field_path) {
  OrderedJson env = OrderedJson::object();
  env["name"] = name;
  env["valueFrom"]["fieldRef"]["apiVersion"] = "v1";
  env["valueFrom"]["fieldRef"]["fieldPath"] = field_path;
  return env;
}

OrderedJson Port(int port, const char* name) {
  OrderedJson p = OrderedJson::object();
  p["containerPort"] = port;
  p["name"] = name;
  p["protocol"] = "TCP";
  return p;
}

OrderedJson Mount(const char* volume, const char* path) {
  OrderedJson m = OrderedJson::object();
  m["name"] = volume;
  m["mountPath"] = path;
  m["readOnly"] = true;
  return m;
}

// Kubernetes expands $(VAR) in env values and turns "$$" into "$"; doubling every "$" in a string
// that came from the pod makes it arrive literally.
void EscapeExpansion(OrderedJson& value) {
  if (value.is_string()) {
    value = absl::StrReplaceAll(value.get<std::string>(), {{"$", "$$"}});
  } else if (value.is_structured()) {
    for (auto& child : value) EscapeExpansion(child);
  }
}

}  // namespace

std::vector<std::string> InitArgs(const PodOptions& options) {
  std::vector<int> exclude_inbound(std::begin(kExcludedInboundPorts),
                                   std::end(kExcludedInboundPorts));
  for (int port : options.exclude_inbound_ports) {
    if (std::find(exclude_inbound.begin(), exclude_inbound.end(), port) == exclude_inbound.end()) {
      exclude_inbound.push_back(port);
    }
  }
  std::vector<std::string> args = {
      absl::StrCat("--inbound-capture-port=", kInboundCapturePort),
      absl::StrCat("--outbound-capture-port=", kOutboundCapturePort),
      absl::StrCat("--proxy-uid=", kProxyUid),
      absl::StrCat("--proxy-gid=", kProxyGid),
      // Every inbound port, declared or not: a listener the pod does not declare must not be
      // reachable around mTLS (Istio's includeInboundPorts default is "*" too). Exclusions are
      // explicit, by annotation.
      "--inbound-ports=*",
      absl::StrCat("--exclude-inbound-ports=", JoinPorts(exclude_inbound)),
  };
  if (!options.exclude_outbound_ports.empty()) {
    args.push_back(
        absl::StrCat("--exclude-outbound-ports=", JoinPorts(options.exclude_outbound_ports)));
  }
  if (!options.exclude_outbound_cidrs.empty()) {
    args.push_back(absl::StrCat("--exclude-outbound-cidrs=",
                                absl::StrJoin(options.exclude_outbound_cidrs, ",")));
  }
  if (options.outbound_cidrs.has_value()) {
    args.push_back(absl::StrCat("--outbound-cidrs=", absl::StrJoin(*options.outbound_cidrs, ",")));
  }
  return args;
}

std::string ProxyConfigYaml(const InjectorSettings& settings, const PodOptions& options,
                            const OrderedJson& app_probes) {
  OrderedJson config = OrderedJson::object();
  config["trust_domain"] = settings.trust_domain;
  config["log_level"] = options.log_level;
  OrderedJson& control_plane = config["control_plane"];
  control_plane["address"] = settings.control_plane_address;
  control_plane["token_file"] = absl::StrCat(kTokenDir, "/token");
  control_plane["ca_file"] = absl::StrCat(kCaDir, "/", kCaConfigMapKey);
  // Kubernetes substitutes these from the downward-API variables declared before this one.
  OrderedJson& workload = config["workload"];
  workload["name"] = "$(POD_NAME)";
  workload["namespace"] = "$(POD_NAMESPACE)";
  workload["ip"] = "$(POD_IP)";
  workload["service_account"] = "$(SERVICE_ACCOUNT)";
  if (options.forward_inbound_to_localhost) {
    // The opt-in of sidecar.remora.io/forwardInboundToLocalhost (proxy/config: inbound.forward_to).
    config["inbound"]["forward_to"] = "localhost";
  }
  config["health"] = absl::StrCat("0.0.0.0:", kHealthPort);
  config["prometheus"] = absl::StrCat("0.0.0.0:", kPrometheusPort);
  if (app_probes.is_object() && !app_probes.empty()) {
    OrderedJson probes = app_probes;
    EscapeExpansion(probes);
    config["app_probes"] = std::move(probes);
  }
  return JsonToYaml(config);
}

OrderedJson InitContainer(const InjectorSettings& settings, const PodOptions& options) {
  OrderedJson c = OrderedJson::object();
  c["name"] = kInitContainerName;
  c["image"] = settings.init_image;
  if (!settings.image_pull_policy.empty()) c["imagePullPolicy"] = settings.image_pull_policy;
  c["args"] = InitArgs(options);
  OrderedJson resources = Resources(settings.init_resources);
  if (!resources.empty()) c["resources"] = std::move(resources);
  // Root only because installing iptables rules needs it; the two capabilities that takes and
  // nothing else. The root filesystem stays writable for iptables' lock file (/run/xtables.lock).
  OrderedJson& sc = c["securityContext"];
  sc["allowPrivilegeEscalation"] = false;
  sc["capabilities"]["add"] = {"NET_ADMIN", "NET_RAW"};
  sc["capabilities"]["drop"] = {"ALL"};
  sc["privileged"] = false;
  sc["readOnlyRootFilesystem"] = false;
  sc["runAsGroup"] = 0;
  sc["runAsNonRoot"] = false;
  sc["runAsUser"] = 0;
  c["terminationMessagePolicy"] = "FallbackToLogsOnError";
  return c;
}

OrderedJson ProxyContainer(const InjectorSettings& settings, const PodOptions& options,
                           const OrderedJson& app_probes) {
  OrderedJson c = OrderedJson::object();
  c["name"] = kProxyContainerName;
  c["image"] = settings.proxy_image;
  if (!settings.image_pull_policy.empty()) c["imagePullPolicy"] = settings.image_pull_policy;
  c["args"] = {absl::StrCat("--config-env=", kProxyConfigEnv)};
  // The downward-API variables come first: Kubernetes expands $(VAR) only from earlier entries.
  OrderedJson env = OrderedJson::array();
  env.push_back(DownwardEnv("POD_NAME", "metadata.name"));
  env.push_back(DownwardEnv("POD_NAMESPACE", "metadata.namespace"));
  env.push_back(DownwardEnv("POD_IP", "status.podIP"));
  env.push_back(DownwardEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"));
  OrderedJson config = OrderedJson::object();
  config["name"] = kProxyConfigEnv;
  config["value"] = ProxyConfigYaml(settings, options, app_probes);
  env.push_back(std::move(config));
  c["env"] = std::move(env);
  c["ports"] = {Port(kPrometheusPort, "remora-metrics"), Port(kHealthPort, "remora-health")};
  OrderedJson resources = Resources(options.proxy_resources);
  if (!resources.empty()) c["resources"] = std::move(resources);
  if (options.native_sidecar) {
    // An init container that keeps running (Kubernetes native sidecar): the kubelet starts the
    // next init container, then the app, only once the startup probe passes, and stops it after
    // the app containers have exited, so Jobs complete.
    c["restartPolicy"] = "Always";
    c["startupProbe"] = Probe(/*period=*/1, /*timeout=*/3, /*failure_threshold=*/600);
  } else {
    // The kubelet starts containers in order and waits for a postStart hook before starting the
    // next one: the app starts once the proxy reports ready (or the timeout passes).
    c["lifecycle"]["postStart"]["exec"]["command"] = {
        kProxyContainerName,
        absl::StrCat("--wait-ready=", absl::ToInt64Seconds(settings.proxy_ready_timeout), "s")};
  }
  c["readinessProbe"] = Probe(/*period=*/2, /*timeout=*/3, /*failure_threshold=*/4);
  OrderedJson& sc = c["securityContext"];
  sc["allowPrivilegeEscalation"] = false;
  sc["capabilities"]["drop"] = {"ALL"};
  sc["privileged"] = false;
  sc["readOnlyRootFilesystem"] = true;
  sc["runAsGroup"] = kProxyGid;
  sc["runAsNonRoot"] = true;
  sc["runAsUser"] = kProxyUid;
  c["terminationMessagePolicy"] = "FallbackToLogsOnError";
  c["volumeMounts"] = {Mount(kTokenVolume, kTokenDir), Mount(kCaVolume, kCaDir)};
  return c;
}

std::vector<OrderedJson> Volumes() {
  OrderedJson token = OrderedJson::object();
  token["name"] = kTokenVolume;
  OrderedJson source = OrderedJson::object();
  source["serviceAccountToken"]["audience"] = kTokenAudience;
  source["serviceAccountToken"]["expirationSeconds"] = kTokenExpirationSeconds;
  source["serviceAccountToken"]["path"] = "token";
  token["projected"]["sources"] = OrderedJson::array({source});

  OrderedJson ca = OrderedJson::object();
  ca["name"] = kCaVolume;
  ca["configMap"]["name"] = kCaConfigMap;
  OrderedJson item = OrderedJson::object();
  item["key"] = kCaConfigMapKey;
  item["path"] = kCaConfigMapKey;
  ca["configMap"]["items"] = OrderedJson::array({item});
  return {token, ca};
}

}  // namespace remora::inject
