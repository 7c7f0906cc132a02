// An HTTPS client for the Kubernetes REST API: typed verbs on a ResourceType returning the JSON the
// server answered (or an absl::Status mapped by api_status.h), and Watch, which streams events.
//
// Transport: HTTP/1.1 (Boost.Beast) over TLS (OpenSSL through asio::ssl), the server verified
// against the configured CA (connection.h), the bearer token from a TokenSource that follows the
// kubelet's rotations. A few idle connections are kept alive and reused. Every step has a
// deadline: connect, handshake, and request-to-complete-response (a watch: its own timeoutSeconds
// plus a grace period). Every answer is bounded: a response body by max_response_bytes (lists are
// paged by the caller), one watch event by max_event_bytes.
//
// Threading: the client runs on one executor (an io_context run by one thread, or a strand);
// start its coroutines there. Other threads use RunBlocking. The connection pool and the token
// source are thread-safe, so several coroutines may use the client at once.
#pragma once

#include <boost/asio/use_future.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kube/cluster_config.h"
#include "kube/connection.h"
#include "kube/resource_type.h"
#include "kube/watch_event.h"
#include "net/asio.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

struct ApiClientOptions {
  ConnectTimeouts connect;
  // From sending a request to its complete response (not for watches).
  absl::Duration request_timeout = absl::Seconds(60);
  // How long a watch may outlive its timeoutSeconds before the client gives up on a silent
  // connection (the server ends a healthy watch itself at timeoutSeconds).
  absl::Duration watch_grace = absl::Seconds(30);
  // The longest body accepted in one answer (a list page of 500 pods is a few MB).
  size_t max_response_bytes = 32 << 20;
  // The longest watch event accepted (etcd's default object limit is 1.5 MiB of protobuf).
  size_t max_event_bytes = 16 << 20;
  size_t max_idle_connections = 4;
  // An idle connection older than this is closed rather than reused.
  absl::Duration idle_timeout = absl::Seconds(50);
  std::string user_agent = "remora-control";
};

struct RequestOptions {
  absl::Duration timeout = absl::ZeroDuration();  // zero: ApiClientOptions::request_timeout
  size_t max_response_bytes = 0;                  // zero: ApiClientOptions::max_response_bytes
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
};

struct DeleteOptions {
  std::string precondition_uid;               // refuse (409) if the object's uid differs
  std::string precondition_resource_version;  // refuse (409) if it changed
  std::string propagation_policy;             // "", "Foreground", "Background", "Orphan"
};

class ApiClient : public std::enable_shared_from_this<ApiClient> {
 public:
  static absl::StatusOr<std::shared_ptr<ApiClient>> New(asio::any_io_executor executor,
                                                        ClusterConfig config,
                                                        ApiClientOptions options = {});
  ~ApiClient();

  const asio::any_io_executor& executor() const { return executor_; }
  const ClusterConfig& config() const { return config_; }
  const ApiClientOptions& options() const { return options_; }

  // Coroutines take their arguments by value: an awaitable may start after the caller's
  // temporaries are gone (co_spawn). `ns` is ignored for cluster-scoped types.
  awaitable<absl::StatusOr<nlohmann::json>> Get(ResourceType type, std::string ns, std::string name,
                                                RequestOptions request = {});
  // One page: the List object (items, metadata.resourceVersion, metadata.continue).
  awaitable<absl::StatusOr<nlohmann::json>> List(ResourceType type, std::string ns,
                                                 ListOptions options, RequestOptions request = {});
  awaitable<absl::StatusOr<nlohmann::json>> Create(ResourceType type, std::string ns,
                                                   nlohmann::json object,
                                                   RequestOptions request = {});
  // PUT of `object` at its metadata.namespace/name; its metadata.resourceVersion makes it a
  // compare-and-swap (409 Conflict -> Aborted when the object changed meanwhile).
  awaitable<absl::StatusOr<nlohmann::json>> Update(ResourceType type, nlohmann::json object,
                                                   RequestOptions request = {});
  awaitable<absl::StatusOr<nlohmann::json>> Patch(ResourceType type, std::string ns,
                                                  std::string name, PatchType patch_type,
                                                  nlohmann::json patch,
                                                  RequestOptions request = {});
  // The server's answer: the deleted object, or a Success Status.
  awaitable<absl::StatusOr<nlohmann::json>> Delete(ResourceType type, std::string ns,
                                                   std::string name, DeleteOptions options = {},
                                                   RequestOptions request = {});

  // Called with the events of each read from the stream, in order (bookmarks included). A
  // non-OK return ends the watch with that status.
  using WatchHandler = std::function<absl::Status(std::vector<WatchEvent>& events)>;
  // Streams the watch until it ends: OK when the server ended it cleanly (timeoutSeconds, or a
  // server-side close), the mapped error of an ERROR event (410 Expired -> IsExpired), an error
  // answer to the request itself, or Unavailable / DeadlineExceeded when the stream breaks.
  awaitable<absl::Status> Watch(ResourceType type, std::string ns, WatchOptions options,
                                WatchHandler handler);

  // Any request: `verb` on `path_and_query` ("/api/v1/namespaces?limit=1") with an optional JSON
  // body of `content_type`.
  awaitable<absl::StatusOr<nlohmann::json>> Call(boost::beast::http::verb verb, std::string path,
                                                 std::string query, std::optional<std::string> body,
                                                 std::string content_type,
                                                 RequestOptions request = {});

  // Connections currently idle in the pool (for tests and stats).
  size_t idle_connections() const;

 private:
  struct Idle {
    std::unique_ptr<TlsStream> stream;
    absl::Time since;
  };
  struct Lease {
    std::unique_ptr<TlsStream> stream;
    bool reused = false;
  };

  ApiClient(asio::any_io_executor executor, ClusterConfig config, ApiClientOptions options,
            std::shared_ptr<asio::ssl::context> tls);
  // An idle pooled connection that still looks alive, or a new one.
  awaitable<absl::StatusOr<Lease>> Acquire();
  void Release(std::unique_ptr<TlsStream> stream);
  std::string Target(const std::string& path, const std::string& query) const;
  void SetCommonHeaders(boost::beast::http::fields& fields);

  const asio::any_io_executor executor_;
  const ClusterConfig config_;
  const ApiClientOptions options_;
  const std::shared_ptr<asio::ssl::context> tls_;
  mutable absl::Mutex mu_;
  std::vector<Idle> idle_ ABSL_GUARDED_BY(mu_);
};

// Runs `make()` (a callable returning awaitable<absl::Status or absl::StatusOr<T>>) on `executor`
// and waits up to `timeout` for its result, from a thread that is NOT running that executor (a
// gRPC handler thread); on the executor's own thread it would deadlock. After a timeout the
// coroutine keeps running to its own deadline: `make` must capture what it uses by value.
template <typename F>
auto RunBlocking(const asio::any_io_executor& executor, absl::Duration timeout, F make) ->
    typename decltype(make())::value_type {
  using Result = typename decltype(make())::value_type;
  std::future<Result> result = asio::co_spawn(executor, std::move(make), asio::use_future);
  if (result.wait_for(absl::ToChronoNanoseconds(timeout)) != std::future_status::ready) {
    return Result(absl::DeadlineExceededError(absl::StrCat(
        "no answer from the Kubernetes API client within ", absl::FormatDuration(timeout))));
  }
  return result.get();
}

}  // namespace remora::kube
