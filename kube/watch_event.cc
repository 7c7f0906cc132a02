#include "kube/watch_event.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "kube/api_status.h"

namespace remora::kube {

absl::string_view WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "?";
}

absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view line) {
  absl::StatusOr<nlohmann::json> parsed = ParseJsonObject(line, "watch event");
  if (!parsed.ok()) return parsed.status();
  auto type = parsed->find("type");
  if (type == parsed->end() || !type->is_string()) {
    return absl::InvalidArgumentError("watch event: \"type\" is missing or not a string");
  }
  const std::string& name = type->get_ref<const std::string&>();
  WatchEvent event;
  if (name == "ADDED") {
    event.type = WatchEvent::Type::kAdded;
  } else if (name == "MODIFIED") {
    event.type = WatchEvent::Type::kModified;
  } else if (name == "DELETED") {
    event.type = WatchEvent::Type::kDeleted;
  } else if (name == "BOOKMARK") {
    event.type = WatchEvent::Type::kBookmark;
  } else if (name == "ERROR") {
    event.type = WatchEvent::Type::kError;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("watch event: unknown type \"", name, "\""));
  }
  auto object = parsed->find("object");
  if (object == parsed->end() || !object->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch event ", name, ": \"object\" is missing or not an object"));
  }
  if (event.type != WatchEvent::Type::kError) {
    auto meta = object->find("metadata");
    if (meta == object->end() || !meta->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("watch event ", name, ": the object has no metadata"));
    }
    auto rv = meta->find("resourceVersion");
    if (rv == meta->end() || !rv->is_string() || rv->get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("watch event ", name, ": the object has no metadata.resourceVersion"));
    }
  }
  event.object = std::move(*object);
  return event;
}

absl::Status JsonLineBuffer::Append(absl::string_view data) {
  // Compact once the returned prefix dominates, so the buffer stays about one line long.
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    tail_ -= start_;
    start_ = 0;
  }
  size_t pos = buffer_.size();
  buffer_.append(data.data(), data.size());
  for (size_t nl; (nl = buffer_.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    if (nl - tail_ > max_line_) return TooLong();
    tail_ = nl + 1;
  }
  if (buffer_.size() - tail_ > max_line_) return TooLong();
  return absl::OkStatus();
}

absl::Status JsonLineBuffer::TooLong() const {
  return absl::ResourceExhaustedError(
      absl::StrCat("watch stream: an event is larger than the limit of ", max_line_, " bytes"));
}

bool JsonLineBuffer::Next(std::string* line) {
  while (start_ < tail_) {
    const size_t newline = buffer_.find('\n', start_);  // < tail_: [start_, tail_) ends in one
    absl::string_view text(buffer_.data() + start_, newline - start_);
    start_ = newline + 1;
    text = absl::StripTrailingAsciiWhitespace(text);
    if (text.empty()) continue;
    line->assign(text.data(), text.size());
    return true;
  }
  return false;
}

}  // namespace remora::kube
