#include "inject/kube_inject.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/yaml.h"
#include "inject/yaml_json.h"

namespace remora::inject {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<OrderedJson> Documents(const std::string& yaml) {
  std::vector<OrderedJson> out;
  absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(yaml, "output");
  EXPECT_TRUE(docs.ok()) << docs.status();
  if (!docs.ok()) return out;
  for (const YamlDocument& d : *docs) {
    absl::StatusOr<OrderedJson> j = YamlToJson(d.root);
    EXPECT_TRUE(j.ok()) << j.status();
    if (j.ok()) out.push_back(*j);
  }
  return out;
}

KubeInjectOutput MustInject(const std::string& yaml, KubeInjectOptions options = {}) {
  absl::StatusOr<KubeInjectOutput> out =
      InjectManifests(yaml, "test.yaml", InjectorSettings{}, options);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : KubeInjectOutput{};
}

std::vector<std::string> Names(const OrderedJson& list) {
  std::vector<std::string> names;
  if (!list.is_array()) return names;
  for (const OrderedJson& c : list) names.push_back(c.value("name", ""));
  return names;
}

const char kWorkloads[] = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers: [{name: db, image: db}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers: [{name: agent, image: agent}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  template:
    spec:
      containers: [{name: rs, image: rs}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  template:
    spec:
      containers: [{name: rc, image: rc}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: job, image: job}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cron}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: cron, image: cron}]
---
apiVersion: v1
kind: Pod
metadata: {name: pod}
spec:
  containers: [{name: pod, image: pod}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: listed}
  spec:
    containers: [{name: listed, image: listed}]
)";

TEST(KubeInjectTest, InjectsThePodsOfEveryWorkloadKind) {
  KubeInjectOutput out = MustInject(kWorkloads);
  std::vector<OrderedJson> docs = Documents(out.yaml);
  ASSERT_EQ(docs.size(), 9u) << out.yaml;
  for (size_t i = 0; i < 6; ++i) {
    const OrderedJson& spec = docs[i]["spec"]["template"]["spec"];
    EXPECT_THAT(Names(spec["initContainers"]), ElementsAre("remora-init", "remora-proxy"))
        << docs[i]["kind"];
    EXPECT_TRUE(
        docs[i]["spec"]["template"]["metadata"]["annotations"].contains("sidecar.remora.io/status"))
        << docs[i]["kind"];
  }
  EXPECT_THAT(Names(docs[6]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy"));
  EXPECT_THAT(Names(docs[7]["spec"]["initContainers"]), ElementsAre("remora-init", "remora-proxy"));
  EXPECT_THAT(Names(docs[8]["items"][0]["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy"));
  // The rest of each object is as written, in the order written.
  EXPECT_EQ(docs[0]["metadata"], OrderedJson::parse(R"({"name": "web", "namespace": "shop"})"));
  EXPECT_EQ(docs[6]["spec"]["schedule"], "@daily");
  EXPECT_EQ(docs[0].begin().key(), "apiVersion");
  EXPECT_TRUE(out.notes.empty()) << out.notes[0];
}

TEST(KubeInjectTest, InjectingTheOutputAgainChangesNothing) {
  KubeInjectOutput first = MustInject(kWorkloads);
  KubeInjectOutput second = MustInject(first.yaml);
  EXPECT_EQ(second.yaml, first.yaml);
  ASSERT_EQ(second.notes.size(), 9u);
  EXPECT_THAT(second.notes[0],
              HasSubstr("test.yaml document 1 (Deployment shop/web): skipped: already injected"));
  EXPECT_THAT(second.notes[8], HasSubstr("document 9 item 1 (Pod listed): skipped"));
}

TEST(KubeInjectTest, OtherDocumentsPassThroughAsWritten) {
  const std::string yaml =
      "# the front end\n"
      "apiVersion: v1\n"
      "kind: Service\n"
      "metadata:\n"
      "  name: web   # comments survive\n"
      "spec: {ports: [{port: 80}]}\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "data:\n"
      "  enabled: yes\n"
      "  port: 0644\n";
  KubeInjectOutput out = MustInject(yaml);
  EXPECT_EQ(out.yaml, yaml);
}

TEST(KubeInjectTest, SkippedPodsAndWarningsAreReported) {
  const std::string yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: debug
  annotations: {sidecar.remora.io/inject: "false"}
spec:
  containers: [{name: shell, image: busybox}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: classic}
spec:
  template:
    metadata:
      annotations: {sidecar.remora.io/nativeSidecar: "false"}
    spec:
      restartPolicy: Never
      containers: [{name: job, image: job}]
)";
  KubeInjectOutput out = MustInject(yaml);
  ASSERT_EQ(out.notes.size(), 2u);
  EXPECT_THAT(out.notes[0], HasSubstr("document 1 (Pod debug): skipped: opted out"));
  EXPECT_THAT(out.notes[1], HasSubstr("document 2 (Job classic): warning: the classic"));
  std::vector<OrderedJson> docs = Documents(out.yaml);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_FALSE(docs[0]["spec"].contains("initContainers"));
  EXPECT_THAT(Names(docs[1]["spec"]["template"]["spec"]["containers"]),
              ElementsAre("remora-proxy", "job"));
}

TEST(KubeInjectTest, WithoutNamespaceInjectionOnlyOptInsAreInjected) {
  const std::string yaml = R"(apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: a, image: a}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: b
  labels: {sidecar.remora.io/inject: "true"}
spec: {containers: [{name: b, image: b}]}
)";
  KubeInjectOptions options;
  options.namespace_enabled = false;
  KubeInjectOutput out = MustInject(yaml, options);
  std::vector<OrderedJson> docs = Documents(out.yaml);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_FALSE(docs[0]["spec"].contains("initContainers"));
  EXPECT_TRUE(docs[1]["spec"].contains("initContainers"));
}

TEST(KubeInjectTest, ErrorsNameTheDocument) {
  struct Case {
    std::string yaml;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"kind: Service\n---\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
            "  template:\n    metadata:\n      annotations: {sidecar.remora.io/proxyCPU: lots}\n"
            "    spec: {containers: [{name: web}]}\n",
            "test.yaml document 2 (Deployment shop/web): annotation sidecar.remora.io/proxyCPU: "
            "\"lots\""},
           {"kind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n",
            "test.yaml document 1 (Deployment web): a Deployment needs spec.template"},
           {"kind: CronJob\nspec: {jobTemplate: {}}\n",
            "a CronJob needs spec.jobTemplate.spec (an object)"},
           {"kind: Pod\nspec: {containers: [{name: a}]\nmetadata: {}\n",
            "test.yaml: YAML syntax error at line"},
           {"kind: Pod\nmetadata: {name: a, name: b}\nspec: {}\n",
            "test.yaml document 1: metadata.name: the key appears twice"},
       }) {
    absl::StatusOr<KubeInjectOutput> out =
        InjectManifests(c.yaml, "test.yaml", InjectorSettings{}, KubeInjectOptions{});
    ASSERT_FALSE(out.ok()) << c.yaml;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(out.status().message(), HasSubstr(c.message)) << c.yaml;
  }
}

TEST(KubeInjectTest, RefusesAManifestThatIsNotUtf8WithItsPosition) {
  // Found by //inject:kube_inject_fuzz: a probe port "8\xcf80" reached nlohmann's dump() in the
  // probe rewriter's error message, which throws on invalid UTF-8 ("internal error:
  // [json.exception.type_error.316]"). YAML is UTF-8 text; the reader refuses it up front.
  const std::string yaml =
      "kind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n"
      "    readinessProbe: {httpGet: {port: \"8\31780\"}}\n";
  absl::StatusOr<KubeInjectOutput> out =
      InjectManifests(yaml, "test.yaml", InjectorSettings{}, KubeInjectOptions{});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status().message(),
            "test.yaml: line 6, column 40: byte 0xCF is not valid UTF-8; YAML is UTF-8 text, "
            "so save the file as UTF-8");
}

TEST(KubeInjectTest, InjectingTwiceIsStableWithNelAndNbspEscapes) {
  // Found by //inject:kube_inject_fuzz (idempotence): an annotation "line1\N..." came back from
  // yaml-cpp as the byte 0x85, was written out raw, and the second run refused its own output.
  const std::string yaml =
      "kind: Pod\nmetadata:\n  name: web\n  annotations: {c: \"line1\\Nline2\", d: \"a\\_b\"}\n"
      "spec:\n  containers:\n  - name: app\n    image: app\n";
  KubeInjectOutput first = MustInject(yaml);
  KubeInjectOutput second = MustInject(first.yaml);
  EXPECT_EQ(second.yaml, first.yaml);
  std::vector<OrderedJson> docs = Documents(first.yaml);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["metadata"]["annotations"]["c"], "line1\u0085line2");
  EXPECT_EQ(docs[0]["metadata"]["annotations"]["d"], "a\u00a0b");
}

TEST(KubeInjectTest, RefusesControlCharactersThatYamlDoesNotAllow) {
  // Found by //inject:kube_inject_fuzz (idempotence): a document starting with a NUL byte was
  // read by yaml-cpp as UTF-16 once kube-inject had printed it on its own, so a second run read
  // another document. YAML holds printable characters only (YAML 1.2 section 5.1).
  const std::string yaml("# c\n---\n\0# A shapiVersopi", 25);
  absl::StatusOr<KubeInjectOutput> out =
      InjectManifests(yaml, "test.yaml", InjectorSettings{}, KubeInjectOptions{});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(),
              HasSubstr("test.yaml: line 3, column 1: character U+0000 is not allowed in YAML"));
}

TEST(KubeInjectTest, EmptyInputGivesEmptyOutput) {
  KubeInjectOutput out = MustInject("---\n# nothing\n---\n");
  EXPECT_EQ(out.yaml, "");
}

}  // namespace
}  // namespace remora::inject
