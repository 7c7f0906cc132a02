// Reads Kubernetes-style YAML policy documents (what `kubectl apply -f` takes) into a PolicySet:
// security.istio.io/v1 and v1beta1 AuthorizationPolicy and PeerAuthentication,
// networking.k8s.io/v1 NetworkPolicy, and v1 List of those. A pure function over untrusted input.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filters/policy.h"

namespace remora::filters {

// Parses every document of a multi-document stream ("---" separated; empty documents are
// skipped) and validates it completely, including what an engine would refuse at compile time,
// so a set that parses also builds. Unknown fields and unsupported kinds are refused. A missing
// metadata.namespace is "default", as kubectl does. Dry-run: annotation remora.io/dry-run (or
// Istio's istio.io/dry-run) "true".
//
// Refused with a message saying why, beyond what Istio and Kubernetes refuse themselves:
// action CUSTOM (no external authorizer), targetRef/targetRefs (no Gateway or Service
// attachment), requestPrincipals, notRequestPrincipals and request.auth.* conditions (no JWT
// authentication), experimental.envoy.filters.* conditions, principals written with the spiffe://
// scheme (they could never match), and the dry-run annotation on PeerAuthentication. Like Istio's
// admission: a DENY policy without rules, empty `from`/`to` lists, empty sources and operations,
// conditions without values, serviceAccounts with a wildcard or set with principals/namespaces.
//
// InvalidArgument, one message naming the input, the document and the field:
//   policies.yaml: document 2 (AuthorizationPolicy shop/allow-web):
//   spec.rules[0].from[1].source.ipBlocks[0]: "10.0.0.0/33" is not a CIDR: prefix length 33 is
//   over 32
absl::StatusOr<PolicySet> ParsePolicyDocuments(absl::string_view yaml, absl::string_view source);

}  // namespace remora::filters
