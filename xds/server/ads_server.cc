#include "xds/server/ads_server.h"

#include <algorithm>
#include <deque>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "remora/v1/resources.pb.h"
#include "xds/server/grpc_auth.h"
#include "xds/view/resource_types.h"

namespace remora::xds {

namespace discovery = envoy::service::discovery::v3;

// The most resource names one stream may subscribe to or report holding, per type.
constexpr size_t kMaxResourceNames = 100000;

// One proxy's stream, state of the world or delta. Everything below runs under mu_: reads and
// writes complete on gRPC threads, pushes come from the pusher thread.
class AdsServer::Stream {
 public:
  Stream(AdsServer& server, grpc::CallbackServerContext* context)
      : server_(server), context_(context), id_(absl::StrCat(reinterpret_cast<uintptr_t>(this))) {}
  virtual ~Stream() = default;

  // Recomputes the view from `registry` and sends what changed. Returns whether anything did.
  bool OnRegistry(const std::shared_ptr<const Registry>& registry) {
    absl::MutexLock lock(&mu_);
    if (done_ || !authenticated_) return false;
    return RefreshLocked(*registry);
  }

  const std::string& key() const { return key_; }

 protected:
  struct TypeState {
    bool subscribed = false;
    std::set<std::string> names;                    // empty: wildcard
    std::string sent_hash;                          // SotW: the type hash last sent
    std::map<std::string, std::string> client_has;  // delta: name -> hash the client holds
    std::map<std::string, uint64_t> outstanding;    // nonce -> version
  };

  // Identifies the proxy from its first request. On failure the stream is finished.
  bool Authenticate(const envoy::config::core::v3::Node& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string peer = context_->peer();
    std::vector<std::string> parts = absl::StrSplit(node.id(), '/');
    // Runs under Authenticate's lock; clang's thread-safety analysis needs to be told so.
    auto refuse = [&](grpc::StatusCode code, const std::string& why)
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                        server_.stats_.streams_refused.Inc();
                        LOG_WARN("xds", "refused stream peer=", peer, " node=\"", node.id(),
                                 "\" reason=\"", why, "\"");
                        FinishLocked(grpc::Status(code, why));
                        return false;
                      };
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    "node.id must be \"<namespace>/<workload name>\"");
    }
    std::shared_ptr<const Registry> registry = server_.registry();
    const Workload* workload = registry ? registry->FindWorkload(parts[0], parts[1]) : nullptr;
    if (workload == nullptr) {
      return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                    absl::StrCat("workload ", node.id(),
                                 " is not registered; apply a "
                                 "remora.io/v1 Workload for it"));
    }
    absl::StatusOr<certs::SpiffeId> id = PeerIdentity(*context_, server_.options_.trust_domain);
    const std::string expected = absl::StrCat("spiffe://", server_.options_.trust_domain, "/ns/",
                                              workload->ns, "/sa/", workload->service_account);
    if (id.ok()) {
      if (id->str() != expected) {
        return refuse(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("proxy certificate is ", id->str(), " but workload ", node.id(),
                                   " runs as ", expected));
      }
      // The service account is not enough: workloads sharing one would read each other's
      // configuration. The certificate names the workload its bootstrap token was minted for.
      absl::StatusOr<std::optional<std::string>> bound = PeerWorkload(*context_);
      if (!bound.ok()) {
        return refuse(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("proxy certificate: ", bound.status().message()));
      }
      if (!bound->has_value()) {
        return refuse(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("proxy certificate ", id->str(),
                                   " is bound to no workload; give the proxy a token minted with "
                                   "remoractl token create --workload=",
                                   workload->name));
      }
      if (**bound != workload->name) {
        return refuse(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("proxy certificate was issued for workload ", workload->ns, "/",
                                   **bound, ", not ", node.id()));
      }
    } else if (!(absl::IsNotFound(id.status()) && server_.options_.allow_plaintext &&
                 Plaintext())) {
      return refuse(
          grpc::StatusCode::UNAUTHENTICATED,
          absl::StrCat("a proxy must present its mesh certificate: ", id.status().message()));
    }
    key_ = workload->Key();
    identity_ = expected;
    authenticated_ = true;
    ProxyState state;
    state.key = key_;
    state.identity = id.ok() ? id->str() : absl::StrCat(expected, " (unauthenticated, dev port)");
    state.peer = peer;
    state.connected_since = absl::Now();
    server_.tracker_.Connected(id_, std::move(state));
    server_.stats_.streams_active.Add();
    LOG_INFO("xds", "proxy connected ", key_, " peer=", peer, " identity=", identity_);
    return true;
  }

  // Per-stream state exists only for the types this server serves, and a delta subscription
  // names a bounded number of resources: a client cannot grow the server's memory by inventing
  // type URLs or names. An unknown type ends the stream with an error naming the types served
  // (rather than an empty answer that would keep state for it); a proxy subscribes only to
  // kAllTypes, and like Istio's, the control plane is upgraded before its proxies.
  bool CheckRequest(const std::string& type, size_t names) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (std::find(kAllTypes.begin(), kAllTypes.end(), type) == kAllTypes.end()) {
      std::vector<std::string> served;
      for (absl::string_view t : kAllTypes) served.emplace_back(t);
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                absl::StrCat("type_url \"", type.substr(0, 200),
                                             "\" is not served by this control plane; it serves ",
                                             absl::StrJoin(served, ", "))));
      return false;
    }
    if (names > kMaxResourceNames) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                absl::StrCat("a subscription to ", ShortTypeName(type), " names ",
                                             names, " resources; at most ", kMaxResourceNames,
                                             " are accepted (subscribe to \"*\" instead)")));
      return false;
    }
    return true;
  }

  bool Plaintext() const {
    auto auth = context_->auth_context();
    if (auth == nullptr) return true;
    auto type = auth->FindPropertyValues("transport_security_type");
    return type.empty() || std::string(type[0].data(), type[0].size()) == "insecure";
  }

  // Computes the view and sends every subscribed type whose content changed.
  bool RefreshLocked(const Registry& registry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<std::string> parts = absl::StrSplit(key_, '/');
    const Workload* workload = registry.FindWorkload(parts[0], parts[1]);
    if (workload == nullptr) {
      FinishLocked(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                absl::StrCat("workload ", key_, " was removed from the registry")));
      return false;
    }
    ViewOptions options;
    options.trust_domain = server_.options_.trust_domain;
    if (server_.options_.bundle) options.bundle_pem = server_.options_.bundle();
    absl::StatusOr<WorkloadView> view = ComputeView(registry, *workload, options);
    if (!view.ok()) {
      LOG_ERROR("xds", "cannot compute the view of ", key_, ": ", view.status().message());
      return false;
    }
    view_ = std::move(*view);
    version_ = registry.version();
    bool changed = false;
    for (auto& [type, state] : types_) {
      if (state.subscribed) changed |= SendType(type, state);
    }
    UpdateSyncedLocked();
    return changed;
  }

  // Records the answer to `nonce` of `type`; `error` is set for a NACK.
  void OnAnswer(const std::string& type, TypeState& state, const std::string& nonce,
                const std::string& version, const google::rpc::Status* error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = state.outstanding.find(nonce);
    if (it == state.outstanding.end()) return;  // stale: superseded by a newer response
    // Earlier responses of this type are superseded by this answer too.
    state.outstanding.erase(state.outstanding.begin(), std::next(it));
    std::vector<remora::v1::ResourceError> rejected;
    if (error != nullptr) {
      for (const google::protobuf::Any& detail : error->details()) {
        remora::v1::ResourceErrors errors;
        if (detail.UnpackTo(&errors)) {
          for (const auto& e : errors.errors()) rejected.push_back(e);
        }
      }
      server_.stats_.nacks.Inc();
      LOG_WARN("xds", "NACK from ", key_, " type=", ShortTypeName(type), " version=", version,
               " reason=\"", error->message(), "\"");
    } else {
      server_.stats_.acks.Inc();
    }
    const uint64_t config_version = version_;
    server_.tracker_.Update(id_, [&](ProxyState& s) {
      ProxyState::Type& t = s.types[type];
      t.acked_version = version;
      if (error != nullptr) {
        t.last_nack = error->message();
        t.rejected = rejected;
        s.last_nack = absl::StrCat(ShortTypeName(type), ": ", error->message());
        s.nacked_version = config_version;
      } else {
        t.rejected.clear();
      }
    });
    UpdateSyncedLocked();
  }

  void UpdateSyncedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t synced = version_;
    for (const auto& [type, state] : types_) {
      for (const auto& [nonce, v] : state.outstanding) synced = std::min(synced, v - 1);
    }
    if (synced == synced_) return;
    synced_ = synced;
    server_.tracker_.Update(id_, [&](ProxyState& s) {
      s.synced_version = synced;
      s.synced_at = absl::Now();
    });
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    FinishStream(status);
  }

  // Called by OnDone of the concrete reactor.
  void Done() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      if (authenticated_) {
        server_.tracker_.Disconnected(id_);
        server_.stats_.streams_active.Sub();
        LOG_INFO("xds", "proxy disconnected ", key_);
      }
    }
    server_.Remove(this);
  }

  std::string NextNonce() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::StrCat(++nonce_counter_);
  }
  void CountResponse() { server_.stats_.responses_sent.Inc(); }

  // Sends `type` if its content changed since the last send. Returns whether it sent.
  virtual bool SendType(const std::string& type, TypeState& state) = 0;
  virtual void FinishStream(const grpc::Status& status) = 0;

  AdsServer& server_;
  grpc::CallbackServerContext* context_;
  const std::string id_;
  absl::Mutex mu_;
  bool authenticated_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::string key_;
  std::string identity_;
  WorkloadView view_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t synced_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t nonce_counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, TypeState> types_ ABSL_GUARDED_BY(mu_);
};

namespace {

// Queues responses so only one write is in flight; a newer response for a type replaces a queued
// older one (the proxy only needs the latest state).
template <typename Response>
class WriteQueue {
 public:
  // Returns the response to start writing now, if none is in flight.
  const Response* Push(Response response) {
    for (auto& queued : queue_) {
      if (queued.type_url() == response.type_url()) {
        queued = std::move(response);
        return nullptr;
      }
    }
    queue_.push_back(std::move(response));
    if (writing_) return nullptr;
    writing_ = true;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    return &current_;
  }
  // After a write completes: the next one to start, if any.
  const Response* Next() {
    if (queue_.empty()) {
      writing_ = false;
      return nullptr;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    return &current_;
  }

 private:
  std::deque<Response> queue_;
  Response current_;
  bool writing_ = false;
};

}  // namespace

// The gRPC side of a stream, shared by both protocol variants: one read at a time, one write at
// a time through the queue, and the stream's end.
template <typename Request, typename Response>
class Reactor : public AdsServer::Stream, public grpc::ServerBidiReactor<Request, Response> {
 public:
  Reactor(AdsServer& server, grpc::CallbackServerContext* context) : Stream(server, context) {}
  void Begin() { this->StartRead(&request_); }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok || finished_) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (!authenticated_ && !Authenticate(request_.node())) return;
    if (!HandleRequest()) return;  // the stream is finished
    this->StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (const Response* next = writes_.Next(); next != nullptr && !finished_)
      this->StartWrite(next);
  }

  void OnDone() override { Done(); }
  void OnCancel() override {}

 protected:
  // Handles request_; returns false when it finished the stream.
  virtual bool HandleRequest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  void Send(Response response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    CountResponse();
    if (const Response* first = writes_.Push(std::move(response)); first != nullptr) {
      this->StartWrite(first);
    }
  }

  void FinishStream(const grpc::Status& status) override { this->Finish(status); }

  Request request_;

 private:
  WriteQueue<Response> writes_;
};

class SotwStream final : public Reactor<discovery::DiscoveryRequest, discovery::DiscoveryResponse> {
 public:
  using Reactor::Reactor;

 private:
  bool HandleRequest() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string& type = request_.type_url();
    if (!CheckRequest(type, static_cast<size_t>(request_.resource_names_size()))) return false;
    TypeState& state = types_[type];
    if (!request_.response_nonce().empty()) {
      OnAnswer(type, state, request_.response_nonce(), request_.version_info(),
               request_.has_error_detail() ? &request_.error_detail() : nullptr);
      return true;
    }
    // A new subscription (or a reconnect): send the current state of the type.
    state.subscribed = true;
    state.names = {request_.resource_names().begin(), request_.resource_names().end()};
    state.sent_hash.clear();
    if (view_.types.empty()) {
      RefreshLocked(*server_.registry());
    } else {
      SendType(type, state);
    }
    return !finished_;
  }

  bool SendType(const std::string& type, TypeState& state) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Every type of kAllTypes is in the view, empty or not (CheckRequest admitted only those).
    auto it = view_.types.find(type);
    const std::string hash = view_.TypeHash(type);
    if (hash == state.sent_hash) return false;
    state.sent_hash = hash;
    discovery::DiscoveryResponse response;
    response.set_type_url(type);
    response.set_version_info(absl::StrCat(version_));
    response.set_nonce(NextNonce());
    if (it != view_.types.end()) {
      for (const auto& [name, r] : it->second) {
        if (state.names.empty() || state.names.count(name)) *response.add_resources() = r.resource;
      }
    }
    state.outstanding[response.nonce()] = version_;
    server_.tracker_.Update(
        id_, [&](ProxyState& s) { s.types[type].sent_version = response.version_info(); });
    Send(std::move(response));
    return true;
  }
};

class DeltaStream final
    : public Reactor<discovery::DeltaDiscoveryRequest, discovery::DeltaDiscoveryResponse> {
 public:
  using Reactor::Reactor;

 private:
  bool HandleRequest() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string& type = request_.type_url();
    auto known = types_.find(type);
    const size_t held = known == types_.end() ? 0 : known->second.names.size();
    if (!CheckRequest(type, held + static_cast<size_t>(request_.resource_names_subscribe_size()) +
                                static_cast<size_t>(request_.initial_resource_versions_size()))) {
      return false;
    }
    TypeState& state = types_[type];
    if (!request_.response_nonce().empty()) {
      OnAnswer(type, state, request_.response_nonce(), absl::StrCat(version_),
               request_.has_error_detail() ? &request_.error_detail() : nullptr);
      return true;
    }
    // First request of a type (wildcard subscription): initial_resource_versions says what a
    // reconnecting client still holds, so only differences are sent.
    if (!state.subscribed) {
      state.subscribed = true;
      for (const auto& [name, version] : request_.initial_resource_versions()) {
        state.client_has[name] = version;
      }
    }
    for (const std::string& name : request_.resource_names_subscribe()) {
      if (name != "*") state.names.insert(name);
    }
    for (const std::string& name : request_.resource_names_unsubscribe()) state.names.erase(name);
    if (view_.types.empty()) {
      RefreshLocked(*server_.registry());
    } else {
      SendType(type, state);
    }
    return !finished_;
  }

  bool SendType(const std::string& type, TypeState& state) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    discovery::DeltaDiscoveryResponse response;
    response.set_type_url(type);
    auto it = view_.types.find(type);
    static const ResourceMap kNone;
    const ResourceMap& current = it == view_.types.end() ? kNone : it->second;
    for (const auto& [name, r] : current) {
      if (!state.names.empty() && !state.names.count(name)) continue;
      auto has = state.client_has.find(name);
      if (has != state.client_has.end() && has->second == r.hash) continue;
      discovery::Resource* resource = response.add_resources();
      resource->set_name(name);
      resource->set_version(r.hash);
      *resource->mutable_resource() = r.resource;
      state.client_has[name] = r.hash;
    }
    for (auto has = state.client_has.begin(); has != state.client_has.end();) {
      if (current.count(has->first) == 0) {
        response.add_removed_resources(has->first);
        has = state.client_has.erase(has);
      } else {
        ++has;
      }
    }
    if (response.resources_size() == 0 && response.removed_resources_size() == 0 &&
        state.sent_hash == "sent") {
      return false;
    }
    state.sent_hash = "sent";  // the first response is sent even when empty
    response.set_system_version_info(absl::StrCat(version_));
    response.set_nonce(NextNonce());
    state.outstanding[response.nonce()] = version_;
    server_.tracker_.Update(
        id_, [&](ProxyState& s) { s.types[type].sent_version = response.system_version_info(); });
    Send(std::move(response));
    return true;
  }
};

AdsServer::AdsServer(AdsOptions options, ProxyTracker& tracker, AdsStats& stats)
    : options_(std::move(options)), tracker_(tracker), stats_(stats) {
  pusher_ = std::thread([this] { PushLoop(); });
}

AdsServer::~AdsServer() { Stop(); }

void AdsServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (pusher_.joinable()) pusher_.join();
}

void AdsServer::Update(std::shared_ptr<const Registry> registry) {
  absl::MutexLock lock(&mu_);
  stats_.config_version.Set(static_cast<int64_t>(registry->version()));
  registry_ = std::move(registry);
  dirty_ = true;
}

void AdsServer::Refresh() {
  absl::MutexLock lock(&mu_);
  dirty_ = true;
}

std::shared_ptr<const Registry> AdsServer::registry() const {
  absl::MutexLock lock(&mu_);
  return registry_;
}

void AdsServer::Remove(Stream* stream) {
  std::shared_ptr<Stream> keep;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(stream);
  if (it != streams_.end()) {
    keep = std::move(it->second);
    streams_.erase(it);
  }
}

void AdsServer::PushLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return dirty_ || stopping_; };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
    }
    // Debounce: changes arriving together are pushed together.
    absl::SleepFor(options_.debounce);
    std::shared_ptr<const Registry> registry;
    std::vector<std::shared_ptr<Stream>> streams;
    {
      absl::MutexLock lock(&mu_);
      dirty_ = false;
      registry = registry_;
      for (const auto& [ptr, stream] : streams_) streams.push_back(stream);
    }
    if (registry == nullptr) continue;
    PushRecord record;
    record.version = registry->version();
    record.pushed_at = absl::Now();
    for (const std::shared_ptr<Stream>& stream : streams) {
      if (stream->OnRegistry(registry)) record.affected.push_back(stream->key());
    }
    stats_.pushes.Inc();
    if (!record.affected.empty()) {
      LOG_INFO("xds", "pushed version ", record.version, " to ", record.affected.size(),
               " affected proxy(ies) of ", streams.size(), " in ",
               absl::FormatDuration(absl::Now() - record.pushed_at));
    }
    tracker_.RecordPush(std::move(record));
  }
}

absl::StatusOr<WorkloadView> AdsServer::ViewFor(absl::string_view ns,
                                                absl::string_view name) const {
  std::shared_ptr<const Registry> registry = this->registry();
  if (registry == nullptr) return absl::UnavailableError("the registry is not loaded yet");
  const Workload* workload = registry->FindWorkload(ns, name);
  if (workload == nullptr) {
    return absl::NotFoundError(absl::StrCat("no workload ", ns, "/", name, " is registered"));
  }
  ViewOptions options;
  options.trust_domain = options_.trust_domain;
  if (options_.bundle) options.bundle_pem = options_.bundle();
  return ComputeView(*registry, *workload, options);
}

template <typename S>
S* AdsServer::Open(grpc::CallbackServerContext* context) {
  auto stream = std::make_shared<S>(*this, context);
  S* raw = stream.get();
  {
    // Registered before the first read can complete, so OnDone always finds it.
    absl::MutexLock lock(&mu_);
    streams_[raw] = std::move(stream);
  }
  raw->Begin();
  return raw;
}

grpc::ServerBidiReactor<discovery::DiscoveryRequest, discovery::DiscoveryResponse>*
AdsServer::StreamAggregatedResources(grpc::CallbackServerContext* context) {
  return Open<SotwStream>(context);
}

grpc::ServerBidiReactor<discovery::DeltaDiscoveryRequest, discovery::DeltaDiscoveryResponse>*
AdsServer::DeltaAggregatedResources(grpc::CallbackServerContext* context) {
  return Open<DeltaStream>(context);
}

}  // namespace remora::xds
