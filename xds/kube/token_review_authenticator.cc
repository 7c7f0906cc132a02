#include "xds/kube/token_review_authenticator.h"

#include <openssl/sha.h>

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"

namespace remora::xds {
namespace {

constexpr char kServiceAccountPrefix[] = "system:serviceaccount:";
constexpr char kPodName[] = "authentication.kubernetes.io/pod-name";
constexpr char kPodUid[] = "authentication.kubernetes.io/pod-uid";

std::string TokenKey(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

std::string OneExtra(const kube::TokenReviewResult& review, const char* key) {
  auto it = review.extra.find(key);
  return it != review.extra.end() && it->second.size() == 1 ? it->second[0] : std::string();
}

}  // namespace

absl::StatusOr<CsrCaller> CallerFromReview(const kube::TokenReviewResult& review,
                                           absl::string_view audience, const MeshPodLookup& pods) {
  if (!review.authenticated) {
    // kube-apiserver's words for an audience mismatch (go-jose's validation, as relayed by
    // pkg/serviceaccount): "token audiences [...] is invalid for the target audiences [...]".
    if (absl::StrContains(review.error, "audience")) {
      return absl::UnauthenticatedError(
          absl::StrCat("audience mismatch: the token is not for audience \"", audience,
                       "\" (project the ServiceAccount token with audience ", audience,
                       "); the API server said: ", review.error));
    }
    return absl::UnauthenticatedError(absl::StrCat(
        "unauthenticated: the API server did not authenticate the token (TokenReview",
        review.error.empty() ? ": an unknown or malformed token" : absl::StrCat(": ", review.error),
        ")"));
  }
  if (std::find(review.audiences.begin(), review.audiences.end(), audience) ==
      review.audiences.end()) {
    return absl::UnauthenticatedError(
        absl::StrCat("audience mismatch: the API server authenticated the token for [",
                     absl::StrJoin(review.audiences, ", "), "], not for \"", audience, "\""));
  }
  std::vector<std::string> parts = absl::StrSplit(review.username, ':');
  if (!absl::StartsWith(review.username, kServiceAccountPrefix) || parts.size() != 4 ||
      parts[2].empty() || parts[3].empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "not a service account: the token belongs to user \"", review.username,
        "\"; only a pod's ServiceAccount token (system:serviceaccount:<ns>:<sa>) gets a "
        "workload certificate"));
  }
  const std::string& ns = parts[2];
  const std::string& sa = parts[3];
  const std::string pod_name = OneExtra(review, kPodName);
  const std::string pod_uid = OneExtra(review, kPodUid);
  if (pod_name.empty() || pod_uid.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "not bound to a pod: the token of ", ns, "/", sa,
        " names no pod (use the projected token the kubelet mounts, or `kubectl create token ", sa,
        " -n ", ns, " --audience ", audience,
        " --bound-object-kind Pod --bound-object-name "
        "POD`)"));
  }
  std::optional<MeshPod> pod = pods(ns, pod_name);
  if (!pod.has_value() || pod->uid != pod_uid) {
    return absl::PermissionDeniedError(absl::StrCat(
        "unknown pod: ", ns, "/", pod_name, " (uid ", pod_uid,
        ") is not a running pod with the sidecar that the control plane knows; if it was just "
        "created, retry once it is Running"));
  }
  if (pod->service_account != sa) {
    return absl::PermissionDeniedError(
        absl::StrCat("unknown pod: ", ns, "/", pod_name, " runs as service account ",
                     pod->service_account, ", the token is ", sa, "'s"));
  }
  return CsrCaller{ns, sa, pod_name, absl::StrCat("TokenReview of pod ", ns, "/", pod_name)};
}

std::optional<absl::Time> UnverifiedExpiry(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return std::nullopt;
  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) return std::nullopt;
  nlohmann::json claims = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return std::nullopt;
  auto exp = claims.find("exp");
  if (exp == claims.end() || !exp->is_number()) return std::nullopt;
  const double seconds = exp->get<double>();
  if (!(seconds > 0 && seconds < 1e11)) return std::nullopt;
  return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
}

TokenReviewAuthenticator::TokenReviewAuthenticator(std::shared_ptr<kube::ApiClient> client,
                                                   MeshPodLookup pods,
                                                   TokenReviewAuthenticatorOptions options)
    : client_(std::move(client)), pods_(std::move(pods)), options_(std::move(options)) {}

size_t TokenReviewAuthenticator::cache_size() const {
  absl::MutexLock lock(&mu_);
  return cache_.size();
}

uint64_t TokenReviewAuthenticator::reviews() const {
  absl::MutexLock lock(&mu_);
  return reviews_;
}

void TokenReviewAuthenticator::Remember(const std::string& key,
                                        const kube::TokenReviewResult& review,
                                        std::optional<absl::Time> token_expiry) {
  // A token without exp is not cached: there is no remaining life to bound the entry by.
  if (!token_expiry.has_value()) return;
  const absl::Time now = options_.now();
  const absl::Time expires = std::min(*token_expiry, now + options_.max_cache_ttl);
  if (expires <= now) return;
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= options_.max_cache_entries) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
    }
    // Still full: start over rather than keep an unbounded map (a reviewed token is only a
    // round trip to the API server away).
    if (cache_.size() >= options_.max_cache_entries) cache_.clear();
  }
  cache_[key] = Entry{review, expires};
}

void TokenReviewAuthenticator::Authenticate(std::string token, Done done) {
  const std::string key = TokenKey(token);
  std::optional<kube::TokenReviewResult> cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > options_.now()) {
      cached = it->second.review;
    } else {
      if (it != cache_.end()) cache_.erase(it);
      ++reviews_;
    }
  }
  if (cached.has_value()) {
    // The pod check again: the pod may have gone since the review.
    absl::StatusOr<CsrCaller> caller = CallerFromReview(*cached, options_.audience, pods_);
    if (caller.ok()) caller->via += " (cached)";
    done(std::move(caller));
    return;
  }
  std::optional<absl::Time> expiry = UnverifiedExpiry(token);
  asio::co_spawn(
      client_->executor(), kube::ReviewToken(client_, std::move(token), {options_.audience}),
      [this, key, expiry, done = std::move(done)](std::exception_ptr e,
                                                  absl::StatusOr<kube::TokenReviewResult> review) {
        if (e) {
          done(absl::InternalError("the TokenReview failed unexpectedly"));
          return;
        }
        if (!review.ok()) {
          done(absl::UnavailableError(absl::StrCat(
              "cannot review the token with the Kubernetes API server: ", review.status().message(),
              "; retry")));
          return;
        }
        absl::StatusOr<CsrCaller> caller = CallerFromReview(*review, options_.audience, pods_);
        if (caller.ok()) Remember(key, *review, expiry);
        done(std::move(caller));
      });
}

}  // namespace remora::xds
