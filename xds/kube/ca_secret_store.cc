#include "xds/kube/ca_secret_store.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "kube/writers.h"

namespace remora::xds {
namespace {

using Json = nlohmann::json;

// The value of data[key], base64-decoded; nullopt when absent.
absl::StatusOr<std::optional<std::string>> SecretValue(const Json& secret, const char* key,
                                                       absl::string_view what) {
  if (!secret.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a JSON object"));
  }
  auto data = secret.find("data");
  if (data == secret.end() || data->is_null()) return std::optional<std::string>();
  if (!data->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": data is not an object"));
  }
  auto value = data->find(key);
  if (value == data->end()) return std::optional<std::string>();
  std::string decoded;
  if (!value->is_string() || !absl::Base64Unescape(value->get<std::string>(), &decoded)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": data.", key, " is not base64"));
  }
  return std::optional<std::string>(std::move(decoded));
}

std::string RandomToken() {
  unsigned char random[32];
  RAND_bytes(random, sizeof(random));
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random)));
}

// What the operator should do about a Secret that does not parse.
constexpr char kFixMalformed[] =
    "; it must hold the CA state remora-control wrote (restore it from a backup, or delete the "
    "Secret to make a new CA: every workload then renews onto the new root)";

}  // namespace

absl::StatusOr<certs::CaState> CaStateFromSecret(const Json& secret, absl::string_view what) {
  absl::StatusOr<std::optional<std::string>> text = SecretValue(secret, kCaSecretStateKey, what);
  if (!text.ok()) return absl::DataLossError(absl::StrCat(text.status().message(), kFixMalformed));
  if (!text->has_value()) {
    return absl::NotFoundError(absl::StrCat(what, " has no data.", kCaSecretStateKey));
  }
  absl::StatusOr<certs::CaState> state =
      certs::ParseCaState(**text, absl::StrCat(what, " data.", kCaSecretStateKey));
  if (!state.ok()) {
    return absl::DataLossError(absl::StrCat(state.status().message(), kFixMalformed));
  }
  return state;
}

CaSecretStore::CaSecretStore(std::shared_ptr<kube::ApiClient> client, CaSecretStoreOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  if (!options_.cache_dir.empty()) {
    cache_ = std::make_unique<certs::FileCaStateStore>(options_.cache_dir);
  }
}

CaSecretStore::CaSecretStore(std::unique_ptr<asio::io_context> io,
                             std::shared_ptr<kube::ApiClient> client, CaSecretStoreOptions options)
    : CaSecretStore(std::move(client), std::move(options)) {
  io_ = std::move(io);
  work_.emplace(io_->get_executor());
  thread_ = std::thread([io = io_.get()] { io->run(); });
}

absl::StatusOr<std::unique_ptr<CaSecretStore>> CaSecretStore::New(kube::ClusterConfig config,
                                                                  CaSecretStoreOptions options) {
  auto io = std::make_unique<asio::io_context>(1);
  absl::StatusOr<std::shared_ptr<kube::ApiClient>> client =
      kube::ApiClient::New(io->get_executor(), std::move(config));
  if (!client.ok()) return client.status();
  return std::unique_ptr<CaSecretStore>(
      new CaSecretStore(std::move(io), std::move(*client), std::move(options)));
}

CaSecretStore::~CaSecretStore() { Stop(); }

void CaSecretStore::Stop() {
  if (informer_ != nullptr) informer_->Stop();
  if (io_ != nullptr && thread_.joinable()) {
    work_.reset();
    io_->stop();
    thread_.join();
  }
}

std::string CaSecretStore::Describe() const {
  return absl::StrCat("Secret ", options_.namespace_name, "/", options_.name);
}

Json CaSecretStore::NewSecret(const certs::CaState& state) const {
  return Json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"type", "Opaque"},
              {"metadata",
               {{"name", options_.name},
                {"namespace", options_.namespace_name},
                {"labels", {{"app.kubernetes.io/managed-by", "remora-control"}}}}},
              {"data",
               {{kCaSecretStateKey, absl::Base64Escape(certs::SerializeCaState(state))},
                {kCaSecretOperatorTokenKey, absl::Base64Escape(RandomToken())}}}};
}

void CaSecretStore::Cache(const certs::CaState& state) {
  if (cache_ == nullptr) return;
  absl::StatusOr<certs::CaState> cached = cache_->LoadOrCreate([&] { return state; });
  if (cached.ok() && certs::SerializeCaState(*cached) != certs::SerializeCaState(state)) {
    cached = cache_->Update([&](certs::CaState) { return state; });
  }
  if (!cached.ok()) {
    LOG_WARN("ca", "cannot keep a local copy of ", Describe(), " in ", cache_->Describe(), ": ",
             cached.status().message());
  }
}

absl::StatusOr<certs::CaState> CaSecretStore::FromCache(const absl::Status& error) {
  // Only when the API server is unreachable or failing: a refusal (RBAC) or a malformed Secret
  // is the operator's to fix, and starting on a stale copy would hide it.
  const bool unreachable = absl::IsUnavailable(error) || absl::IsDeadlineExceeded(error) ||
                           absl::IsInternal(error) || absl::IsResourceExhausted(error);
  if (cache_ == nullptr || !unreachable) return error;
  absl::StatusOr<certs::CaState> cached = cache_->LoadOrCreate(
      [&]() -> absl::StatusOr<certs::CaState> { return error; });  // none cached: the error
  if (!cached.ok()) return error;
  LOG_WARN("ca", "cannot read ", Describe(), " (", error.message(),
           "); starting with the copy of it in ", cache_->Describe(),
           ", and following the Secret once the API server answers");
  return cached;
}

absl::StatusOr<certs::CaState> CaSecretStore::Seed() const {
  if (options_.seed_dir.empty()) return absl::NotFoundError("no seed");
  certs::FileCaStateStore seed(options_.seed_dir);
  absl::StatusOr<certs::CaState> state = seed.LoadOrCreate(
      []() -> absl::StatusOr<certs::CaState> { return absl::NotFoundError("no seed"); });
  if (state.ok()) {
    LOG_INFO("ca", "storing the roots of ", options_.seed_dir, " in ", Describe(),
             ", which does not exist yet");
  } else if (!absl::IsNotFound(state.status())) {
    LOG_WARN("ca", "not seeding ", Describe(), " from ", options_.seed_dir, ": ",
             state.status().message());
  }
  return state;
}

absl::StatusOr<certs::CaState> CaSecretStore::LoadOrCreate(
    const std::function<absl::StatusOr<certs::CaState>()>& create) {
  absl::StatusOr<certs::CaState> state = LoadOrCreateInSecret(create);
  if (state.ok()) Cache(*state);
  return state;
}

absl::StatusOr<certs::CaState> CaSecretStore::LoadOrCreateInSecret(
    const std::function<absl::StatusOr<certs::CaState>()>& create) {
  const std::string what = Describe();
  auto fail = [&](const absl::Status& s, absl::string_view doing) {
    std::string hint;
    if (absl::IsPermissionDenied(s) || absl::IsUnauthenticated(s)) {
      hint =
          " (remora-control needs get, create and update on it: see the Role remora-control "
          "in examples/kubernetes/10-rbac.yaml)";
    } else if (absl::IsNotFound(s)) {
      hint = absl::StrCat(" (the Secret lives in remora-control's own namespace, --namespace=",
                          options_.namespace_name, ", which must exist)");
    }
    return absl::Status(s.code(), absl::StrCat(doing, " ", what, ": ", s.message(), hint));
  };
  std::shared_ptr<kube::ApiClient> client = client_;
  const std::string ns = options_.namespace_name;
  const std::string name = options_.name;
  absl::StatusOr<Json> existing = kube::RunBlocking(
      client->executor(), options_.timeout,
      [client, ns, name] { return client->Get(kube::types::kSecrets, ns, name); });
  if (existing.ok()) {
    absl::StatusOr<certs::CaState> state = CaStateFromSecret(*existing, what);
    if (!absl::IsNotFound(state.status())) return state;
  } else if (!absl::IsNotFound(existing.status())) {
    absl::StatusOr<certs::CaState> cached = FromCache(existing.status());
    if (cached.ok()) return cached;
    return fail(existing.status(), "cannot read");
  }
  // None stored yet. The new state is made here, on the caller's thread, so the coroutine below
  // uses only values it owns even if this call gives up waiting for it.
  absl::StatusOr<certs::CaState> fresh = Seed();
  if (!fresh.ok()) fresh = create();
  if (!fresh.ok()) return fresh.status();
  Json secret = NewSecret(*fresh);
  absl::StatusOr<Json> stored;
  if (!existing.ok()) {
    absl::StatusOr<kube::CreateOrGetResult> result =
        kube::RunBlocking(client->executor(), options_.timeout, [client, ns, secret] {
          return kube::CreateOrGet(client, kube::types::kSecrets, ns, secret);
        });
    if (!result.ok()) return fail(result.status(), "cannot create");
    if (!result->created) {
      LOG_INFO("ca", what, " was created by another replica first; using its roots");
    }
    stored = std::move(result->object);
  } else {
    // The Secret exists without a CA state (made by hand, or emptied): fill it in, unless
    // another replica does first.
    const int attempts = options_.attempts;
    stored = kube::RunBlocking(client->executor(), options_.timeout, [=] {
      return kube::GetAndUpdate(
          client, kube::types::kSecrets, ns, name,
          [secret](Json& object) -> absl::StatusOr<bool> {
            if (!object.contains("data") || !object["data"].is_object()) {
              object["data"] = Json::object();
            }
            bool changed = false;
            for (const char* key : {kCaSecretStateKey, kCaSecretOperatorTokenKey}) {
              if (!object["data"].contains(key)) {
                object["data"][key] = secret["data"][key];
                changed = true;
              }
            }
            return changed;
          },
          attempts);
    });
    if (!stored.ok()) return fail(stored.status(), "cannot update");
  }
  return CaStateFromSecret(*stored, what);
}

absl::StatusOr<certs::CaState> CaSecretStore::Update(
    const std::function<absl::StatusOr<certs::CaState>(certs::CaState)>& change) {
  const std::string what = Describe();
  // `change` belongs to the caller: once the caller stops waiting (timeout) it must not run.
  struct Guard {
    absl::Mutex mu;
    bool abandoned ABSL_GUARDED_BY(mu) = false;
    const std::function<absl::StatusOr<certs::CaState>(certs::CaState)>* change ABSL_GUARDED_BY(mu);
  };
  auto guard = std::make_shared<Guard>();
  {
    absl::MutexLock lock(&guard->mu);
    guard->change = &change;
  }
  kube::Mutator mutate = [guard, what](Json& object) -> absl::StatusOr<bool> {
    absl::StatusOr<certs::CaState> current = CaStateFromSecret(object, what);
    if (!current.ok()) return current.status();
    const std::string before = certs::SerializeCaState(*current);
    absl::StatusOr<certs::CaState> next;
    {
      absl::MutexLock lock(&guard->mu);
      if (guard->abandoned) {
        return absl::CancelledError(absl::StrCat("update of ", what, " given up"));
      }
      next = (*guard->change)(std::move(*current));
    }
    if (!next.ok()) return next.status();
    const std::string after = certs::SerializeCaState(*next);
    if (after == before) return false;
    object["data"][kCaSecretStateKey] = absl::Base64Escape(after);
    return true;
  };
  std::shared_ptr<kube::ApiClient> client = client_;
  absl::StatusOr<Json> stored = kube::RunBlocking(
      client->executor(), options_.timeout,
      [client, ns = options_.namespace_name, name = options_.name, mutate,
       attempts = options_.attempts] {
        return kube::GetAndUpdate(client, kube::types::kSecrets, ns, name, mutate, attempts);
      });
  {
    absl::MutexLock lock(&guard->mu);
    guard->abandoned = true;
    guard->change = nullptr;
  }
  if (!stored.ok()) {
    const absl::Status& s = stored.status();
    if (absl::IsDataLoss(s) || absl::IsNotFound(s) || absl::IsFailedPrecondition(s) ||
        absl::IsInvalidArgument(s)) {
      return s;  // the Secret's or the change's own words
    }
    return absl::Status(
        s.code(), absl::StrCat("cannot update ", what, ": ", s.message(),
                               absl::IsAborted(s) ? " (other writers keep changing it; try again)"
                                                  : " (is the API server reachable, and may "
                                                    "remora-control update the Secret?)"));
  }
  absl::StatusOr<certs::CaState> state = CaStateFromSecret(*stored, what);
  if (state.ok()) Cache(*state);
  return state;
}

absl::StatusOr<std::string> CaSecretStore::LoadOrCreateOperatorToken() {
  const std::string what = Describe();
  std::shared_ptr<kube::ApiClient> client = client_;
  const std::string token = RandomToken();
  absl::StatusOr<Json> stored = kube::RunBlocking(
      client->executor(), options_.timeout,
      [client, ns = options_.namespace_name, name = options_.name, token,
       attempts = options_.attempts] {
        return kube::GetAndUpdate(
            client, kube::types::kSecrets, ns, name,
            [token](Json& object) -> absl::StatusOr<bool> {
              if (!object.contains("data") || !object["data"].is_object()) {
                object["data"] = Json::object();
              }
              if (object["data"].contains(kCaSecretOperatorTokenKey)) return false;
              object["data"][kCaSecretOperatorTokenKey] = absl::Base64Escape(token);
              return true;
            },
            attempts);
      });
  if (!stored.ok()) {
    return absl::Status(stored.status().code(),
                        absl::StrCat("operator token in ", what, ": ", stored.status().message()));
  }
  absl::StatusOr<std::optional<std::string>> value =
      SecretValue(*stored, kCaSecretOperatorTokenKey, what);
  if (!value.ok()) return value.status();
  if (!value->has_value() || (*value)->size() < 32) {
    return absl::DataLossError(absl::StrCat(what, ": data.", kCaSecretOperatorTokenKey,
                                            " is too short to be an operator token (remove the "
                                            "key and restart remora-control to make a new one)"));
  }
  return **value;
}

void CaSecretStore::Follow(std::function<void(const certs::CaState&)> on_state) {
  kube::InformerOptions options;
  options.type = kube::types::kSecrets;
  options.namespace_name = options_.namespace_name;
  options.field_selector = absl::StrCat("metadata.name=", options_.name);
  options.on_change = [this, what = Describe(),
                       on_state = std::move(on_state)](const kube::ChangeBatch& batch) {
    for (const kube::Change& change : batch.changes) {
      if (change.type == kube::Change::Type::kDeleted) {
        LOG_WARN("ca", what,
                 " was deleted; this replica keeps signing with the roots it has. Restart "
                 "remora-control to store them again (or a new CA, if every replica restarts)");
        continue;
      }
      absl::StatusOr<certs::CaState> state = CaStateFromSecret(change.object->object, what);
      if (!state.ok()) {
        LOG_ERROR("ca", "keeping the installed CA state: ", state.status().message());
        continue;
      }
      Cache(*state);
      on_state(*state);
    }
  };
  informer_ = kube::Informer::Create(client_, std::move(options));
  informer_->Start();
}

}  // namespace remora::xds
