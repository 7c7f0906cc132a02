#include "xds/kube/kube_sync.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "kube/events.h"
#include "xds/kube/cluster_mapping.h"
#include "xds/server/operator_service.h"

namespace remora::xds {

KubeSync::KubeSync(std::shared_ptr<kube::ApiClient> client, ConfigStore& store, AdsServer& ads,
                   std::string root_namespace)
    : client_(std::move(client)),
      store_(store),
      ads_(ads),
      root_namespace_(std::move(root_namespace)) {}

KubeSync::~KubeSync() { Stop(); }

void KubeSync::Start() {
  auto make = [this](const kube::ResourceType& type) {
    kube::InformerOptions options;
    options.type = type;
    options.on_change =
        [this, alive = std::weak_ptr<std::atomic<bool>>(alive_)](const kube::ChangeBatch&) {
          if (auto a = alive.lock(); a && *a) Schedule();
        };
    std::shared_ptr<kube::Informer> informer = kube::Informer::Create(client_, std::move(options));
    return informer;
  };
  namespaces_ = make(kube::types::kNamespaces);
  pods_ = make(kube::types::kPods);
  services_ = make(kube::types::kServices);
  slices_ = make(kube::types::kEndpointSlices);
  policies_ = {make(kube::types::kNetworkPolicies), make(kube::types::kAuthorizationPolicies),
               make(kube::types::kPeerAuthentications)};
  for (auto* informer : {&namespaces_, &pods_, &services_, &slices_}) (*informer)->Start();
  for (auto& informer : policies_) informer->Start();
  LOG_INFO("kube",
           "watching namespaces, pods, services, endpointslices, networkpolicies, "
           "authorizationpolicies and peerauthentications at ",
           client_->config().source);
}

void KubeSync::Stop() {
  *alive_ = false;
  for (auto* informer : {&namespaces_, &pods_, &services_, &slices_}) {
    if (*informer) (*informer)->Stop();
  }
  for (auto& informer : policies_) informer->Stop();
}

bool KubeSync::Synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

std::shared_ptr<const MeshPods> KubeSync::Pods() const {
  absl::MutexLock lock(&mu_);
  return mesh_pods_;
}

std::shared_ptr<const std::set<std::string>> KubeSync::MeshNamespaces() const {
  absl::MutexLock lock(&mu_);
  return mesh_namespaces_;
}

void KubeSync::Schedule() {
  // Coalesces the batches of every informer that arrive before the resync runs.
  if (scheduled_) return;
  scheduled_ = true;
  asio::post(client_->executor(), [this, alive = std::weak_ptr<std::atomic<bool>>(alive_)] {
    if (auto a = alive.lock(); !a || !*a) return;
    scheduled_ = false;
    Resync();
  });
}

void KubeSync::Resync() {
  std::vector<std::shared_ptr<kube::Informer>> all = {namespaces_, pods_, services_, slices_};
  all.insert(all.end(), policies_.begin(), policies_.end());
  for (const auto& informer : all) {
    if (!informer->HasSynced()) return;
  }
  // The snapshots own the objects MapCluster points into until the end of this function.
  std::vector<std::shared_ptr<const kube::CacheSnapshot>> snapshots;
  auto collect = [&](const std::shared_ptr<kube::Informer>& informer,
                     std::vector<const nlohmann::json*>* out) {
    snapshots.push_back(informer->Snapshot());
    for (const auto& [key, object] : snapshots.back()->items()) out->push_back(&object->object);
  };
  ClusterObjects objects;
  collect(namespaces_, &objects.namespaces);
  collect(pods_, &objects.pods);
  collect(services_, &objects.services);
  collect(slices_, &objects.endpoint_slices);
  for (const auto& informer : policies_) collect(informer, &objects.policies);
  ClusterDocuments mapped = MapCluster(objects, ValidateDocument);

  std::set<std::string> reported;
  for (const RefusedObject& refused : mapped.refused) {
    const kube::ObjectReference ref = kube::ReferenceTo(*refused.object);
    const std::string id = absl::StrCat(ref.uid, "/", ref.resource_version);
    reported.insert(id);
    if (reported_.count(id) != 0) continue;
    LOG_WARN("kube", "refused ", ref.kind, " ", ref.namespace_name, "/", ref.name, ": ",
             refused.message);
    if (!refused.is_policy) continue;
    kube::EventInfo info;
    info.type = "Warning";
    info.reason = "PolicyRejected";
    info.message = refused.message;
    asio::co_spawn(
        client_->executor(), kube::RecordEvent(client_, ref, std::move(info), absl::Now()),
        [what = absl::StrCat(ref.kind, " ", ref.namespace_name, "/", ref.name)](
            std::exception_ptr e, absl::StatusOr<nlohmann::json> result) {
          if (e) {
            LOG_ERROR("kube", "recording an Event on ", what, " threw");
          } else if (!result.ok()) {
            LOG_WARN("kube", "cannot record an Event on ", what, ": ", result.status().message());
          }
        });
  }
  reported_ = std::move(reported);

  absl::StatusOr<ApplyResult> result = store_.Replace(mapped.documents);
  if (!result.ok()) {
    LOG_ERROR("kube", "cannot store the cluster's state: ", result.status().message());
    return;
  }
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    first = !synced_;
    synced_ = true;
    mesh_pods_ = std::make_shared<const MeshPods>(std::move(mapped.pods));
    mesh_namespaces_ =
        std::make_shared<const std::set<std::string>>(std::move(mapped.mesh_namespaces));
  }
  if (result->changed || first) {
    if (absl::Status s = PublishRegistry(store_, ads_, root_namespace_); !s.ok()) {
      LOG_ERROR("kube", "registry rebuild failed: ", s.message());
    } else {
      LOG_INFO("kube", first ? "synced" : "resynced", ": ", mapped.documents.size(), " object(s), ",
               result->changes.size(), " changed; configuration version ", result->version);
    }
  }
  for (const auto& listener : listeners_) listener();
}

}  // namespace remora::xds
