// The workload a certificate was issued for. A SPIFFE ID names a service account, which several
// workloads (pods) may share; the control plane gives each xDS stream the view of one workload,
// so it must know which workload a certificate belongs to, not only which service account. The
// CA records the workload its bootstrap token names in a non-critical extension of Remora's own:
// SVID verifiers ignore an extension they do not know unless it is critical (RFC 5280 4.2), so
// peers see an ordinary X.509-SVID (SPIFFE X509-SVID 4: the URI SAN stays the only identity).
//
// The value is a DER UTF8String holding the workload name (a Kubernetes pod name); the namespace
// is the SPIFFE ID's. A Kubernetes mode that binds to a pod by TokenReview can record the pod's
// uid beside it as a second extension without changing this one.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

// An OID under 2.25 (ITU-T X.667: a UUID as an OID, no registration needed).
inline constexpr char kWorkloadBindingOid[] = "2.25.10873242223906320729297563709938816482";

// Kubernetes object-name rules (RFC 1123 subdomain: lowercase alphanumerics, '-' and '.', at
// most 253 characters, alphanumeric at both ends). InvalidArgument naming the problem.
absl::Status CheckWorkloadName(absl::string_view name);

// The DER extension value binding a certificate to `name` (which must pass CheckWorkloadName).
absl::StatusOr<std::string> EncodeWorkloadBinding(absl::string_view name);

// The workload `cert` is bound to; nullopt when it carries no binding. InvalidArgument when the
// extension is malformed or critical.
absl::StatusOr<std::optional<std::string>> WorkloadBinding(X509* cert);

}  // namespace remora::certs
