// Fuzz target: the watch stream. The input is a stream's body, fed to the line reassembly in
// chunks whose sizes come from the input itself; every line is parsed as an event and applied to
// a cache, as the informer does.
#include <cstdint>

#include "kube/object_cache.h"
#include "kube/watch_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace remora::kube;
  absl::string_view stream(reinterpret_cast<const char*>(data), size);
  JsonLineBuffer lines(4096);
  ObjectCache cache;
  std::string line;
  size_t at = 0;
  while (at < stream.size()) {
    const size_t chunk = 1 + static_cast<unsigned char>(stream[at]) % 97;
    if (!lines.Append(stream.substr(at, chunk)).ok()) break;
    at += chunk;
    std::vector<ObjectCache::Mutation> mutations;
    while (lines.Next(&line)) {
      absl::StatusOr<WatchEvent> event = ParseWatchEvent(line);
      if (!event.ok() || event->type == WatchEvent::Type::kError ||
          event->type == WatchEvent::Type::kBookmark) {
        continue;
      }
      absl::StatusOr<ObjectPtr> object = MakeCachedObject(std::move(event->object));
      if (!object.ok()) continue;
      mutations.push_back({event->type == WatchEvent::Type::kDeleted
                               ? ObjectCache::Mutation::Type::kRemove
                               : ObjectCache::Mutation::Type::kUpsert,
                           *object});
    }
    (void)cache.Apply(mutations, "");
  }
  return 0;
}
