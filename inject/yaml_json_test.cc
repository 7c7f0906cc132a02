#include "inject/yaml_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/yaml.h"

namespace remora::inject {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<OrderedJson> Convert(const std::string& yaml) {
  absl::StatusOr<std::vector<YamlDocument>> docs = LoadYamlDocuments(yaml, "test");
  if (!docs.ok()) return docs.status();
  if (docs->size() != 1) return absl::InvalidArgumentError("expected one document");
  return YamlToJson((*docs)[0].root);
}

OrderedJson MustConvert(const std::string& yaml) {
  absl::StatusOr<OrderedJson> j = Convert(yaml);
  EXPECT_TRUE(j.ok()) << j.status() << "\n" << yaml;
  return j.ok() ? *j : OrderedJson();
}

TEST(YamlJsonTest, PlainScalarsResolveAsKubectlReadsThem) {
  OrderedJson j = MustConvert(R"(
int: 42
negative: -7
octal: 0644
octal_new: 0o17
hex: 0x1F
binary: 0b101
underscores: 1_000
float: 1.5
exponent: 1e3
big: 18446744073709551615
yes_word: yes
off_word: Off
true_word: true
null_word: null
tilde: ~
empty:
version: 1.2.3
date: 2024-05-14
quoted_int: "42"
single_quoted_bool: 'true'
tagged: !!str 12
block: |
  line one
  line two
)");
  EXPECT_EQ(j["int"], 42);
  EXPECT_EQ(j["negative"], -7);
  EXPECT_EQ(j["octal"], 420);
  EXPECT_EQ(j["octal_new"], 15);
  EXPECT_EQ(j["hex"], 31);
  EXPECT_EQ(j["binary"], 5);
  EXPECT_EQ(j["underscores"], 1000);
  EXPECT_EQ(j["float"], 1.5);
  EXPECT_EQ(j["exponent"], 1000.0);
  EXPECT_EQ(j["big"], 18446744073709551615ull);
  EXPECT_EQ(j["yes_word"], true);
  EXPECT_EQ(j["off_word"], false);
  EXPECT_EQ(j["true_word"], true);
  EXPECT_TRUE(j["null_word"].is_null());
  EXPECT_TRUE(j["tilde"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["version"], "1.2.3");
  EXPECT_EQ(j["date"], "2024-05-14");
  EXPECT_EQ(j["quoted_int"], "42");
  EXPECT_EQ(j["single_quoted_bool"], "true");
  EXPECT_EQ(j["tagged"], "12");
  EXPECT_EQ(j["block"], "line one\nline two\n");
  // Key order is the document's.
  EXPECT_EQ(j.begin().key(), "int");
}

TEST(YamlJsonTest, LabelAndAnnotationValuesAreAlwaysStrings) {
  OrderedJson j = MustConvert(R"(
metadata:
  labels: {version: 1.0, enabled: true}
  annotations:
    sidecar.remora.io/inject: false
    sidecar.remora.io/excludeOutboundPorts: 5432
    empty:
spec:
  template:
    metadata:
      annotations: {sidecar.remora.io/proxyCPU: 0100}
  replicas: 3
  selector: {matchLabels: {version: 2}}
)");
  EXPECT_EQ(j["metadata"]["labels"]["version"], "1.0");
  EXPECT_EQ(j["metadata"]["labels"]["enabled"], "true");
  EXPECT_EQ(j["metadata"]["annotations"]["sidecar.remora.io/inject"], "false");
  EXPECT_EQ(j["metadata"]["annotations"]["sidecar.remora.io/excludeOutboundPorts"], "5432");
  EXPECT_EQ(j["metadata"]["annotations"]["empty"], "");
  EXPECT_EQ(j["spec"]["template"]["metadata"]["annotations"]["sidecar.remora.io/proxyCPU"], "0100");
  EXPECT_EQ(j["spec"]["replicas"], 3);
  // Only metadata's labels: a selector keeps YAML's types (Kubernetes would refuse it).
  EXPECT_EQ(j["spec"]["selector"]["matchLabels"]["version"], 2);
}

TEST(YamlJsonTest, RefusesWhatJsonCannotHold) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  for (const Case& c : {
           Case{"a: 1\na: 2\n", "a: the key appears twice"},
           Case{"base: &b {x: 1}\nderived:\n  <<: *b\n", "derived.<<: YAML merge keys"},
           Case{"? [a, b]\n: c\n", "map keys must be strings"},
           Case{"x: .inf\n", "x: .inf has no JSON form"},
           Case{"x: [.NaN]\n", "x[0]: .NaN has no JSON form"},
       }) {
    absl::StatusOr<OrderedJson> j = Convert(c.yaml);
    ASSERT_FALSE(j.ok()) << c.yaml;
    EXPECT_THAT(j.status().message(), HasSubstr(c.message)) << c.yaml;
  }
}

TEST(YamlJsonTest, AliasBombIsRefused) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += (k ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  absl::StatusOr<OrderedJson> j = Convert(yaml);
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(j.status().message(), HasSubstr("expands to more than 1000000 nodes"));
}

TEST(YamlJsonTest, WritesKubectlStyleYaml) {
  OrderedJson j = OrderedJson::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "annotations": {"a/b": "true", "n": "8080"}},
    "spec": {"containers": [{"name": "c", "args": ["--x=1", "-v", "plain words"],
                             "ports": [{"containerPort": 80}], "env": []}],
             "nested": [[1, 2], {}], "flag": false, "nothing": null, "ratio": 0.5}
  })");
  EXPECT_EQ(JsonToYaml(j), R"(apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    a/b: "true"
    "n": "8080"
spec:
  containers:
  - name: c
    args:
    - --x=1
    - -v
    - plain words
    ports:
    - containerPort: 80
    env: []
  nested:
  - - 1
    - 2
  - {}
  flag: false
  nothing: null
  ratio: 0.5
)");
}

TEST(YamlJsonTest, EveryStringReadsBackUnchanged) {
  const std::vector<std::string> strings = {
      "",
      " ",
      "true",
      "True",
      "yes",
      "Y",
      "n",
      "on",
      "OFF",
      "null",
      "~",
      "NULL",
      "0",
      "0644",
      "1e3",
      "-1",
      "+1",
      ".5",
      "-.inf",
      ".NaN",
      "1.2.3",
      "12:30",
      "2024-05-14",
      "a: b",
      "a:",
      "a #b",
      "#c",
      "- x",
      "-",
      "--",
      "---",
      "...",
      "? q",
      "[x]",
      "{y}",
      "*ref",
      "&anchor",
      "!tag",
      "|",
      ">",
      "'s'",
      "\"d\"",
      "%p",
      "@at",
      "`tick`",
      "a,b",
      "x  y",
      " lead",
      "trail ",
      "tab\there",
      "back\\slash",
      "line1\nline2\n",
      "line1\nline2",
      "line1\n\n\n",
      "\nstarts",
      "  indented\nmore\n",
      "trailing \nspace\n",
      "cr\r\nlf",
      "bell\a",
      "del\x7f",
      "ünïcødé",
      "$(POD_NAME)",
      "$$",
      "<<",
      "=",
      "a=b",
      "/app-health/x/readyz",
      "0.0.0.0:15021",
      "remora-control.remora-system.svc:15012",
      "key: |\n  nested\n",
      "nel\u0085x",
      "nbsp\u00a0x",
      "ls\u2028x ps\u2029x",
      "multi\nline\u0085\n",
  };
  OrderedJson doc = OrderedJson::object();
  OrderedJson list = OrderedJson::array();
  for (size_t i = 0; i < strings.size(); ++i) {
    doc["k" + std::to_string(i)] = strings[i];
    doc[strings[i].empty() ? "empty-key" : strings[i]] = static_cast<int>(i);
    list.push_back(strings[i]);
  }
  doc["list"] = list;
  doc["nested"] = OrderedJson::array({list, OrderedJson::object({{"in", list}})});
  const std::string yaml = JsonToYaml(doc);
  absl::StatusOr<OrderedJson> back = Convert(yaml);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(*back, doc) << yaml;
}

TEST(YamlJsonTest, YamlEscapesForNelAndNbspReadAsUtf8) {
  // YAML 1.2 section 5.7: \N is U+0085 and \_ is U+00A0. yaml-cpp decodes them to the single
  // bytes 0x85 and 0xA0, which are not UTF-8 (found by //inject:kube_inject_fuzz: the second
  // kube-inject of its own output refused it).
  OrderedJson j =
      MustConvert("metadata:\n  annotations: {a: \"line1\\Nline2\", b: \"x\\_y\"}\n\"k\\N\": 1\n");
  EXPECT_EQ(j["metadata"]["annotations"]["a"], "line1\u0085line2");
  EXPECT_EQ(j["metadata"]["annotations"]["b"], "x\u00a0y");
  EXPECT_TRUE(j.contains("k\u0085"));
}

TEST(YamlJsonTest, WritesYamlLineBreakCharactersAsEscapes) {
  // YAML 1.1 (kubectl's go-yaml) reads NEL, LS and PS as line breaks and folds them inside
  // quotes; written as escapes they read back as themselves everywhere.
  OrderedJson doc = {{"a", "x\u0085y\u2028z\u2029"}, {"b", "two\nlines\u2028\n"}};
  const std::string yaml = JsonToYaml(doc);
  EXPECT_THAT(yaml, HasSubstr("a: \"x\\Ny\\Lz\\P\"\n"));
  EXPECT_THAT(yaml, HasSubstr("b: \"two\\nlines\\L\\n\"\n"));
  EXPECT_EQ(MustConvert(yaml), doc) << yaml;
}

TEST(YamlJsonTest, ProxyConfigStyleStringsUseLiteralBlocks) {
  OrderedJson j = OrderedJson::object();
  j["value"] = "a: 1\nb:\n  c: 2\n";
  EXPECT_EQ(JsonToYaml(j), "value: |\n  a: 1\n  b:\n    c: 2\n");
  j["value"] = "no final newline\nx";
  EXPECT_EQ(JsonToYaml(j), "value: |-\n  no final newline\n  x\n");
}

}  // namespace
}  // namespace remora::inject
