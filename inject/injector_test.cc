// The injection decision and the shape of the patch, without sockets or subprocesses.
#include "inject/injector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "inject/annotations.h"
#include "inject/probes.h"
#include "inject/sidecar.h"

namespace remora::inject {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Json Pod() {
  return Json::parse(R"({
    "metadata": {"name": "app", "labels": {"app": "app"}},
    "spec": {
      "containers": [{
        "name": "app",
        "image": "app:1",
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080,
                           "httpHeaders": [{"name": "x", "value": "y"}]}},
        "livenessProbe": {"tcpSocket": {"port": 8080}}
      }]
    }
  })");
}

InjectionResult MustInject(const Json& pod, bool namespace_enabled = true,
                           const InjectorSettings& settings = {}) {
  absl::StatusOr<InjectionResult> r = ComputeInjection(pod, namespace_enabled, settings);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : InjectionResult{};
}

Json Applied(const Json& pod, const InjectionResult& r) {
  return Json(OrderedJson(pod).patch(r.patch));
}

std::vector<std::string> Paths(const InjectionResult& r) {
  std::vector<std::string> paths;
  for (const OrderedJson& op : r.patch) paths.push_back(op["path"]);
  return paths;
}

std::vector<std::string> InitArgsOf(const Json& pod) {
  for (const Json& c : pod["spec"]["initContainers"]) {
    if (c["name"] == "remora-init") return c["args"].get<std::vector<std::string>>();
  }
  return {};
}

TEST(InjectorTest, NamespaceLabelMustSayEnabled) {
  EXPECT_TRUE(NamespaceEnablesInjection({{"remora-injection", "enabled"}}));
  EXPECT_FALSE(NamespaceEnablesInjection({{"remora-injection", "disabled"}}));
  EXPECT_FALSE(NamespaceEnablesInjection({{"remora-injection", "true"}}));
  EXPECT_FALSE(NamespaceEnablesInjection({}));
}

TEST(InjectorTest, DisabledNamespaceSkipsUnlessThePodOptsIn) {
  InjectionResult skipped = MustInject(Pod(), /*namespace_enabled=*/false);
  EXPECT_FALSE(skipped.injected);
  EXPECT_TRUE(skipped.patch.empty());
  EXPECT_THAT(skipped.reason, HasSubstr("not labelled remora-injection=enabled"));

  Json opt_in = Pod();
  opt_in["metadata"]["annotations"][kInjectKey] = "true";
  EXPECT_TRUE(MustInject(opt_in, false).injected);
  Json opt_in_label = Pod();
  opt_in_label["metadata"]["labels"][kInjectKey] = "true";
  EXPECT_TRUE(MustInject(opt_in_label, false).injected);
}

TEST(InjectorTest, OptOutWinsInAnEnabledNamespace) {
  Json pod = Pod();
  pod["metadata"]["labels"][kInjectKey] = "false";
  InjectionResult r = MustInject(pod);
  EXPECT_FALSE(r.injected);
  EXPECT_THAT(r.reason, HasSubstr("opted out"));
}

TEST(InjectorTest, HostNetworkPodIsSkippedEvenWhenItOptsIn) {
  Json pod = Pod();
  pod["spec"]["hostNetwork"] = true;
  pod["metadata"]["annotations"][kInjectKey] = "true";
  InjectionResult r = MustInject(pod);
  EXPECT_FALSE(r.injected);
  EXPECT_THAT(r.reason, HasSubstr("hostNetwork"));
}

TEST(InjectorTest, InjectingTheResultAgainChangesNothing) {
  Json injected = Applied(Pod(), MustInject(Pod()));
  InjectionResult again = MustInject(injected);
  EXPECT_FALSE(again.injected);
  EXPECT_TRUE(again.patch.empty());
  EXPECT_EQ(again.reason, "skipped: already injected");
}

TEST(InjectorTest, TemplateWithoutMetadataGetsIt) {
  Json pod = Pod();
  pod.erase("metadata");
  InjectionResult r = MustInject(pod);
  EXPECT_THAT(Paths(r),
              ElementsAre("/spec/containers/0/readinessProbe", "/spec/containers/0/livenessProbe",
                          "/metadata", "/spec/initContainers", "/spec/volumes"));
  Json applied = Applied(pod, r);
  EXPECT_TRUE(applied["metadata"]["annotations"].contains(kStatusAnnotation));
}

TEST(InjectorTest, ExistingListsAreExtendedInPlace) {
  Json pod = Pod();
  pod["metadata"]["annotations"] = {{"a", "b"}};
  pod["spec"]["initContainers"] = Json::array({{{"name", "setup"}, {"image", "s"}}});
  pod["spec"]["volumes"] = Json::array({{{"name", "data"}, {"emptyDir", Json::object()}}});
  InjectionResult r = MustInject(pod);
  EXPECT_THAT(Paths(r),
              ElementsAre("/spec/containers/0/readinessProbe", "/spec/containers/0/livenessProbe",
                          "/metadata/annotations/sidecar.remora.io~1status",
                          "/metadata/annotations/sidecar.remora.io~1rewrittenProbes",
                          "/metadata/annotations/kubectl.kubernetes.io~1default-container",
                          "/spec/initContainers/0", "/spec/initContainers/1", "/spec/volumes/-",
                          "/spec/volumes/-"));

  pod["metadata"]["annotations"][kNativeSidecar] = "false";
  pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] = "app";
  InjectionResult classic = MustInject(pod);
  EXPECT_THAT(Paths(classic),
              ElementsAre("/spec/containers/0/readinessProbe", "/spec/containers/0/livenessProbe",
                          "/metadata/annotations/sidecar.remora.io~1status",
                          "/metadata/annotations/sidecar.remora.io~1rewrittenProbes",
                          "/spec/initContainers/-", "/spec/containers/0", "/spec/volumes/-",
                          "/spec/volumes/-"));
  Json applied = Applied(pod, classic);
  EXPECT_EQ(applied["spec"]["containers"][0]["name"], "remora-proxy");
  EXPECT_EQ(applied["spec"]["containers"][1]["readinessProbe"]["httpGet"]["port"], 15021);
}

TEST(InjectorTest, EveryInboundPortIsCapturedEvenWhenThePodDeclaresSome) {
  Json pod = Pod();
  pod["spec"]["containers"][0].erase("ports");
  EXPECT_THAT(InitArgsOf(Applied(pod, MustInject(pod))), ::testing::Contains("--inbound-ports=*"));

  // A pod that declares ports may still listen on others (containerPort is informational in
  // Kubernetes): capturing only the declared ones would leave those reachable without mTLS.
  pod = Pod();
  pod["spec"]["containers"][0]["ports"] = Json::parse(
      R"([{"containerPort": 8080}, {"containerPort": 53, "protocol": "UDP"},
          {"containerPort": 8080, "protocol": "TCP", "name": "again"}])");
  pod["spec"]["containers"].push_back(
      Json::parse(R"({"name": "admin", "ports": [{"containerPort": 9901, "protocol": "TCP"},
                                                  {"containerPort": 3868, "protocol": "SCTP"}]})"));
  pod["spec"]["initContainers"] = Json::parse(
      R"([{"name": "logs", "restartPolicy": "Always", "ports": [{"containerPort": 24224}]},
          {"name": "setup", "ports": [{"containerPort": 7000}]}])");
  EXPECT_THAT(InitArgsOf(Applied(pod, MustInject(pod))), ::testing::Contains("--inbound-ports=*"));
}

TEST(InjectorTest, UnresolvedNamedProbePortIsLeftAloneWithAWarning) {
  Json pod = Pod();
  pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = "web";
  InjectionResult r = MustInject(pod);
  EXPECT_THAT(Paths(r), ::testing::Not(::testing::Contains("/spec/containers/0/readinessProbe")));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_THAT(r.warnings[0], HasSubstr("port \"web\" is not a port number or a named port"));
}

TEST(InjectorTest, ProxyConfigIsTheDocumentedShape) {
  absl::StatusOr<ProbeRewrite> probes = RewriteProbes(Pod()["spec"]["containers"], "/x");
  ASSERT_TRUE(probes.ok());
  PodOptions options;
  options.log_level = "info";
  EXPECT_EQ(ProxyConfigYaml(InjectorSettings{}, options, probes->app_probes),
            R"yaml(trust_domain: cluster.local
log_level: info
control_plane:
  address: remora-control.remora-system.svc:15012
  token_file: /var/run/secrets/remora/token/token
  ca_file: /var/run/secrets/remora/ca/root-cert.pem
workload:
  name: "$(POD_NAME)"
  namespace: "$(POD_NAMESPACE)"
  ip: "$(POD_IP)"
  service_account: "$(SERVICE_ACCOUNT)"
health: "0.0.0.0:15021"
prometheus: "0.0.0.0:15090"
app_probes:
  /app-health/app/readyz:
    http_get:
      port: 8080
      path: /healthz
      scheme: HTTP
      host: ""
      headers:
      - name: x
        value: "y"
  /app-health/app/livez:
    tcp_socket:
      port: 8080
)yaml");
  // Without rewritten probes there is no app_probes key at all.
  EXPECT_THAT(ProxyConfigYaml(InjectorSettings{}, options, OrderedJson::object()),
              ::testing::Not(HasSubstr("app_probes")));
}

TEST(InjectorTest, InitArgsCarryOptionalFlagsOnlyWhenSet) {
  PodOptions options;
  EXPECT_THAT(InitArgs(options),
              ElementsAre("--inbound-capture-port=15006", "--outbound-capture-port=15001",
                          "--proxy-uid=1337", "--proxy-gid=1337", "--inbound-ports=*",
                          "--exclude-inbound-ports=15021,15090"));
  options.exclude_inbound_ports = {15021, 9000};  // 15021 is already there
  options.exclude_outbound_ports = {5432};
  options.exclude_outbound_cidrs = {"10.0.0.0/8"};
  options.outbound_cidrs = std::vector<std::string>{"*"};
  EXPECT_THAT(
      InitArgs(options),
      ElementsAre("--inbound-capture-port=15006", "--outbound-capture-port=15001",
                  "--proxy-uid=1337", "--proxy-gid=1337", "--inbound-ports=*",
                  "--exclude-inbound-ports=15021,15090,9000", "--exclude-outbound-ports=5432",
                  "--exclude-outbound-cidrs=10.0.0.0/8", "--outbound-cidrs=*"));
}

TEST(InjectorTest, AppRunningAsTheProxyGroupIsRefused) {
  Json pod = Pod();
  pod["spec"]["containers"][0]["securityContext"] = {{"runAsGroup", 1337}};
  absl::StatusOr<InjectionResult> r = ComputeInjection(pod, true, InjectorSettings{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("runs with runAsGroup 1337"));
  // A container's own user overrides the pod's.
  pod = Pod();
  pod["spec"]["securityContext"] = {{"runAsUser", 1337}};
  pod["spec"]["containers"][0]["securityContext"] = {{"runAsUser", 1000}};
  EXPECT_TRUE(ComputeInjection(pod, true, InjectorSettings{}).ok());
}

TEST(InjectorTest, UnknownAnnotationNamesTheKnownOnes) {
  Json pod = Pod();
  pod["metadata"]["annotations"]["sidecar.remora.io/proxyCpu"] = "100m";
  absl::StatusOr<InjectionResult> r = ComputeInjection(pod, true, InjectorSettings{});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("sidecar.remora.io/proxyCpu is not one the Remora injector knows"));
  EXPECT_THAT(r.status().message(), HasSubstr("sidecar.remora.io/proxyCPU,"));
  // Other prefixes are none of the injector's business.
  pod["metadata"]["annotations"].erase("sidecar.remora.io/proxyCpu");
  pod["metadata"]["annotations"]["sidecar.istio.io/inject"] = "maybe";
  EXPECT_TRUE(ComputeInjection(pod, true, InjectorSettings{}).ok());
}

TEST(InjectorTest, ResourceAnnotationsOverrideSettings) {
  InjectorSettings settings;
  settings.proxy_resources = {"100m", "", "", ""};  // only a CPU request by default
  Json pod = Pod();
  pod["metadata"]["annotations"][kProxyMemoryLimit] = "512Mi";
  Json applied = Applied(pod, MustInject(pod, true, settings));
  const Json& proxy = applied["spec"]["initContainers"][1];
  EXPECT_EQ(proxy["resources"], Json::parse(R"({"requests": {"cpu": "100m"},
                                                 "limits": {"memory": "512Mi"}})"));
}

// Issue 16: nothing of Remora listens on 15020, so excluding it from capture only let an app on
// that port be reached without mTLS. The injector no longer asks remora-init to exclude it.
TEST(InjectorTest, Port15020IsCapturedLikeAnyAppPort) {
  for (const std::string& arg : InitArgs(PodOptions{})) {
    if (absl::StartsWith(arg, "--exclude-inbound-ports=")) {
      EXPECT_EQ(arg, "--exclude-inbound-ports=15021,15090");
    }
  }
  // An app may declare it like any other port: it is captured, and reached through the proxy.
  Json pod = Pod();
  pod["spec"]["containers"][0]["ports"] = Json::parse(R"([{"containerPort": 15020}])");
  absl::StatusOr<InjectionResult> r = ComputeInjection(pod, true, InjectorSettings{});
  ASSERT_TRUE(r.ok()) << r.status();
}

// Forwarding inbound traffic to 127.0.0.1 is an explicit opt-in, per pod or cluster-wide; the
// default leaves the proxy's inbound.forward_to at the pod's own address.
TEST(InjectorTest, ForwardInboundToLocalhostIsAnOptIn) {
  absl::StatusOr<PodOptions> defaults = ResolvePodOptions({}, InjectorSettings{});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_FALSE(defaults->forward_inbound_to_localhost);
  EXPECT_THAT(ProxyConfigYaml(InjectorSettings{}, *defaults, OrderedJson::object()),
              ::testing::Not(HasSubstr("forward_to")));

  absl::StatusOr<PodOptions> opted =
      ResolvePodOptions({{kForwardInboundToLocalhost, "true"}}, InjectorSettings{});
  ASSERT_TRUE(opted.ok()) << opted.status();
  EXPECT_THAT(ProxyConfigYaml(InjectorSettings{}, *opted, OrderedJson::object()),
              HasSubstr("inbound:\n  forward_to: localhost\n"));

  InjectorSettings cluster;
  cluster.forward_inbound_to_localhost = true;
  absl::StatusOr<PodOptions> back =
      ResolvePodOptions({{kForwardInboundToLocalhost, "false"}}, cluster);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->forward_inbound_to_localhost);

  absl::StatusOr<PodOptions> bad =
      ResolvePodOptions({{kForwardInboundToLocalhost, "yes"}}, InjectorSettings{});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr(kForwardInboundToLocalhost));
}

}  // namespace
}  // namespace remora::inject
