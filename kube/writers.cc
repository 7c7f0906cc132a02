#include "kube/writers.h"

#include "absl/strings/str_cat.h"

namespace remora::kube {
namespace {

std::string NameOf(const nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto name = meta->find("name");
  return name != meta->end() && name->is_string() ? name->get<std::string>() : std::string();
}

}  // namespace

awaitable<absl::StatusOr<CreateOrGetResult>> CreateOrGet(std::shared_ptr<ApiClient> client,
                                                         ResourceType type, std::string ns,
                                                         nlohmann::json object) {
  const std::string name = NameOf(object);
  if (name.empty()) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("create ", type.Name(),
                     ": the object needs metadata.name (generateName "
                     "cannot be looked up after a lost race)"));
  }
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<nlohmann::json> created = co_await client->Create(type, ns, object);
    if (created.ok()) co_return CreateOrGetResult{std::move(*created), true};
    if (created.status().code() != absl::StatusCode::kAlreadyExists) co_return created.status();
    absl::StatusOr<nlohmann::json> existing = co_await client->Get(type, ns, name);
    if (existing.ok()) co_return CreateOrGetResult{std::move(*existing), false};
    if (existing.status().code() != absl::StatusCode::kNotFound) co_return existing.status();
    last = existing.status();  // deleted in between: create again
  }
  co_return last;
}

awaitable<absl::StatusOr<nlohmann::json>> GetAndUpdate(std::shared_ptr<ApiClient> client,
                                                       ResourceType type, std::string ns,
                                                       std::string name, Mutator mutate,
                                                       int attempts) {
  absl::Status last;
  for (int attempt = 0; attempt < std::max(1, attempts); ++attempt) {
    absl::StatusOr<nlohmann::json> current = co_await client->Get(type, ns, name);
    if (!current.ok()) co_return current.status();
    absl::StatusOr<bool> changed = mutate(*current);
    if (!changed.ok()) co_return changed.status();
    if (!*changed) co_return std::move(*current);
    absl::StatusOr<nlohmann::json> updated = co_await client->Update(type, std::move(*current));
    if (updated.ok() || updated.status().code() != absl::StatusCode::kAborted) co_return updated;
    last = updated.status();
  }
  co_return absl::AbortedError(absl::StrCat("update ", type.Name(), " ", type.ObjectPath(ns, name),
                                            ": still conflicting after ", attempts,
                                            " attempts: ", last.message()));
}

}  // namespace remora::kube
