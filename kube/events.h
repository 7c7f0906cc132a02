// Kubernetes Events about objects the control plane reads ("AuthorizationPolicy shop/deny-all was
// refused: ..."), written as core/v1 Events: what `kubectl describe` lists under "Events:" (it
// reads /api/v1/namespaces/<ns>/events with fieldSelector involvedObject.name/namespace/kind/uid,
// k8s.io/kubectl/pkg/describe: searchEvents) and the shape client-go's record.EventRecorder,
// used by most controllers, writes: involvedObject, reason, message, type, source.component,
// first/lastTimestamp, count.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kube/api_client.h"
#include "kube/backoff.h"
#include "kube/clock.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

struct ObjectReference {
  std::string api_version, kind, namespace_name, name, uid, resource_version;
};

// The reference to an API object (its apiVersion, kind and metadata).
ObjectReference ReferenceTo(const nlohmann::json& object);

struct EventInfo {
  std::string type = "Normal";  // "Normal" or "Warning"
  std::string reason;           // UpperCamelCase, short: "PolicyRejected"
  std::string message;          // cut to kMaxEventMessage bytes
  std::string component = "remora-control";
  std::string instance;  // the replica (pod name); optional
};

// events.k8s.io/v1 refuses a note over 1 KiB (noteLengthLimit); core/v1 Events are kept to it.
inline constexpr size_t kMaxEventMessage = 1024;

// The Event object (pure): named "<object>.<hex unix nanoseconds>" as client-go's recorder does,
// in the object's namespace ("default" for a cluster-scoped object).
nlohmann::json MakeEvent(const ObjectReference& regarding, const EventInfo& info, absl::Time now);

// Creates the Event; returns it as stored.
awaitable<absl::StatusOr<nlohmann::json>> RecordEvent(std::shared_ptr<ApiClient> client,
                                                      ObjectReference regarding, EventInfo info,
                                                      absl::Time now);

// Whether a failed write may pass if tried again: 429 and 5xx (Unavailable), a dropped connection
// or a timeout. A refusal (403 RBAC, 404 object gone, 422 invalid) stays a refusal.
bool IsRetryableWrite(const absl::Status& status);

// RecordEvent, retried while IsRetryableWrite with the reflector's backoff (backoff.h), at most
// `attempts` tries in all: an Event lost to a moment of API-server overload would leave a refused
// policy unexplained in `kubectl describe` until it changes again. Each try stamps the Event
// with the clock's time.
awaitable<absl::StatusOr<nlohmann::json>> RecordEventWithRetry(
    std::shared_ptr<ApiClient> client, ObjectReference regarding, EventInfo info,
    std::shared_ptr<Clock> clock, RandomSource random, int attempts = 6);

}  // namespace remora::kube
