#include "kube/resource_type.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace remora::kube {
namespace {

void AddParam(std::string* query, absl::string_view name, absl::string_view value) {
  if (value.empty()) return;
  if (!query->empty()) query->push_back('&');
  absl::StrAppend(query, name, "=", PercentEncode(value));
}

}  // namespace

std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ResourceType::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

std::string ResourceType::Name() const {
  return group.empty() ? resource : absl::StrCat(resource, ".", group);
}

std::string ResourceType::CollectionPath(absl::string_view ns) const {
  std::string path =
      group.empty() ? absl::StrCat("/api/", version) : absl::StrCat("/apis/", group, "/", version);
  if (namespaced && !ns.empty()) absl::StrAppend(&path, "/namespaces/", PercentEncode(ns));
  absl::StrAppend(&path, "/", resource);
  return path;
}

std::string ResourceType::ObjectPath(absl::string_view ns, absl::string_view name) const {
  return absl::StrCat(CollectionPath(ns), "/", PercentEncode(name));
}

std::string ListOptions::Query() const {
  std::string q;
  AddParam(&q, "labelSelector", label_selector);
  AddParam(&q, "fieldSelector", field_selector);
  if (limit > 0) AddParam(&q, "limit", absl::StrCat(limit));
  AddParam(&q, "continue", continue_token);
  AddParam(&q, "resourceVersion", resource_version);
  AddParam(&q, "resourceVersionMatch", resource_version_match);
  return q;
}

std::string WatchOptions::Query() const {
  std::string q = "watch=true";
  AddParam(&q, "labelSelector", label_selector);
  AddParam(&q, "fieldSelector", field_selector);
  AddParam(&q, "resourceVersion", resource_version);
  if (allow_bookmarks) AddParam(&q, "allowWatchBookmarks", "true");
  if (timeout_seconds > 0) AddParam(&q, "timeoutSeconds", absl::StrCat(timeout_seconds));
  return q;
}

namespace types {
const ResourceType kNamespaces{"", "v1", "namespaces", "Namespace", false};
const ResourceType kPods{"", "v1", "pods", "Pod", true};
const ResourceType kServices{"", "v1", "services", "Service", true};
const ResourceType kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice",
                                   true};
const ResourceType kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy",
                                    true};
const ResourceType kAuthorizationPolicies{"security.istio.io", "v1", "authorizationpolicies",
                                          "AuthorizationPolicy", true};
const ResourceType kAuthorizationPoliciesBeta1{
    "security.istio.io", "v1beta1", "authorizationpolicies", "AuthorizationPolicy", true};
const ResourceType kPeerAuthentications{"security.istio.io", "v1", "peerauthentications",
                                        "PeerAuthentication", true};
const ResourceType kPeerAuthenticationsBeta1{"security.istio.io", "v1beta1", "peerauthentications",
                                             "PeerAuthentication", true};
const ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
const ResourceType kSecrets{"", "v1", "secrets", "Secret", true};
const ResourceType kEvents{"", "v1", "events", "Event", true};
const ResourceType kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const ResourceType kTokenReviews{"authentication.k8s.io", "v1", "tokenreviews", "TokenReview",
                                 false};
const ResourceType kMutatingWebhookConfigurations{"admissionregistration.k8s.io", "v1",
                                                  "mutatingwebhookconfigurations",
                                                  "MutatingWebhookConfiguration", false};
}  // namespace types

}  // namespace remora::kube
