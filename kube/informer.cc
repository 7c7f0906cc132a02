#include "kube/informer.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/this_coro.hpp>
#include <cassert>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "kube/api_status.h"

namespace remora::kube {
namespace {

constexpr char kComponent[] = "kube.informer";
constexpr char kLastApplied[] = "kubectl.kubernetes.io/last-applied-configuration";
// client-go's reflector treats a watch that ends within a second with no event as an error
// ("very short watch"), so a server that closes watches at once is not hammered.
constexpr absl::Duration kShortWatch = absl::Seconds(1);

std::string MetaResourceVersion(const nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto rv = meta->find("resourceVersion");
  return rv != meta->end() && rv->is_string() ? rv->get<std::string>() : std::string();
}

std::string MetaString(const nlohmann::json& object, const char* key) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto it = meta->find(key);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool TrimObject(nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return true;
  meta->erase("managedFields");
  auto annotations = meta->find("annotations");
  if (annotations != meta->end() && annotations->is_object()) {
    annotations->erase(kLastApplied);
    if (annotations->empty()) meta->erase(annotations);
  }
  return true;
}

std::shared_ptr<Informer> Informer::Create(std::shared_ptr<ApiClient> client,
                                           InformerOptions options) {
  assert(!options.type.resource.empty() && !options.type.version.empty());
  if (!options.clock) options.clock = RealClock();
  if (!options.random) options.random = DefaultRandom();
  if (options.page_size < 1) options.page_size = 1;
  return std::shared_ptr<Informer>(new Informer(std::move(client), std::move(options)));
}

Informer::Informer(std::shared_ptr<ApiClient> client, InformerOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      name_(options_.namespace_name.empty()
                ? options_.type.Name()
                : absl::StrCat(options_.type.Name(), " in namespace ", options_.namespace_name)) {}

Informer::~Informer() = default;

InformerStats Informer::stats() const {
  InformerStats s;
  s.lists = counters_.lists.load();
  s.list_pages = counters_.list_pages.load();
  s.list_restarts = counters_.list_restarts.load();
  s.relists = counters_.relists.load();
  s.watches = counters_.watches.load();
  s.events = counters_.events.load();
  s.bookmarks = counters_.bookmarks.load();
  s.errors = counters_.errors.load();
  return s;
}

void Informer::Start() {
  if (started_.exchange(true)) return;
  std::shared_ptr<Informer> self = shared_from_this();
  asio::co_spawn(client_->executor(), Run(),
                 asio::bind_cancellation_slot(cancel_.slot(), [self](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       LOG_ERROR(kComponent, "informer for ", self->name_,
                                 " ended with an exception: ", ex.what());
                     }
                   }
                   self->stopped_.store(true);
                 }));
}

void Informer::Stop() {
  if (stopping_.exchange(true)) return;
  if (!started_.load()) {
    stopped_.store(true);
    return;
  }
  // The signal belongs to the executor's thread, like the coroutine it cancels.
  asio::post(client_->executor(), [self = shared_from_this()] {
    self->cancel_.emit(asio::cancellation_type::terminal);
  });
}

void Informer::Notify(ChangeBatch batch) {
  if (options_.on_change && (!batch.changes.empty() || batch.initial_sync)) {
    options_.on_change(batch);
  }
}

ObjectPtr Informer::Prepare(nlohmann::json object, std::string* dropped_key) {
  if (!object.is_object()) {
    LOG_WARN(kComponent, "skipping an item of ", name_, " that is not an object");
    return nullptr;
  }
  // List items carry no kind/apiVersion (the List has them); watch objects do. Cache one shape.
  if (!object.contains("kind")) object["kind"] = options_.type.kind;
  if (!object.contains("apiVersion")) object["apiVersion"] = options_.type.ApiVersion();
  if (options_.transform && !options_.transform(object)) {
    *dropped_key = ObjectKey(MetaString(object, "namespace"), MetaString(object, "name"));
    return nullptr;
  }
  absl::StatusOr<ObjectPtr> cached = MakeCachedObject(std::move(object));
  if (!cached.ok()) {
    LOG_WARN(kComponent, "skipping an object of ", name_, ": ", cached.status().message());
    return nullptr;
  }
  return *cached;
}

awaitable<absl::Status> Informer::ListAndReplace() {
  std::vector<ObjectPtr> items;
  std::string continue_token, list_rv;
  int page_size = options_.page_size;
  int restarts = 0;
  for (int index = 0;; ++index) {
    if (Stopping()) co_return absl::CancelledError("stopping");
    ListOptions list;
    list.label_selector = options_.label_selector;
    list.field_selector = options_.field_selector;
    list.limit = page_size;
    list.continue_token = continue_token;
    absl::StatusOr<nlohmann::json> page =
        co_await client_->List(options_.type, options_.namespace_name, list);
    if (!page.ok()) {
      if (IsExpired(page.status()) && !continue_token.empty() && restarts == 0) {
        // The snapshot behind the continue token was compacted away: start over, once at once
        // (a second expiry goes through the backoff).
        LOG_INFO(kComponent, "list of ", name_, " restarts: ", page.status().message());
        ++restarts;
        counters_.list_restarts.fetch_add(1);
        items.clear();
        continue_token.clear();
        index = -1;
        continue;
      }
      if (page.status().code() == absl::StatusCode::kResourceExhausted &&
          HttpStatusCode(page.status()) == 0 && page_size > 1) {
        // The page was over the client's size limit: ask for smaller ones from the same point.
        page_size = std::max(1, page_size / 2);
        LOG_WARN(kComponent, "list of ", name_, ": page too large, asking for ", page_size,
                 " items per page: ", page.status().message());
        --index;
        continue;
      }
      co_return page.status();
    }
    counters_.list_pages.fetch_add(1);
    auto array = page->find("items");
    if (array != page->end() && !array->is_array() && !array->is_null()) {
      co_return absl::InvalidArgumentError(
          absl::StrCat("list ", name_, ": \"items\" is not a list"));
    }
    const size_t count = array != page->end() && array->is_array() ? array->size() : 0;
    if (count > 0) {
      for (nlohmann::json& item : *array) {
        std::string dropped;
        if (ObjectPtr object = Prepare(std::move(item), &dropped)) items.push_back(object);
      }
    }
    list_rv = MetaResourceVersion(*page);
    continue_token = MetaString(*page, "continue");
    if (options_.on_list_page) options_.on_list_page({index, count, !continue_token.empty()});
    if (continue_token.empty()) break;
  }
  if (list_rv.empty()) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("list ", name_, ": the answer has no metadata.resourceVersion to watch from"));
  }
  const bool was_synced = cache_.synced();
  ChangeBatch batch;
  batch.from_list = true;
  batch.initial_sync = !was_synced;
  batch.resource_version = list_rv;
  const size_t total = items.size();
  batch.changes = cache_.Replace(std::move(items), list_rv);
  counters_.lists.fetch_add(1);
  LOG_INFO(kComponent, was_synced ? "re-listed " : "listed ", name_, " objects=", total,
           " changes=", batch.changes.size(), " resourceVersion=", list_rv);
  Notify(std::move(batch));
  co_return absl::OkStatus();
}

awaitable<absl::Status> Informer::WatchOnce(uint64_t* received) {
  WatchOptions watch;
  watch.label_selector = options_.label_selector;
  watch.field_selector = options_.field_selector;
  watch.resource_version = cache_.resource_version();
  watch.allow_bookmarks = true;
  const double min_seconds = absl::ToDoubleSeconds(options_.min_watch_timeout);
  watch.timeout_seconds = std::max(1, static_cast<int>(min_seconds * (1.0 + options_.random())));
  counters_.watches.fetch_add(1);
  auto handle = [this, received](std::vector<WatchEvent>& delivered) -> absl::Status {
    std::vector<ObjectCache::Mutation> mutations;
    std::string last_rv;
    for (WatchEvent& event : delivered) {
      std::string rv = MetaResourceVersion(event.object);
      ++*received;  // bookmarks too: the stream is alive (client-go's eventCount)
      if (event.type == WatchEvent::Type::kBookmark) {
        counters_.bookmarks.fetch_add(1);
        last_rv = std::move(rv);
        continue;
      }
      counters_.events.fetch_add(1);
      std::string dropped;
      ObjectPtr object = Prepare(std::move(event.object), &dropped);
      if (!object && !dropped.empty()) {
        // Transformed away: whatever the cache held under that key is gone for it.
        auto gone = std::make_shared<CachedObject>();
        const size_t slash = dropped.find('/');
        if (slash == std::string::npos) {
          gone->name = dropped;
        } else {
          gone->namespace_name = dropped.substr(0, slash);
          gone->name = dropped.substr(slash + 1);
        }
        mutations.push_back({ObjectCache::Mutation::Type::kRemove, std::move(gone)});
      } else if (object) {
        mutations.push_back({event.type == WatchEvent::Type::kDeleted
                                 ? ObjectCache::Mutation::Type::kRemove
                                 : ObjectCache::Mutation::Type::kUpsert,
                             std::move(object)});
      }
      if (!rv.empty()) last_rv = std::move(rv);
    }
    ChangeBatch batch;
    batch.resource_version = last_rv;
    if (mutations.empty()) {
      if (!last_rv.empty()) cache_.SetResourceVersion(last_rv);
      return absl::OkStatus();
    }
    batch.changes = cache_.Apply(mutations, last_rv);
    Notify(std::move(batch));
    return absl::OkStatus();
  };
  co_return co_await client_->Watch(options_.type, options_.namespace_name, std::move(watch),
                                    std::move(handle));
}

awaitable<void> Informer::Pause(Backoff& backoff, const absl::Status& error,
                                absl::string_view what) {
  counters_.errors.fetch_add(1);
  const absl::Duration wait = backoff.Next(options_.clock->Now(), RetryAfter(error));
  LOG_WARN(kComponent, what, " ", name_, " failed, retrying in ", absl::FormatDuration(wait), ": ",
           error.message());
  if (!Stopping()) co_await options_.clock->Sleep(wait);
}

awaitable<void> Informer::Run() {
  // Stop() cancels what is in flight; every step then reports Cancelled instead of throwing.
  co_await asio::this_coro::throw_if_cancelled(false);
  Backoff backoff(options_.backoff, options_.random);
  bool need_list = true;
  bool watched_since_list = false;
  while (!Stopping()) {
    if (need_list) {
      absl::Status listed = co_await ListAndReplace();
      if (Stopping()) break;
      if (!listed.ok()) {
        co_await Pause(backoff, listed, "list");
        continue;
      }
      need_list = false;
      watched_since_list = false;
      backoff.Reset();
    }
    const absl::Time started = options_.clock->Now();
    uint64_t received = 0;
    absl::Status watched = co_await WatchOnce(&received);
    if (Stopping()) break;
    if (received > 0) backoff.Reset();
    if (watched.ok()) {
      watched_since_list = true;
      if (received == 0 && options_.clock->Now() - started < kShortWatch) {
        co_await Pause(backoff,
                       absl::UnavailableError("the server ended the watch at once (very short "
                                              "watch)"),
                       "watch");
      }
      continue;  // resume from the last resourceVersion
    }
    if (IsExpired(watched)) {
      counters_.relists.fetch_add(1);
      LOG_INFO(kComponent, "watch of ", name_, " expired, re-listing: ", watched.message());
      need_list = true;
      // Straight from a list to a 410 means history churns faster than we list: back off.
      if (!watched_since_list && received == 0) co_await Pause(backoff, watched, "watch");
      continue;
    }
    co_await Pause(backoff, watched, "watch");
  }
  LOG_INFO(kComponent, "informer for ", name_, " stopped");
}

}  // namespace remora::kube
