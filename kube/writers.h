// The two write patterns a control plane with several replicas needs, over ApiClient:
// create-if-absent that is safe when replicas race, and read-modify-write that retries on the
// optimistic-concurrency Conflict (https://kubernetes.io/docs/reference/using-api/api-concepts/
// #resource-versions; client-go's retry.RetryOnConflict).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kube/api_client.h"
#include "kube/resource_type.h"
#include "nlohmann/json.hpp"

namespace remora::kube {

struct CreateOrGetResult {
  nlohmann::json object;  // as stored: ours if created, else the one that was there
  bool created = false;
};

// Creates `object` in `ns`; if one of that name exists (AlreadyExists: another replica won),
// reads and returns it instead. A delete between the two is retried, up to three times.
awaitable<absl::StatusOr<CreateOrGetResult>> CreateOrGet(std::shared_ptr<ApiClient> client,
                                                         ResourceType type, std::string ns,
                                                         nlohmann::json object);

// Changes `object` in place; returns whether it changed anything (false: no write is made).
using Mutator = std::function<absl::StatusOr<bool>(nlohmann::json& object)>;

// Reads ns/name, applies `mutate` and writes it back with the resourceVersion it read; on
// Conflict (Aborted: someone wrote in between) reads again and re-applies, up to `attempts`
// times (client-go's retry.DefaultRetry has 5 steps). Returns the object as stored.
awaitable<absl::StatusOr<nlohmann::json>> GetAndUpdate(std::shared_ptr<ApiClient> client,
                                                       ResourceType type, std::string ns,
                                                       std::string name, Mutator mutate,
                                                       int attempts = 5);

}  // namespace remora::kube
