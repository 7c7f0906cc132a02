// A typed, path-tracking view over yaml-cpp nodes for parsing untrusted YAML: every accessor
// returns a Status whose message starts with the field path ("listeners[1].address: ...").
// yaml-cpp reports problems by throwing; LoadYamlDocuments is the one place that catches.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace remora {

// A scalar's text as UTF-8. yaml-cpp decodes the YAML escapes \N (U+0085) and \_ (U+00A0) to the
// bare bytes 0x85 and 0xA0 instead of their UTF-8 forms; LoadYamlDocuments has checked that the
// text itself is UTF-8, so those are the only bytes to mend. Read every scalar through this.
std::string YamlScalar(const YAML::Node& node);

class YamlField {
 public:
  // yaml-cpp's "zombie" nodes (a missing key of a const map) throw on every accessor but
  // IsDefined(); they are replaced by a valid undefined node so no accessor here can throw.
  YamlField(YAML::Node node, std::string path)
      : node_(node.IsDefined() ? std::move(node) : YAML::Node(YAML::NodeType::Undefined)),
        path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  // Absent or explicitly null.
  bool IsMissing() const;
  bool IsMap() const { return node_.IsMap(); }
  bool IsSequence() const { return node_.IsSequence(); }
  bool IsScalar() const { return node_.IsScalar(); }

  // InvalidArgument "<path>: <why>".
  absl::Status Error(absl::string_view why) const;

  YamlField operator[](absl::string_view key) const;  // child of a map (missing if absent)
  size_t size() const;                                // sequence length
  YamlField At(size_t i) const;                       // sequence element
  // Map entries in document order.
  absl::StatusOr<std::vector<std::pair<std::string, YamlField>>> Entries() const;

  // Fails when this map has a key outside `allowed`, naming it and the allowed keys, so typos in
  // configuration are caught rather than ignored. A missing field passes.
  absl::Status OnlyKeys(std::initializer_list<absl::string_view> allowed) const;

  absl::StatusOr<std::string> String() const;
  absl::StatusOr<int64_t> Int(int64_t min, int64_t max) const;
  absl::StatusOr<bool> Bool() const;
  // Go-style durations ("10s", "500ms", "1h").
  absl::StatusOr<absl::Duration> Duration() const;
  // A sequence of scalars (a missing field is an empty list).
  absl::StatusOr<std::vector<std::string>> StringList() const;
  // A map of scalar to scalar (a missing field is an empty map).
  absl::StatusOr<std::map<std::string, std::string>> StringMap() const;

  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node node_;
  std::string path_;
};

struct YamlDocument {
  YAML::Node root;
  int index = 0;  // 0-based position in the stream, for messages
};

// Parses a stream of YAML documents ("---" separated), skipping empty ones. Refuses input larger
// than `max_bytes` and syntax errors, naming `what` and the line.
absl::StatusOr<std::vector<YamlDocument>> LoadYamlDocuments(absl::string_view text,
                                                            absl::string_view what,
                                                            size_t max_bytes = 4 << 20);

// Renders a node back as YAML text (used by `get -o yaml`).
std::string DumpYaml(const YAML::Node& node);

// Runs `parse` and turns any exception yaml-cpp throws past our checks into InvalidArgument: the
// last line of defence that keeps bad input from ever crashing a process.
template <typename T, typename F>
absl::StatusOr<T> GuardYaml(absl::string_view what, F&& parse) {
  try {
    return parse();
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what()));
  }
}

}  // namespace remora
