// The injection webhook's trust in Kubernetes mode (issue 18): keeps `clientConfig.caBundle` of
// every webhook in one MutatingWebhookConfiguration (remora-sidecar-injector) equal to the mesh's
// trust bundle, so the API server verifies the webhook's serving certificate, which the control
// plane issues from its own CA (ServingIdentity), without an operator making a certificate. istiod
// does the same for istio-sidecar-injector (pilot/pkg/webhooks/webhookpatch.go): it watches the
// configuration and rewrites caBundle whenever it differs, so a `kubectl apply` of the manifests,
// which may blank the field, is repaired within a moment.
//
// Threading: on the API client's executor. Writes are GetAndUpdate (a Conflict re-reads and
// retries); a failed write is retried after a pause. An informer on that one object (field
// selector metadata.name) triggers a re-check whenever it changes or appears.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kube/api_client.h"
#include "kube/informer.h"
#include "nlohmann/json.hpp"

namespace remora::xds {

inline constexpr char kDefaultWebhookConfigName[] = "remora-sidecar-injector";

// Sets `clientConfig.caBundle` of every webhook in `config` (a MutatingWebhookConfiguration) to
// `ca_bundle_base64`. Returns whether anything changed, or InvalidArgument when `webhooks` is
// not a list of objects. Pure.
absl::StatusOr<bool> SetWebhookCaBundles(nlohmann::json& config,
                                         const std::string& ca_bundle_base64);

class WebhookCaBundlePatcher : public std::enable_shared_from_this<WebhookCaBundlePatcher> {
 public:
  // `bundle` returns the PEM roots (the CA's bundle); called on the executor.
  WebhookCaBundlePatcher(std::shared_ptr<kube::ApiClient> client, std::string config_name,
                         std::function<std::string()> bundle,
                         absl::Duration retry = absl::Seconds(5))
      : client_(std::move(client)),
        name_(std::move(config_name)),
        bundle_(std::move(bundle)),
        retry_(retry) {}

  // Starts watching the configuration; each change (and the first sync) re-checks caBundle.
  void Start();
  void Stop();
  // Re-checks now (after the roots changed). On the executor.
  void Refresh();

 private:
  awaitable<void> Run();

  const std::shared_ptr<kube::ApiClient> client_;
  const std::string name_;
  const std::function<std::string()> bundle_;
  const absl::Duration retry_;
  std::shared_ptr<kube::Informer> informer_;
  bool running_ = false;  // Run() is in flight
  bool dirty_ = false;    // asked to re-check while running
  bool stopped_ = false;
  bool reported_missing_ = false;
};

}  // namespace remora::xds
