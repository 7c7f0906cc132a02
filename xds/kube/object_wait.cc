#include "xds/kube/object_wait.h"

#include "absl/strings/str_cat.h"

namespace remora::xds {
namespace {

int64_t Generation(const kube::CachedObject& object) {
  auto meta = object.object.find("metadata");
  if (meta == object.object.end() || !meta->is_object()) return 0;
  auto it = meta->find("generation");
  return it != meta->end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

remora::v1::ObjectProgress Settle(const PublishedCluster& published,
                                  const remora::v1::KubeObjectRef& ref) {
  remora::v1::ObjectProgress progress;
  *progress.mutable_object() = ref;
  auto snapshot = published.by_kind.find(ref.kind());
  if (snapshot == published.by_kind.end() || snapshot->second == nullptr) {
    progress.set_state("unwatched");
    progress.set_detail(absl::StrCat(
        "remora-control does not read ", ref.kind(),
        " objects (it reads Namespace, Pod, Service, NetworkPolicy, and AuthorizationPolicy and "
        "PeerAuthentication when the cluster serves security.istio.io/v1)"));
    return progress;
  }
  const kube::ObjectPtr cached = snapshot->second->Get(ref.namespace_(), ref.name());
  const bool same_object = cached != nullptr && (ref.uid().empty() || cached->uid == ref.uid());
  if (ref.absent()) {
    if (same_object) {
      progress.set_state("pending");
      progress.set_detail("deleted from the API server; remora-control has not seen it go yet");
    } else {
      progress.set_state("deleted");
    }
    return progress;
  }
  if (!same_object) {
    progress.set_state("pending");
    progress.set_detail(cached == nullptr
                            ? "remora-control has not seen it yet"
                            : "remora-control still has an earlier object of that name");
    return progress;
  }
  if (cached->resource_version == ref.resource_version()) {
    auto refused = published.refused.find(absl::StrCat(cached->uid, "/", cached->resource_version));
    if (refused != published.refused.end()) {
      progress.set_state("refused");
      progress.set_detail(refused->second);
    } else {
      progress.set_state("applied");
    }
    return progress;
  }
  if (ref.generation() > 0 && Generation(*cached) > ref.generation()) {
    progress.set_state("superseded");
    progress.set_detail(absl::StrCat("a later change (resourceVersion ", cached->resource_version,
                                     ", generation ", Generation(*cached), ") is applied instead"));
    return progress;
  }
  progress.set_state("pending");
  progress.set_detail(absl::StrCat("remora-control has resourceVersion ", cached->resource_version,
                                   ", not yet ", ref.resource_version()));
  return progress;
}

bool IsSettled(const remora::v1::ObjectProgress& progress) { return progress.state() != "pending"; }

}  // namespace remora::xds
