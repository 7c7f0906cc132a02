// Kubernetes manifests between YAML and JSON, the way kubectl reads them (sigs.k8s.io/yaml: YAML
// 1.1 scalars), and back to YAML that reads the same. Quoted scalars are strings; plain scalars
// resolve to null, booleans (true/false/yes/no/on/off), integers (decimal, 0x, 0o, 0b, and
// 0-prefixed octal as in `defaultMode: 0644`) and floats, else strings. Values of `metadata.labels`
// and `metadata.annotations` (at any depth, so pod templates too) are Kubernetes strings: a plain
// scalar there keeps its text as a string (`sidecar.remora.io/inject: false` means "false").
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/status/statusor.h"
#include "inject/pod_json.h"

namespace remora::inject {

// Converts one YAML document. Refuses what has no JSON form (non-scalar or duplicate map keys,
// merge keys, .inf/.nan), documents nested deeper than 200 levels, and alias expansion beyond
// 1,000,000 nodes (a "billion laughs" document). Errors name the path ("spec.containers[0]").
absl::StatusOr<OrderedJson> YamlToJson(const YAML::Node& node);

// Renders a JSON value as block-style YAML ending in a newline, kubectl-style (list items at
// their key's indentation). A string is written plain only when it cannot read back as anything
// else and has no characters YAML treats specially; otherwise it is double-quoted, or, when it
// has several lines, a literal block (|). Strings containing "$(" are always quoted: Kubernetes
// substitutes a variable there and the result must stay a string.
std::string JsonToYaml(const OrderedJson& value);

}  // namespace remora::inject
