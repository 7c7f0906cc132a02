// The watch stream's framing and events: kube-apiserver writes one JSON object per line,
// `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}` (the watch.Event of
// k8s.io/apimachinery/pkg/watch, JSON-encoded and newline-terminated), over a chunked response
// whose chunk boundaries need not match the lines. Both parsers here are pure and bounded.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  // The object; for kBookmark only kind/apiVersion/metadata.resourceVersion, for kError a
  // metav1.Status.
  nlohmann::json object;
};

absl::string_view WatchEventTypeName(WatchEvent::Type type);

// Parses one line of the stream. Refuses unknown types and objects without metadata (an ERROR
// event's object is a Status and needs none).
absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view line);

// Reassembles lines from the stream's bytes, holding at most `max_line` bytes of an incomplete
// line: a longer line is an error rather than unbounded memory.
class JsonLineBuffer {
 public:
  explicit JsonLineBuffer(size_t max_line) : max_line_(max_line) {}

  // Appends bytes; ResourceExhausted when an incomplete line grows past the limit.
  absl::Status Append(absl::string_view data);
  // Moves the next complete line (without its newline; blank lines are skipped) into `line`.
  bool Next(std::string* line);
  // Bytes held that Next() has not returned.
  size_t pending() const { return buffer_.size() - start_; }

 private:
  absl::Status TooLong() const;

  size_t max_line_;
  std::string buffer_;
  size_t start_ = 0;  // first byte Next() has not returned
  size_t tail_ = 0;   // first byte of the incomplete last line: [start_, tail_) are whole lines
};

}  // namespace remora::kube
