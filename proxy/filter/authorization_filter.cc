#include "proxy/filter/authorization_filter.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "proxy/authorize.h"

namespace remora::proxy::filter {
namespace {

// An inbound HTTP port decides the connection on its connection-level layers only.
bool ConnectionOnly(const ConnectionContext& connection) {
  return connection.direction == filters::Direction::kInbound &&
         connection.protocol == filters::Protocol::kHttp;
}

Verdict Decide(const ConnectionContext& connection, const Snapshot& snapshot) {
  return ConnectionOnly(connection)
             ? AuthorizeConnection(snapshot, connection.attributes, connection.component)
             : Authorize(snapshot, connection.attributes, connection.component);
}

}  // namespace

FilterResult AuthorizationNetworkFilter::OnConnection(ConnectionContext& connection,
                                                      const Snapshot& snapshot) {
  Verdict v = Decide(connection, snapshot);
  if (v.allowed) return FilterResult::Continue();
  connection.stats.authz_denied.Inc();
  return FilterResult::Stop(absl::PermissionDeniedError(
      v.explanation.empty() ? v.reason : absl::StrCat(v.reason, "; ", v.explanation)));
}

FilterResult AuthorizationNetworkFilter::OnConfigChange(ConnectionContext& connection,
                                                        const Snapshot& snapshot) {
  if (connection.direction == filters::Direction::kInbound) {
    // What policies see of this workload may have changed too (its labels, from the registry).
    filters::DestinationAttributes& self = connection.attributes.destination;
    if (self.ns != snapshot.ns()) self.ns = snapshot.ns();
    if (self.labels != snapshot.labels()) self.labels = snapshot.labels();
  }
  Verdict v = Decide(connection, snapshot);
  if (v.allowed) return FilterResult::Continue();
  return FilterResult::Stop(
      absl::PermissionDeniedError(absl::StrCat("policy changed: ", v.reason)));
}

FilterResult AuthorizationHttpFilter::OnRequestHead(ConnectionContext& connection,
                                                    HttpRequest& request,
                                                    const Snapshot& snapshot) {
  const filters::RequestAttributes& r = request.attributes;
  Verdict verdict = Authorize(snapshot, r, connection.component);
  if (verdict.allowed) return FilterResult::Continue();
  connection.stats.http_denied.Inc();
  connection.stats.authz_denied.Inc();
  LOG_WARN(
      connection.component, "denied request from=", r.source.ip ? r.source.ip->ToString() : "?",
      " peer_identity=", Quote(connection.IdentityForLog()), " method=", r.http.method,
      " path=", Quote(r.http.path), " reason=", Quote(verdict.reason),
      verdict.explanation.empty() ? "" : absl::StrCat(" explain=", Quote(verdict.explanation)));
  return FilterResult::Reply(LocalReply{403, "Forbidden", "RBAC: access denied", /*close=*/false},
                             absl::PermissionDeniedError(verdict.reason));
}

}  // namespace remora::proxy::filter
