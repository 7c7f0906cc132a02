// A Kubernetes resource as the REST API addresses it (group, version, plural resource, scope), the
// request paths built from it, and the query options of list and watch
// (https://kubernetes.io/docs/reference/using-api/api-concepts/).
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace remora::kube {

struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, lower case: "pods"
  std::string kind;      // "Pod"
  bool namespaced = true;

  // "v1" or "networking.k8s.io/v1": the apiVersion of its objects.
  std::string ApiVersion() const;
  // "pods" or "networkpolicies.networking.k8s.io", as kubectl names it.
  std::string Name() const;
  // "/api/v1/namespaces/NS/pods", or "/api/v1/pods" for all namespaces (`ns` empty) and for
  // cluster-scoped resources. Segments are percent-encoded.
  std::string CollectionPath(absl::string_view ns) const;
  // CollectionPath(ns) + "/NAME".
  std::string ObjectPath(absl::string_view ns, absl::string_view name) const;
};

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string PercentEncode(absl::string_view text);

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int limit = 0;  // 0: no paging
  std::string continue_token;
  // "" (the default): a consistent read of the latest state, the only kind that pages on every
  // server version ("0" may be served from the watch cache and ignore `limit`).
  std::string resource_version;
  std::string resource_version_match;  // "", "NotOlderThan" or "Exact"

  std::string Query() const;  // "labelSelector=...&limit=500" (no leading '?')
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // the list's, or the last event's or bookmark's
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // 0: the server's default (kube-apiserver: 30-60 min)

  std::string Query() const;  // "watch=true&..."
};

// The types the control plane reads and writes (issue 18).
namespace types {
extern const ResourceType kNamespaces;
extern const ResourceType kPods;
extern const ResourceType kServices;
extern const ResourceType kEndpointSlices;
extern const ResourceType kNetworkPolicies;
extern const ResourceType kAuthorizationPolicies;       // security.istio.io/v1
extern const ResourceType kAuthorizationPoliciesBeta1;  // security.istio.io/v1beta1
extern const ResourceType kPeerAuthentications;         // security.istio.io/v1
extern const ResourceType kPeerAuthenticationsBeta1;    // security.istio.io/v1beta1
extern const ResourceType kConfigMaps;
extern const ResourceType kSecrets;
extern const ResourceType kEvents;  // core v1
extern const ResourceType kLeases;
extern const ResourceType kTokenReviews;
extern const ResourceType kMutatingWebhookConfigurations;
}  // namespace types

}  // namespace remora::kube
