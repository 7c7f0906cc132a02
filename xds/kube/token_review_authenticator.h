// Kubernetes mode's CSR authentication (issue 18), as istiod's KubeJWTAuthenticator
// (security/pkg/server/ca/authenticate/kubeauth): the proxy presents its projected ServiceAccount
// token (audience remora-control), the API server reviews it (TokenReview), and the certificate
// names spiffe://<td>/ns/<ns>/sa/<sa> from the review's user, never from the CSR. Beyond
// istiod, the token must be bound to a pod (the review's extra pod-name and pod-uid, present for
// a kubelet-projected token) that the control plane knows as a mesh pod with that service
// account; the certificate is bound to that pod (certs/workload_binding.h).
//
// Accepted reviews are cached by the token's SHA-256 for at most the token's remaining life and
// at most `max_cache_ttl` (the API server would refuse it after its exp; a deleted pod is caught
// by the pod check, made again on every hit). Refusals are not cached: the pod may just not be
// in the informer's cache yet.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kube/api_client.h"
#include "kube/token_review.h"
#include "xds/kube/kube_mapping.h"
#include "xds/server/csr_authenticator.h"

namespace remora::xds {

inline constexpr char kTokenAudience[] = "remora-control";

// The mesh pod ns/name, or nullopt. Any thread.
using MeshPodLookup =
    std::function<std::optional<MeshPod>(const std::string& ns, const std::string& name)>;

// The decision on one review (pure): the caller, or Unauthenticated (the API server did not
// authenticate the token, or not for `audience`) / PermissionDenied (not a service account, not
// bound to a pod, or a pod the control plane does not know), each saying which check failed.
absl::StatusOr<CsrCaller> CallerFromReview(const kube::TokenReviewResult& review,
                                           absl::string_view audience, const MeshPodLookup& pods);

// The token's exp claim, read without verifying anything (only to bound the cache: the API
// server verified the token). nullopt when it has none.
std::optional<absl::Time> UnverifiedExpiry(absl::string_view token);

struct TokenReviewAuthenticatorOptions {
  std::string audience = kTokenAudience;
  size_t max_cache_entries = 4096;
  absl::Duration max_cache_ttl = absl::Minutes(5);
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class TokenReviewAuthenticator final : public CsrAuthenticator {
 public:
  TokenReviewAuthenticator(std::shared_ptr<kube::ApiClient> client, MeshPodLookup pods,
                           TokenReviewAuthenticatorOptions options = {});
  void Authenticate(std::string token, Done done) override;

  size_t cache_size() const;
  uint64_t reviews() const;  // TokenReviews sent

 private:
  struct Entry {
    kube::TokenReviewResult review;
    absl::Time expires;
  };
  void Remember(const std::string& key, const kube::TokenReviewResult& review,
                std::optional<absl::Time> token_expiry);

  const std::shared_ptr<kube::ApiClient> client_;
  const MeshPodLookup pods_;
  const TokenReviewAuthenticatorOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  uint64_t reviews_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace remora::xds
