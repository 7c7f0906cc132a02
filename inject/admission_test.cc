// The webhook's protocol logic end to end: AdmissionReview requests shaped exactly as the API
// server sends them (testdata/reviews/), the returned patch applied by python3-jsonpatch, and the
// resulting pod checked field by field.
#include "inject/admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <functional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "inject/annotations.h"
#include "inject/test_support.h"

namespace remora::inject {
namespace {

using testing::ApplyWithPython;
using ::testing::ElementsAre;
using testing::ExpandEnv;
using testing::FindContainer;
using ::testing::HasSubstr;
using testing::LoadFixture;
using ::testing::Not;

struct Reviewed {
  int http_status = 0;
  std::string body;
  Json response;           // review["response"] when the body is an AdmissionReview
  std::string patch_text;  // decoded patch, "" when none
  Json patched;            // the pod after python3-jsonpatch applied the patch
};

// Sends `review` through ReviewAdmission, checks the envelope, and applies the patch (if any) to
// the request's pod with python3-jsonpatch.
Reviewed Review(const Json& review, const InjectorSettings& settings = {}) {
  Reviewed out;
  AdmissionReply reply = ReviewAdmission(review.dump(), settings);
  out.http_status = reply.http_status;
  out.body = reply.body;
  if (reply.http_status != 200) return out;
  EXPECT_EQ(reply.content_type, "application/json");
  Json body = Json::parse(reply.body);
  EXPECT_EQ(body["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(body["kind"], "AdmissionReview");
  out.response = body["response"];
  EXPECT_EQ(out.response["uid"], review["request"]["uid"]) << "the uid must be echoed";
  out.patched = review["request"].value("object", Json());
  if (out.response.contains("patch")) {
    EXPECT_EQ(out.response["patchType"], "JSONPatch");
    EXPECT_TRUE(absl::Base64Unescape(out.response["patch"].get<std::string>(), &out.patch_text));
    absl::StatusOr<Json> patched = ApplyWithPython(review["request"]["object"], out.patch_text);
    EXPECT_TRUE(patched.ok()) << patched.status() << "\npatch: " << out.patch_text;
    if (patched.ok()) out.patched = *patched;
  } else {
    EXPECT_FALSE(out.response.contains("patchType"));
  }
  return out;
}

std::vector<std::string> Names(const Json& list) {
  std::vector<std::string> names;
  for (const Json& item : list) names.push_back(item.value("name", ""));
  return names;
}

std::vector<std::string> Strings(const Json& list) {
  std::vector<std::string> out;
  for (const Json& item : list) out.push_back(item.get<std::string>());
  return out;
}

// The proxy's REMORA_PROXY_CONFIG after Kubernetes' $(VAR) expansion with these pod values.
YAML::Node ExpandedProxyConfig(const Json& proxy) {
  std::map<std::string, std::string> vars = {{"POD_NAME", "web-6d8f7c9b5d-abcde"},
                                             {"POD_NAMESPACE", "shop"},
                                             {"POD_IP", "10.1.2.3"},
                                             {"SERVICE_ACCOUNT", "web"}};
  const Json& env = proxy["env"];
  EXPECT_EQ(env.back()["name"], "REMORA_PROXY_CONFIG");
  return YAML::Load(ExpandEnv(env.back()["value"].get<std::string>(), vars));
}

Json Annotations(const Json& pod) { return pod["metadata"]["annotations"]; }

TEST(AdmissionTest, InjectsReplicaSetPodAsNativeSidecar) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  Reviewed r = Review(review);
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_EQ(r.response["allowed"], true);
  ASSERT_FALSE(r.patch_text.empty());
  const Json& pod = r.patched;
  const Json& spec = pod["spec"];

  // Init containers: remora-init, then the proxy as a native sidecar; the app is untouched apart
  // from its probes.
  EXPECT_THAT(Names(spec["initContainers"]), ElementsAre("remora-init", "remora-proxy"));
  EXPECT_THAT(Names(spec["containers"]), ElementsAre("web"));

  const Json& init = spec["initContainers"][0];
  EXPECT_EQ(init["image"], "remora/remora-init:latest");
  EXPECT_THAT(Strings(init["args"]),
              ElementsAre("--inbound-capture-port=15006", "--outbound-capture-port=15001",
                          "--proxy-uid=1337", "--proxy-gid=1337",
                          "--inbound-ports=*",  // declared or not
                          "--exclude-inbound-ports=15021,15090"));
  const Json& isc = init["securityContext"];
  EXPECT_EQ(isc["privileged"], false);
  EXPECT_EQ(isc["allowPrivilegeEscalation"], false);
  EXPECT_EQ(isc["runAsUser"], 0);
  EXPECT_EQ(isc["runAsNonRoot"], false);
  EXPECT_THAT(Strings(isc["capabilities"]["add"]), ElementsAre("NET_ADMIN", "NET_RAW"));
  EXPECT_THAT(Strings(isc["capabilities"]["drop"]), ElementsAre("ALL"));
  EXPECT_EQ(init["resources"]["limits"]["memory"], "64Mi");
  EXPECT_FALSE(init.contains("volumeMounts"));

  const Json& proxy = spec["initContainers"][1];
  EXPECT_EQ(proxy["image"], "remora/remora-proxy:latest");
  EXPECT_EQ(proxy["restartPolicy"], "Always");
  EXPECT_THAT(Strings(proxy["args"]), ElementsAre("--config-env=REMORA_PROXY_CONFIG"));
  EXPECT_FALSE(proxy.contains("lifecycle"));
  const Json& psc = proxy["securityContext"];
  EXPECT_EQ(psc["runAsUser"], 1337);
  EXPECT_EQ(psc["runAsGroup"], 1337);
  EXPECT_EQ(psc["runAsNonRoot"], true);
  EXPECT_EQ(psc["readOnlyRootFilesystem"], true);
  EXPECT_EQ(psc["privileged"], false);
  EXPECT_EQ(psc["allowPrivilegeEscalation"], false);
  EXPECT_FALSE(psc["capabilities"].contains("add"));
  EXPECT_THAT(Strings(psc["capabilities"]["drop"]), ElementsAre("ALL"));
  EXPECT_EQ(proxy["resources"]["requests"]["cpu"], "100m");
  EXPECT_EQ(proxy["resources"]["requests"]["memory"], "128Mi");
  EXPECT_EQ(proxy["resources"]["limits"]["cpu"], "2");
  EXPECT_EQ(proxy["resources"]["limits"]["memory"], "1Gi");
  ASSERT_EQ(proxy["ports"].size(), 2u);
  EXPECT_EQ(proxy["ports"][0]["containerPort"], 15090);
  EXPECT_EQ(proxy["ports"][1]["containerPort"], 15021);
  for (const char* probe : {"startupProbe", "readinessProbe"}) {
    EXPECT_EQ(proxy[probe]["httpGet"]["path"], "/healthz/ready") << probe;
    EXPECT_EQ(proxy[probe]["httpGet"]["port"], 15021) << probe;
  }
  EXPECT_EQ(proxy["startupProbe"]["periodSeconds"], 1);

  // Env: the downward API first (Kubernetes expands $(VAR) only from earlier entries).
  EXPECT_THAT(Names(proxy["env"]), ElementsAre("POD_NAME", "POD_NAMESPACE", "POD_IP",
                                               "SERVICE_ACCOUNT", "REMORA_PROXY_CONFIG"));
  EXPECT_EQ(proxy["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
  EXPECT_EQ(proxy["env"][1]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
  EXPECT_EQ(proxy["env"][2]["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
  EXPECT_EQ(proxy["env"][3]["valueFrom"]["fieldRef"]["fieldPath"], "spec.serviceAccountName");
  YAML::Node config = ExpandedProxyConfig(proxy);
  EXPECT_EQ(config["trust_domain"].as<std::string>(), "cluster.local");
  EXPECT_EQ(config["log_level"].as<std::string>(), "info");
  EXPECT_EQ(config["control_plane"]["address"].as<std::string>(),
            "remora-control.remora-system.svc:15012");
  EXPECT_EQ(config["control_plane"]["token_file"].as<std::string>(),
            "/var/run/secrets/remora/token/token");
  EXPECT_EQ(config["control_plane"]["ca_file"].as<std::string>(),
            "/var/run/secrets/remora/ca/root-cert.pem");
  EXPECT_EQ(config["workload"]["name"].as<std::string>(), "web-6d8f7c9b5d-abcde");
  EXPECT_EQ(config["workload"]["namespace"].as<std::string>(), "shop");
  EXPECT_EQ(config["workload"]["ip"].as<std::string>(), "10.1.2.3");
  EXPECT_EQ(config["workload"]["service_account"].as<std::string>(), "web");
  EXPECT_EQ(config["health"].as<std::string>(), "0.0.0.0:15021");
  EXPECT_EQ(config["prometheus"].as<std::string>(), "0.0.0.0:15090");
  YAML::Node ready = config["app_probes"]["/app-health/web/readyz"]["http_get"];
  ASSERT_TRUE(ready.IsMap());
  EXPECT_EQ(ready["port"].as<int>(), 8080);  // the named port "http", resolved
  EXPECT_EQ(ready["path"].as<std::string>(), "/ready");
  EXPECT_EQ(ready["scheme"].as<std::string>(), "HTTP");
  EXPECT_EQ(ready["host"].as<std::string>(), "");
  ASSERT_EQ(ready["headers"].size(), 1u);
  EXPECT_EQ(ready["headers"][0]["name"].as<std::string>(), "X-Probe");
  EXPECT_EQ(ready["headers"][0]["value"].as<std::string>(), "kubelet");
  EXPECT_EQ(config["app_probes"]["/app-health/web/livez"]["tcp_socket"]["port"].as<int>(), 8080);
  EXPECT_FALSE(config["app_probes"]["/app-health/web/startupz"]) << "exec probes stay as they are";

  // Mounts and volumes: the user's volume stays first, ours are appended.
  ASSERT_EQ(proxy["volumeMounts"].size(), 2u);
  EXPECT_EQ(proxy["volumeMounts"][0]["name"], "remora-token");
  EXPECT_EQ(proxy["volumeMounts"][0]["mountPath"], "/var/run/secrets/remora/token");
  EXPECT_EQ(proxy["volumeMounts"][0]["readOnly"], true);
  EXPECT_EQ(proxy["volumeMounts"][1]["name"], "remora-ca");
  EXPECT_EQ(proxy["volumeMounts"][1]["mountPath"], "/var/run/secrets/remora/ca");
  EXPECT_THAT(Names(spec["volumes"]),
              ElementsAre("kube-api-access-x7k2p", "remora-token", "remora-ca"));
  const Json& token = spec["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"];
  EXPECT_EQ(token["audience"], "remora-control");
  EXPECT_EQ(token["expirationSeconds"], 3600);
  EXPECT_EQ(token["path"], "token");
  const Json& ca = spec["volumes"][2]["configMap"];
  EXPECT_EQ(ca["name"], "remora-ca-root-cert");
  EXPECT_EQ(ca["items"][0]["key"], "root-cert.pem");
  EXPECT_EQ(ca["items"][0]["path"], "root-cert.pem");

  // Probes of the app point at the proxy, with their timing kept; exec stays.
  const Json& web = spec["containers"][0];
  EXPECT_EQ(web["readinessProbe"]["httpGet"]["port"], 15021);
  EXPECT_EQ(web["readinessProbe"]["httpGet"]["path"], "/app-health/web/readyz");
  EXPECT_EQ(web["readinessProbe"]["httpGet"]["scheme"], "HTTP");
  EXPECT_FALSE(web["readinessProbe"]["httpGet"].contains("httpHeaders"));
  EXPECT_EQ(web["readinessProbe"]["initialDelaySeconds"], 3);
  EXPECT_EQ(web["readinessProbe"]["periodSeconds"], 5);
  EXPECT_EQ(web["readinessProbe"]["timeoutSeconds"], 2);
  EXPECT_EQ(web["livenessProbe"]["httpGet"]["path"], "/app-health/web/livez");
  EXPECT_FALSE(web["livenessProbe"].contains("tcpSocket"));
  EXPECT_EQ(web["livenessProbe"]["periodSeconds"], 10);
  EXPECT_EQ(web["startupProbe"],
            review["request"]["object"]["spec"]["containers"][0]["startupProbe"]);
  // Everything else about the app container is as it was.
  Json original_web = review["request"]["object"]["spec"]["containers"][0];
  Json web_without_probes = web;
  for (const char* p : {"readinessProbe", "livenessProbe"}) {
    original_web.erase(p);
    web_without_probes.erase(p);
  }
  EXPECT_EQ(web_without_probes, original_web);

  // Annotations: the pod's own are kept; the injector's are added.
  const Json annotations = Annotations(pod);
  EXPECT_EQ(annotations["prometheus.io/scrape"], "true");
  EXPECT_EQ(annotations["prometheus.io/port"], "9090");
  EXPECT_EQ(annotations["kubectl.kubernetes.io/default-container"], "web");
  Json status = Json::parse(annotations[kStatusAnnotation].get<std::string>());
  EXPECT_EQ(status["mode"], "native");
  EXPECT_THAT(Strings(status["initContainers"]), ElementsAre("remora-init", "remora-proxy"));
  Json rewritten = Json::parse(annotations[kRewrittenProbesAnnotation].get<std::string>());
  EXPECT_EQ(rewritten["/app-health/web/readyz"]["httpGet"]["port"], "http");
  EXPECT_EQ(rewritten["/app-health/web/livez"]["tcpSocket"]["port"], 8080);
  EXPECT_FALSE(rewritten.contains("/app-health/web/startupz"));

  // Nothing else in the pod changed.
  Json before = review["request"]["object"];
  Json after = pod;
  for (Json* p : {&before, &after}) {
    (*p)["spec"].erase("initContainers");
    (*p)["spec"].erase("containers");
    (*p)["spec"].erase("volumes");
    (*p)["metadata"].erase("annotations");
  }
  EXPECT_EQ(after, before);
  EXPECT_FALSE(r.response.contains("warnings"));
}

TEST(AdmissionTest, InjectsJobPodInClassicModeWithItsAnnotations) {
  Json review = LoadFixture("reviews/kubectl_job_pod.json");
  review["request"]["object"]["metadata"]["annotations"][kNativeSidecar] = "false";
  Reviewed r = Review(review);
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_EQ(r.response["allowed"], true);
  const Json& spec = r.patched["spec"];

  // Classic: remora-init runs after the pod's own init containers; the proxy is the first
  // container and holds the app back with its postStart hook.
  EXPECT_THAT(Names(spec["initContainers"]), ElementsAre("migrate", "remora-init"));
  EXPECT_THAT(Names(spec["containers"]), ElementsAre("remora-proxy", "report", "uploader"));
  const Json& proxy = spec["containers"][0];
  EXPECT_FALSE(proxy.contains("restartPolicy"));
  EXPECT_FALSE(proxy.contains("startupProbe"));
  EXPECT_THAT(Strings(proxy["lifecycle"]["postStart"]["exec"]["command"]),
              ElementsAre("remora-proxy", "--wait-ready=60s"));
  EXPECT_EQ(proxy["readinessProbe"]["httpGet"]["port"], 15021);

  // The annotations reach remora-init's flags, the proxy's resources and its log level.
  EXPECT_THAT(
      Strings(spec["initContainers"][1]["args"]),
      ElementsAre("--inbound-capture-port=15006", "--outbound-capture-port=15001",
                  "--proxy-uid=1337", "--proxy-gid=1337", "--inbound-ports=*",
                  "--exclude-inbound-ports=15021,15090,9000", "--exclude-outbound-ports=5432,6379",
                  "--exclude-outbound-cidrs=169.254.169.254/32,10.96.0.0/12",
                  "--outbound-cidrs=10.0.0.0/8,fd00::/8"));
  EXPECT_EQ(proxy["resources"]["requests"]["cpu"], "50m");
  EXPECT_EQ(proxy["resources"]["requests"]["memory"], "64Mi");
  EXPECT_EQ(proxy["resources"]["limits"]["cpu"], "500m");
  EXPECT_EQ(proxy["resources"]["limits"]["memory"], "256Mi");
  YAML::Node config = ExpandedProxyConfig(proxy);
  EXPECT_EQ(config["log_level"].as<std::string>(), "debug");

  // The HTTPS probe of the second container was rewritten (index 2 after the proxy went first);
  // the gRPC probe was not, and the webhook says so.
  EXPECT_EQ(spec["containers"][1]["readinessProbe"]["grpc"]["port"], 9000);
  EXPECT_EQ(spec["containers"][2]["livenessProbe"]["httpGet"]["path"],
            "/app-health/uploader/livez");
  YAML::Node live = config["app_probes"]["/app-health/uploader/livez"]["http_get"];
  EXPECT_EQ(live["scheme"].as<std::string>(), "HTTPS");
  EXPECT_EQ(live["host"].as<std::string>(), "127.0.0.1");
  EXPECT_EQ(live["port"].as<int>(), 8081);

  EXPECT_EQ(Annotations(r.patched)["kubectl.kubernetes.io/default-container"], "report");
  Json status = Json::parse(Annotations(r.patched)[kStatusAnnotation].get<std::string>());
  EXPECT_EQ(status["mode"], "classic");
  ASSERT_TRUE(r.response.contains("warnings"));
  std::string warnings = r.response["warnings"].dump();
  EXPECT_THAT(warnings, HasSubstr("readinessProbe is a gRPC probe"));
  EXPECT_THAT(warnings, HasSubstr("restartPolicy Never) will not complete"));
}

TEST(AdmissionTest, NativeSidecarGoesBeforeThePodsOwnInitContainers) {
  Json review = LoadFixture("reviews/kubectl_job_pod.json");
  Reviewed r = Review(review);
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_THAT(Names(r.patched["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy", "migrate"));
  EXPECT_THAT(Names(r.patched["spec"]["containers"]), ElementsAre("report", "uploader"));
  EXPECT_THAT(Names(r.patched["spec"]["volumes"]),
              ElementsAre("work", "kube-api-access-9qzrt", "remora-token", "remora-ca"));
  // Native sidecars let Jobs complete: no warning about it.
  EXPECT_THAT(r.response["warnings"].dump(), Not(HasSubstr("will not complete")));
}

TEST(AdmissionTest, PodWithoutAnnotationsVolumesOrInitContainersGetsWholeLists) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  Json& pod = review["request"]["object"];
  pod["metadata"].erase("annotations");
  pod["spec"].erase("volumes");
  pod["spec"]["containers"][0].erase("volumeMounts");
  Reviewed r = Review(review);
  ASSERT_EQ(r.http_status, 200) << r.body;
  Json ops = Json::parse(r.patch_text);
  std::vector<std::string> paths;
  for (const Json& op : ops) paths.push_back(op["path"]);
  EXPECT_THAT(paths,
              ElementsAre("/spec/containers/0/readinessProbe", "/spec/containers/0/livenessProbe",
                          "/metadata/annotations", "/spec/initContainers", "/spec/volumes"));
  EXPECT_THAT(Names(r.patched["spec"]["volumes"]), ElementsAre("remora-token", "remora-ca"));
  EXPECT_EQ(Annotations(r.patched).size(), 3u);  // status, rewrittenProbes, default-container
}

TEST(AdmissionTest, AnnotationKeysWithSlashesAreEscapedInPatchPaths) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  Reviewed r = Review(review);
  ASSERT_EQ(r.http_status, 200);
  Json ops = Json::parse(r.patch_text);
  std::vector<std::string> paths;
  for (const Json& op : ops) paths.push_back(op["path"]);
  EXPECT_THAT(paths, ::testing::Contains("/metadata/annotations/sidecar.remora.io~1status"));
  EXPECT_THAT(
      paths, ::testing::Contains("/metadata/annotations/kubectl.kubernetes.io~1default-container"));
}

TEST(AdmissionTest, InjectedPodIsLeftAlone) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  Reviewed first = Review(review);
  ASSERT_FALSE(first.patch_text.empty());
  review["request"]["object"] = first.patched;
  review["request"]["uid"] = "second-uid";
  Reviewed second = Review(review);
  ASSERT_EQ(second.http_status, 200);
  EXPECT_EQ(second.response["allowed"], true);
  EXPECT_FALSE(second.response.contains("patch"));
}

TEST(AdmissionTest, PodWithAProxyContainerButNoStatusIsLeftAlone) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  Json proxy = {{"name", "remora-proxy"}, {"image", "custom"}};
  review["request"]["object"]["spec"]["containers"].push_back(proxy);
  Reviewed r = Review(review);
  EXPECT_EQ(r.response["allowed"], true);
  EXPECT_FALSE(r.response.contains("patch"));
}

TEST(AdmissionTest, OptedOutPodIsAllowedUnchangedEvenWithBadAnnotations) {
  for (const char* where : {"annotations", "labels"}) {
    Json review = LoadFixture("reviews/replicaset_pod.json");
    Json& meta = review["request"]["object"]["metadata"];
    meta[where][kInjectKey] = "false";
    meta["annotations"][kExcludeInboundPorts] = "not-a-port";
    Reviewed r = Review(review);
    ASSERT_EQ(r.http_status, 200) << where;
    EXPECT_EQ(r.response["allowed"], true) << where;
    EXPECT_FALSE(r.response.contains("patch")) << where;
  }
}

TEST(AdmissionTest, OptInPodIsInjected) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  review["request"]["object"]["metadata"]["annotations"][kInjectKey] = "true";
  Reviewed r = Review(review);
  EXPECT_EQ(r.response["allowed"], true);
  EXPECT_NE(FindContainer(r.patched, "initContainers", "remora-proxy"), nullptr);
}

TEST(AdmissionTest, HostNetworkAndMirrorPodsAreSkipped) {
  Json host = LoadFixture("reviews/replicaset_pod.json");
  host["request"]["object"]["spec"]["hostNetwork"] = true;
  Reviewed r = Review(host);
  EXPECT_EQ(r.response["allowed"], true);
  EXPECT_FALSE(r.response.contains("patch"));

  Json mirror = LoadFixture("reviews/replicaset_pod.json");
  mirror["request"]["object"]["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "abc";
  r = Review(mirror);
  EXPECT_EQ(r.response["allowed"], true);
  EXPECT_FALSE(r.response.contains("patch"));
}

TEST(AdmissionTest, DryRunIsAnsweredLikeARealCreate) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  Reviewed real = Review(review);
  review["request"]["dryRun"] = true;
  Reviewed dry = Review(review);
  EXPECT_EQ(dry.patch_text, real.patch_text);
}

TEST(AdmissionTest, DollarSignsFromThePodReachTheProxyLiterally) {
  Json review = LoadFixture("reviews/replicaset_pod.json");
  review["request"]["object"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] =
      "/ready?x=$(POD_NAME)&y=$$";
  Reviewed r = Review(review);
  ASSERT_EQ(r.http_status, 200);
  YAML::Node config =
      ExpandedProxyConfig(*FindContainer(r.patched, "initContainers", "remora-proxy"));
  EXPECT_EQ(config["app_probes"]["/app-health/web/readyz"]["http_get"]["path"].as<std::string>(),
            "/ready?x=$(POD_NAME)&y=$$");
}

TEST(AdmissionTest, SettingsChooseImagesAddressAndMode) {
  InjectorSettings settings;
  settings.proxy_image = "registry.example/remora-proxy:1.2";
  settings.init_image = "registry.example/remora-init:1.2";
  settings.image_pull_policy = "Always";
  settings.control_plane_address = "cp.mesh.svc:15012";
  settings.trust_domain = "prod.example";
  settings.native_sidecar = false;
  settings.proxy_ready_timeout = absl::Seconds(90);
  Reviewed r = Review(LoadFixture("reviews/replicaset_pod.json"), settings);
  ASSERT_EQ(r.http_status, 200);
  const Json* proxy = FindContainer(r.patched, "containers", "remora-proxy");
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ((*proxy)["image"], "registry.example/remora-proxy:1.2");
  EXPECT_EQ((*proxy)["imagePullPolicy"], "Always");
  EXPECT_EQ((*proxy)["lifecycle"]["postStart"]["exec"]["command"][1], "--wait-ready=90s");
  EXPECT_EQ((*FindContainer(r.patched, "initContainers", "remora-init"))["image"],
            "registry.example/remora-init:1.2");
  YAML::Node config = ExpandedProxyConfig(*proxy);
  EXPECT_EQ(config["control_plane"]["address"].as<std::string>(), "cp.mesh.svc:15012");
  EXPECT_EQ(config["trust_domain"].as<std::string>(), "prod.example");
}

// --- Pods the injector refuses: denied with the reason, never crashed on. -----------------------

struct DeniedCase {
  const char* name;
  std::function<void(Json& pod)> mutate;
  const char* message;
};

TEST(AdmissionTest, RefusedPodsAreDeniedWithTheReason) {
  const std::vector<DeniedCase> cases = {
      {"bad port list",
       [](Json& p) { p["metadata"]["annotations"][kExcludeInboundPorts] = "80,http"; },
       "annotation sidecar.remora.io/excludeInboundPorts: \"80,http\": \"http\" is not a port "
       "number (1-65535)"},
      {"port out of range",
       [](Json& p) { p["metadata"]["annotations"][kExcludeOutboundPorts] = "70000"; },
       "\"70000\" is not a port number"},
      {"empty port list", [](Json& p) { p["metadata"]["annotations"][kExcludeOutboundPorts] = ""; },
       "sidecar.remora.io/excludeOutboundPorts: \"\": is empty"},
      {"bad cidr",
       [](Json& p) { p["metadata"]["annotations"][kExcludeOutboundIPRanges] = "10.0.0.0/33"; },
       "prefix length \"33\" is not in 0..32"},
      {"cidr with host bits",
       [](Json& p) { p["metadata"]["annotations"][kIncludeOutboundIPRanges] = "10.1.2.3/8"; },
       "has host bits set after the /8 prefix"},
      {"not an address",
       [](Json& p) { p["metadata"]["annotations"][kExcludeOutboundIPRanges] = "db.local/32"; },
       "\"db.local\" is not an IP address"},
      {"star in exclude",
       [](Json& p) { p["metadata"]["annotations"][kExcludeOutboundIPRanges] = "*"; },
       "\"*\" is not allowed here"},
      {"bad cpu", [](Json& p) { p["metadata"]["annotations"][kProxyCPU] = "two"; },
       "sidecar.remora.io/proxyCPU: \"two\": \"two\" is not a Kubernetes quantity"},
      {"bad memory suffix", [](Json& p) { p["metadata"]["annotations"][kProxyMemory] = "128MB"; },
       "unknown suffix \"MB\""},
      {"request over default limit",
       [](Json& p) { p["metadata"]["annotations"][kProxyMemory] = "2Gi"; },
       "annotation sidecar.remora.io/proxyMemory: the memory request 2Gi is more than the memory "
       "limit 1Gi (the injector settings' proxy_resources.limits.memory)"},
      {"request over annotated limit",
       [](Json& p) {
         p["metadata"]["annotations"][kProxyCPU] = "1";
         p["metadata"]["annotations"][kProxyCPULimit] = "500m";
       },
       "the CPU request 1 is more than the CPU limit 500m (annotation "
       "sidecar.remora.io/proxyCPULimit)"},
      {"bad log level", [](Json& p) { p["metadata"]["annotations"][kLogLevel] = "verbose"; },
       "sidecar.remora.io/logLevel: \"verbose\": is not debug, info, warn or error"},
      {"bad native flag", [](Json& p) { p["metadata"]["annotations"][kNativeSidecar] = "no"; },
       "annotation sidecar.remora.io/nativeSidecar: \"no\" is not \"true\" or \"false\""},
      {"bad inject value", [](Json& p) { p["metadata"]["annotations"][kInjectKey] = "enabled"; },
       "annotation sidecar.remora.io/inject: \"enabled\" is not \"true\" or \"false\""},
      {"label and annotation disagree",
       [](Json& p) {
         p["metadata"]["labels"][kInjectKey] = "true";
         p["metadata"]["annotations"][kInjectKey] = "false";
       },
       "disagree"},
      {"unknown annotation",
       [](Json& p) { p["metadata"]["annotations"]["sidecar.remora.io/excludeInboundPort"] = "1"; },
       "annotation sidecar.remora.io/excludeInboundPort is not one the Remora injector knows"},
      {"reserved port",
       [](Json& p) { p["spec"]["containers"][0]["ports"][0]["containerPort"] = 15021; },
       "container \"web\" declares port 15021, which the Remora proxy uses"},
      {"proxy uid", [](Json& p) { p["spec"]["securityContext"]["runAsUser"] = 1337; },
       "container \"web\" runs with runAsUser 1337, which is the Remora proxy's"},
      {"reserved container name",
       [](Json& p) { p["spec"]["containers"][0]["name"] = "remora-init"; },
       "\"remora-init\" is reserved"},
      {"reserved volume name", [](Json& p) { p["spec"]["volumes"][0]["name"] = "remora-token"; },
       "spec.volumes[0].name \"remora-token\" is reserved"},
      {"no containers", [](Json& p) { p["spec"]["containers"] = Json::array(); },
       "spec.containers is empty"},
      {"wrong type", [](Json& p) { p["spec"]["containers"][0]["ports"] = "8080"; },
       "spec.containers[0].ports must be a list, not a string"},
      {"annotation not a string", [](Json& p) { p["metadata"]["annotations"]["x"] = 5; },
       "metadata.annotations[\"x\"] must be a string"},
  };
  for (const DeniedCase& c : cases) {
    Json review = LoadFixture("reviews/replicaset_pod.json");
    c.mutate(review["request"]["object"]);
    Reviewed r = Review(review);
    ASSERT_EQ(r.http_status, 200) << c.name << ": " << r.body;
    EXPECT_EQ(r.response["allowed"], false) << c.name;
    EXPECT_FALSE(r.response.contains("patch")) << c.name;
    EXPECT_EQ(r.response["status"]["code"], 400) << c.name;
    EXPECT_EQ(r.response["status"]["status"], "Failure") << c.name;
    EXPECT_THAT(r.response["status"]["message"].get<std::string>(),
                HasSubstr("Remora sidecar injection refused the pod: "))
        << c.name;
    EXPECT_THAT(r.response["status"]["message"].get<std::string>(), HasSubstr(c.message)) << c.name;
  }
}

// --- Requests that are not what the webhook expects. --------------------------------------------

TEST(AdmissionTest, MalformedBodiesGetHttp400WithTheReason) {
  struct Case {
    std::string body;
    int status;
    const char* message;
  };
  Json no_uid = LoadFixture("reviews/replicaset_pod.json");
  no_uid["request"].erase("uid");
  Json empty_uid = LoadFixture("reviews/replicaset_pod.json");
  empty_uid["request"]["uid"] = "";
  Json numeric_uid = LoadFixture("reviews/replicaset_pod.json");
  numeric_uid["request"]["uid"] = 42;
  Json beta = LoadFixture("reviews/replicaset_pod.json");
  beta["apiVersion"] = "admission.k8s.io/v1beta1";
  Json no_request = LoadFixture("reviews/replicaset_pod.json");
  no_request.erase("request");
  Json wrong_kind = LoadFixture("reviews/replicaset_pod.json");
  wrong_kind["kind"] = "TokenReview";
  std::string deep(1000, '[');
  const std::vector<Case> cases = {
      {"", 400, "request body is not JSON: "},
      {"{\"kind\": \"AdmissionReview\",", 400, "request body is not JSON: "},
      {"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\n", 400,
       "request body is not JSON: "},
      {"[1,2,3]", 400, "not an AdmissionReview: the body is JSON but not an object"},
      {"{}", 400, "not an AdmissionReview: kind is \"\""},
      {wrong_kind.dump(), 400, "kind is \"TokenReview\", expected \"AdmissionReview\""},
      {beta.dump(), 400,
       "unsupported apiVersion \"admission.k8s.io/v1beta1\": this webhook speaks "
       "admission.k8s.io/v1"},
      {no_request.dump(), 400, "request is missing or not an object"},
      {no_uid.dump(), 400, "request.uid is missing or empty"},
      {empty_uid.dump(), 400, "request.uid is missing or empty"},
      {numeric_uid.dump(), 400, "request.uid is missing or empty"},
      {deep, 400, "nested deeper than 100 levels"},
      {"{\"kind\": \"Admission\xd0Review\"}", 400,
       "request body is not UTF-8 JSON: byte 0xD0 at offset 19 is not valid UTF-8"},
  };
  for (const Case& c : cases) {
    AdmissionReply reply = ReviewAdmission(c.body, InjectorSettings{});
    EXPECT_EQ(reply.http_status, c.status) << c.body.substr(0, 80);
    EXPECT_EQ(reply.content_type, "text/plain; charset=utf-8");
    EXPECT_THAT(reply.body, HasSubstr(c.message)) << c.body.substr(0, 80);
  }
}

TEST(AdmissionTest, BodyOverTheLimitIsRefusedWith413) {
  std::string body = LoadFixture("reviews/replicaset_pod.json").dump();
  AdmissionReply reply = ReviewAdmission(body, InjectorSettings{}, body.size() - 1);
  EXPECT_EQ(reply.http_status, 413);
  EXPECT_THAT(reply.body,
              HasSubstr(absl::StrCat("admission review of ", body.size(),
                                     " bytes is over the limit of ", body.size() - 1, " bytes")));
  EXPECT_EQ(ReviewAdmission(body, InjectorSettings{}, body.size()).http_status, 200);
}

TEST(AdmissionTest, UnexpectedObjectsAreDeniedOnceTheUidIsKnown) {
  struct Case {
    const char* name;
    std::function<void(Json& request)> mutate;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"deployment",
       [](Json& r) {
         r["kind"] = {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}};
         r["resource"] = {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}};
       },
       "injects pods only, and got apps/v1 Deployment: check the rules of its "
       "MutatingWebhookConfiguration"},
      {"subresource", [](Json& r) { r["subResource"] = "ephemeralcontainers"; },
       "got v1 Pod subresource ephemeralcontainers"},
      {"no kind", [](Json& r) { r.erase("kind"); }, "got an unknown kind"},
      {"no object", [](Json& r) { r.erase("object"); }, "request.object is missing"},
      {"object not an object", [](Json& r) { r["object"] = "pod"; }, "request.object is missing"},
      {"object of another kind", [](Json& r) { r["object"]["kind"] = "Service"; },
       "request.object is a Service, not a Pod"},
      {"no spec", [](Json& r) { r["object"].erase("spec"); }, "spec is missing"},
  };
  for (const Case& c : cases) {
    Json review = LoadFixture("reviews/replicaset_pod.json");
    c.mutate(review["request"]);
    Reviewed r = Review(review);
    ASSERT_EQ(r.http_status, 200) << c.name << ": " << r.body;
    EXPECT_EQ(r.response["allowed"], false) << c.name;
    EXPECT_EQ(r.response["status"]["code"], 400) << c.name;
    EXPECT_THAT(r.response["status"]["message"].get<std::string>(), HasSubstr(c.message)) << c.name;
  }
}

TEST(AdmissionTest, OperationsOtherThanCreateAreAllowedUnchanged) {
  for (const char* operation : {"UPDATE", "DELETE", "CONNECT"}) {
    Json review = LoadFixture("reviews/replicaset_pod.json");
    review["request"]["operation"] = operation;
    review["request"]["oldObject"] = review["request"]["object"];
    Reviewed r = Review(review);
    ASSERT_EQ(r.http_status, 200) << operation;
    EXPECT_EQ(r.response["allowed"], true) << operation;
    EXPECT_FALSE(r.response.contains("patch")) << operation;
  }
}

}  // namespace
}  // namespace remora::inject
