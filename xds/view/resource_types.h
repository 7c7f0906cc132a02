// Type URLs of Remora's xDS resources, shared by the control plane and the proxy.
#pragma once

#include <array>

#include "absl/strings/string_view.h"

namespace remora::xds {

inline constexpr absl::string_view kWorkloadSettingsType =
    "type.googleapis.com/remora.v1.WorkloadSettings";
inline constexpr absl::string_view kServiceType = "type.googleapis.com/remora.v1.Service";
inline constexpr absl::string_view kAuthorizationPolicyType =
    "type.googleapis.com/remora.v1.AuthorizationPolicy";
inline constexpr absl::string_view kPeerAuthenticationType =
    "type.googleapis.com/remora.v1.PeerAuthentication";
inline constexpr absl::string_view kTrustBundleType = "type.googleapis.com/remora.v1.TrustBundle";

// In the order a proxy should apply them: identity settings and trust before policy.
inline constexpr std::array<absl::string_view, 5> kAllTypes = {
    kWorkloadSettingsType, kTrustBundleType, kPeerAuthenticationType, kServiceType,
    kAuthorizationPolicyType};

// "type.googleapis.com/remora.v1.Service" -> "Service".
inline absl::string_view ShortTypeName(absl::string_view type_url) {
  size_t dot = type_url.rfind('.');
  return dot == absl::string_view::npos ? type_url : type_url.substr(dot + 1);
}

}  // namespace remora::xds
