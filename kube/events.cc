#include "kube/events.h"

#include "absl/strings/str_format.h"
#include "kube/api_status.h"
#include "kube/resource_type.h"

namespace remora::kube {
namespace {

std::string MetaString(const nlohmann::json& object, const char* key) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto it = meta->find(key);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string TopString(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string Truncate(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

ObjectReference ReferenceTo(const nlohmann::json& object) {
  ObjectReference ref;
  if (!object.is_object()) return ref;
  ref.api_version = TopString(object, "apiVersion");
  ref.kind = TopString(object, "kind");
  ref.namespace_name = MetaString(object, "namespace");
  ref.name = MetaString(object, "name");
  ref.uid = MetaString(object, "uid");
  ref.resource_version = MetaString(object, "resourceVersion");
  return ref;
}

nlohmann::json MakeEvent(const ObjectReference& regarding, const EventInfo& info, absl::Time now) {
  const std::string ns = regarding.namespace_name.empty() ? "default" : regarding.namespace_name;
  const std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now, absl::UTCTimeZone());
  nlohmann::json involved = {
      {"apiVersion", regarding.api_version}, {"kind", regarding.kind}, {"name", regarding.name}};
  if (!regarding.namespace_name.empty()) involved["namespace"] = regarding.namespace_name;
  if (!regarding.uid.empty()) involved["uid"] = regarding.uid;
  if (!regarding.resource_version.empty()) {
    involved["resourceVersion"] = regarding.resource_version;
  }
  nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"name", absl::StrFormat("%s.%x", regarding.name, absl::ToUnixNanos(now))},
        {"namespace", ns}}},
      {"involvedObject", std::move(involved)},
      {"reason", info.reason},
      {"message", Truncate(info.message, kMaxEventMessage)},
      {"type", info.type},
      {"source", {{"component", info.component}}},
      {"reportingComponent", info.component},
      {"firstTimestamp", stamp},
      {"lastTimestamp", stamp},
      {"count", 1}};
  if (!info.instance.empty()) event["reportingInstance"] = info.instance;
  return event;
}

awaitable<absl::StatusOr<nlohmann::json>> RecordEvent(std::shared_ptr<ApiClient> client,
                                                      ObjectReference regarding, EventInfo info,
                                                      absl::Time now) {
  nlohmann::json event = MakeEvent(regarding, info, now);
  const std::string ns = event["metadata"]["namespace"].get<std::string>();
  co_return co_await client->Create(types::kEvents, ns, std::move(event));
}

bool IsRetryableWrite(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

awaitable<absl::StatusOr<nlohmann::json>> RecordEventWithRetry(std::shared_ptr<ApiClient> client,
                                                               ObjectReference regarding,
                                                               EventInfo info,
                                                               std::shared_ptr<Clock> clock,
                                                               RandomSource random, int attempts) {
  Backoff backoff(BackoffPolicy{}, std::move(random));
  absl::StatusOr<nlohmann::json> result = absl::UnknownError("no attempt");
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    result = co_await RecordEvent(client, regarding, info, clock->Now());
    if (result.ok() || !IsRetryableWrite(result.status()) || attempt == attempts) break;
    const absl::Duration wait = backoff.Next(clock->Now(), RetryAfter(result.status()));
    co_await clock->Sleep(wait);
  }
  co_return result;
}

}  // namespace remora::kube
