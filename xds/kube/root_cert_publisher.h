// Trust distribution in Kubernetes mode (issue 18): the mesh's root certificates as ConfigMap
// remora-ca-root-cert (key root-cert.pem) in every namespace that has mesh pods, rewritten when
// the roots change (`remoractl ca rotate` adds or retires one). Istio's namespace controller
// publishes istio-ca-root-cert the same way (pilot/pkg/keycertbundle, namespacecontroller), so
// applications and init containers can trust the mesh without asking the control plane.
//
// Threading: on the API client's executor. Writes are CreateOrGet, then GetAndUpdate when the
// content differs (race-safe with other writers); a failed write is retried after a pause.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "kube/api_client.h"
#include "nlohmann/json.hpp"

namespace remora::xds {

inline constexpr char kRootCertConfigMap[] = "remora-ca-root-cert";
inline constexpr char kRootCertKey[] = "root-cert.pem";

// The ConfigMap object (pure).
nlohmann::json RootCertConfigMap(const std::string& ns, const std::string& pem);

class RootCertPublisher : public std::enable_shared_from_this<RootCertPublisher> {
 public:
  // `bundle` returns the PEM roots to publish (the CA's bundle); called on the executor.
  RootCertPublisher(std::shared_ptr<kube::ApiClient> client, std::function<std::string()> bundle,
                    absl::Duration retry = absl::Seconds(5))
      : client_(std::move(client)), bundle_(std::move(bundle)), retry_(retry) {}

  // Makes every namespace of `namespaces` (and those published before) hold the current bundle.
  // On the executor.
  void Publish(const std::set<std::string>& namespaces);
  // Publish() again for the namespaces known so far (after a root change). On the executor.
  void Republish() { Publish({}); }

 private:
  awaitable<void> Ensure(std::string ns, std::string pem);

  const std::shared_ptr<kube::ApiClient> client_;
  const std::function<std::string()> bundle_;
  const absl::Duration retry_;
  std::set<std::string> namespaces_;
  std::map<std::string, std::string> published_;  // namespace -> the PEM it holds
  std::set<std::string> in_flight_;
};

}  // namespace remora::xds
