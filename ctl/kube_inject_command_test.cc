// `remoractl kube-inject` as an operator runs it: the real binary on a multi-document file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/yaml.h"
#include "inject/yaml_json.h"
#include "tests/support/process.h"

namespace remora::inject {
namespace {

using remora::testing::ReadFileOrEmpty;
using remora::testing::Runfile;
using remora::testing::TestDir;
using remora::testing::WriteFileOrDie;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct CommandRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `remoractl <args>` through sh so stdout and stderr land in separate files.
CommandRun Remoractl(const std::string& args) {
  static int counter = 0;
  const std::string dir = TestDir("remoractl");
  const std::string stem = absl::StrCat(dir, "/", ++counter);
  const std::string command =
      absl::StrCat(Runfile("ctl/remoractl"), " ", args, " >", stem, ".out 2>", stem, ".err");
  absl::StatusOr<remora::testing::Subprocess> p =
      remora::testing::Subprocess::Start({"/bin/sh", "-c", command}, stem + ".log");
  CommandRun run;
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return run;
  absl::StatusOr<int> code = p->Wait(absl::Seconds(60));
  EXPECT_TRUE(code.ok()) << code.status();
  run.exit_code = code.ok() ? *code : -1;
  run.out = ReadFileOrEmpty(stem + ".out");
  run.err = ReadFileOrEmpty(stem + ".err");
  return run;
}

std::vector<OrderedJson> Documents(const std::string& yaml) {
  std::vector<OrderedJson> out;
  absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(yaml, "stdout");
  EXPECT_TRUE(docs.ok()) << docs.status();
  if (!docs.ok()) return out;
  for (const YamlDocument& d : *docs) {
    absl::StatusOr<OrderedJson> j = YamlToJson(d.root);
    EXPECT_TRUE(j.ok()) << j.status();
    if (j.ok()) out.push_back(*j);
  }
  return out;
}

std::vector<std::string> Names(const OrderedJson& list) {
  std::vector<std::string> names;
  if (!list.is_array()) return names;
  for (const OrderedJson& c : list) names.push_back(c.value("name", ""));
  return names;
}

const std::string& AppYaml() {
  static const std::string path = Runfile("inject/testdata/manifests/app.yaml");
  return path;
}

TEST(KubeInjectCommandTest, InjectsAMultiDocumentFile) {
  CommandRun run = Remoractl("kube-inject -f " + AppYaml());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<OrderedJson> docs = Documents(run.out);
  std::vector<std::string> kinds;
  for (const OrderedJson& d : docs) kinds.push_back(d["kind"]);
  EXPECT_THAT(kinds, ElementsAre("Namespace", "Service", "Deployment", "StatefulSet", "DaemonSet",
                                 "Job", "CronJob", "Pod", "ConfigMap", "List"));

  const OrderedJson& web = docs[2]["spec"]["template"];
  EXPECT_THAT(Names(web["spec"]["initContainers"]), ElementsAre("remora-init", "remora-proxy"));
  EXPECT_THAT(Names(web["spec"]["containers"]), ElementsAre("web"));
  EXPECT_EQ(web["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"],
            "/app-health/web/readyz");
  EXPECT_EQ(web["spec"]["containers"][0]["env"][0]["value"], "on") << "a quoted string stays one";
  EXPECT_EQ(web["metadata"]["labels"]["version"], "1.4");
  const std::vector<std::string> init_args =
      web["spec"]["initContainers"][0]["args"].get<std::vector<std::string>>();
  EXPECT_THAT(init_args, ::testing::Contains("--inbound-ports=*"));

  // The StatefulSet asked for the classic sidecar.
  EXPECT_THAT(Names(docs[3]["spec"]["template"]["spec"]["containers"]),
              ElementsAre("remora-proxy", "postgres"));
  EXPECT_THAT(Names(docs[4]["spec"]["template"]["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy"));
  EXPECT_THAT(Names(docs[5]["spec"]["template"]["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy"));
  EXPECT_THAT(Names(docs[6]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy"));
  EXPECT_FALSE(docs[7]["spec"].contains("initContainers")) << "the debug pod opted out";
  EXPECT_THAT(Names(docs[9]["items"][0]["spec"]["template"]["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy"));

  // Documents without pods are printed as written, comments included.
  EXPECT_THAT(run.out, HasSubstr("  name: web  # the front end\n"));
  EXPECT_THAT(run.out, HasSubstr("data:\n  enabled: \"true\"\n  port: \"8080\"\n"));
  EXPECT_THAT(run.err, HasSubstr("document 8 (Pod shop/debug): skipped: opted out"));
}

TEST(KubeInjectCommandTest, ReadsStdinAndWritesTheSameAsFromAFile) {
  CommandRun from_file = Remoractl("kube-inject -f " + AppYaml());
  CommandRun from_stdin = Remoractl("kube-inject -f - < " + AppYaml());
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, from_file.out);
  EXPECT_THAT(from_stdin.err, HasSubstr("stdin document 8 (Pod shop/debug)"));
}

TEST(KubeInjectCommandTest, OutputFedBackIsUnchanged) {
  CommandRun first = Remoractl("kube-inject -f " + AppYaml());
  const std::string path = TestDir("remoractl") + "/injected.yaml";
  WriteFileOrDie(path, first.out);
  CommandRun second = Remoractl("kube-inject --filename=" + path);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
  EXPECT_THAT(second.err, HasSubstr("skipped: already injected"));
}

TEST(KubeInjectCommandTest, SettingsFileAndNamespaceFlag) {
  const std::string settings = TestDir("remoractl") + "/settings.yaml";
  WriteFileOrDie(settings, "proxy_image: registry.example/remora-proxy:9.9\n");
  CommandRun run = Remoractl("kube-inject -f " + AppYaml() + " --settings " + settings);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("image: registry.example/remora-proxy:9.9\n"));

  CommandRun off = Remoractl("kube-inject -f " + AppYaml() + " --namespace-injection=false");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_THAT(off.out, ::testing::Not(HasSubstr("remora-proxy")));
  EXPECT_THAT(off.err, HasSubstr("is not labelled remora-injection=enabled"));
}

TEST(KubeInjectCommandTest, ManifestThatIsNotUtf8IsBadInputNotAnInternalError) {
  const std::string bad = TestDir("remoractl") + "/latin1.yaml";
  WriteFileOrDie(bad,
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                 "  - name: a\n    image: a\n    livenessProbe: {tcpSocket: {port: 8\31780}}\n");
  CommandRun run = Remoractl("kube-inject -f " + bad);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, HasSubstr(bad + ": line 8, column 40: byte 0xCF is not valid UTF-8"));
  EXPECT_THAT(run.err, ::testing::Not(HasSubstr("internal error")));
}

TEST(KubeInjectCommandTest, BadInputAndUsageExitWithClearErrors) {
  const std::string bad = TestDir("remoractl") + "/bad.yaml";
  WriteFileOrDie(bad,
                 "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
                 "    sidecar.remora.io/excludeOutboundIPRanges: 10.0.0.1/8\n"
                 "spec:\n  containers: [{name: a, image: a}]\n");
  CommandRun run = Remoractl("kube-inject -f " + bad);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "") << "nothing is printed when a document fails";
  EXPECT_THAT(run.err, HasSubstr("remoractl: " + bad +
                                 " document 1 (Pod p): annotation "
                                 "sidecar.remora.io/excludeOutboundIPRanges: \"10.0.0.1/8\""));
  EXPECT_THAT(run.err, HasSubstr("has host bits set"));

  const std::string settings = TestDir("remoractl") + "/bad-settings.yaml";
  WriteFileOrDie(settings, "log_level: loud\n");
  run = Remoractl("kube-inject -f " + AppYaml() + " --settings=" + settings);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("log_level: \"loud\""));

  run = Remoractl("kube-inject -f /nonexistent/app.yaml");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("/nonexistent/app.yaml"));

  run = Remoractl("kube-inject");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("-f FILE is required"));

  run = Remoractl("kube-inject --bogus");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("unknown flag --bogus"));

  run = Remoractl("kube-inject --help");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.out, HasSubstr("usage:"));

  run = Remoractl("--help");
  EXPECT_THAT(run.out, HasSubstr("kube-inject"));
}

TEST(KubeInjectCommandTest, ExampleManifestsReadAndInjectAsDocumented) {
  for (const char* name :
       {"00-namespace.yaml", "10-rbac.yaml", "20-control-plane.yaml", "30-webhook.yaml"}) {
    const std::string path = Runfile(absl::StrCat("examples/kubernetes/", name));
    CommandRun run = Remoractl("kube-inject -f " + path);
    ASSERT_EQ(run.exit_code, 0) << name << ": " << run.err;
    // Nothing to inject there (the control plane opts out): printed exactly as written.
    EXPECT_EQ(run.out, ReadFileOrEmpty(path)) << name;
  }
  CommandRun control =
      Remoractl("kube-inject -f " + Runfile("examples/kubernetes/20-control-plane.yaml"));
  EXPECT_THAT(control.err,
              HasSubstr("(Deployment remora-system/remora-control): skipped: opted out"));

  CommandRun app = Remoractl("kube-inject -f " + Runfile("examples/kubernetes/40-sample-app.yaml"));
  ASSERT_EQ(app.exit_code, 0) << app.err;
  std::vector<OrderedJson> docs = Documents(app.out);
  ASSERT_EQ(docs.size(), 6u);
  const OrderedJson& web = docs[3]["spec"]["template"]["spec"];
  EXPECT_THAT(Names(web["initContainers"]), ElementsAre("remora-init", "remora-proxy"));
  EXPECT_EQ(web["initContainers"][1]["resources"]["requests"]["cpu"], "50m");
  EXPECT_EQ(web["containers"][0]["readinessProbe"]["httpGet"]["path"], "/app-health/web/readyz");
  EXPECT_THAT(Names(docs[5]["spec"]["template"]["spec"]["initContainers"]),
              ElementsAre("remora-init", "remora-proxy"));
}

}  // namespace
}  // namespace remora::inject
