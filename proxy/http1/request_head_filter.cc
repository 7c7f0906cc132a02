#include "proxy/http1/request_head_filter.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "filters/request_target.h"
#include "proxy/http1/request_checks.h"
#include "proxy/http1/request_sanitize.h"

namespace remora::proxy::http1 {
namespace {

void FillHttpAttributes(const beast_http::request_header<>& head, const std::string& path,
                        const std::string& authority, filters::RequestAttributes& r) {
  r.http.method = std::string(head.method_string());
  r.http.path = path;
  auto host = head.find(beast_http::field::host);
  r.http.host = host != head.end() ? std::string(host->value()) : authority;
  for (const auto& field : head) {
    std::string name = absl::AsciiStrToLower(
        absl::string_view(field.name_string().data(), field.name_string().size()));
    std::string value(field.value());
    auto [it, inserted] = r.http.headers.try_emplace(name, value);
    if (!inserted) absl::StrAppend(&it->second, ",", value);
  }
}

}  // namespace

filter::FilterResult RequestHeadChecks::OnRequestHead(filter::ConnectionContext& connection,
                                                      filter::HttpRequest& request,
                                                      const Snapshot&) {
  if (absl::Status s = CheckRequestHead(head_); !s.ok()) return BadRequest(connection, s.message());
  std::string authority;
  absl::StatusOr<std::string> path = filters::NormalizeTarget(
      absl::string_view(head_.target().data(), head_.target().size()), &authority);
  if (!path.ok()) return BadRequest(connection, path.status().message());
  // The policy sees what the app will see: no forged x-forwarded-client-cert, no h2c offer.
  SanitizeRequestHead(head_);
  FillHttpAttributes(head_, *path, authority, request.attributes);
  return filter::FilterResult::Continue();
}

filter::FilterResult BadRequest(filter::ConnectionContext& connection, absl::string_view why) {
  connection.stats.http_bad_request.Inc();
  LOG_WARN(connection.component, "bad request from=", From(connection),
           " peer_identity=", Quote(connection.IdentityForLog()), " reason=", Quote(why),
           " (answered 400, nothing forwarded)");
  return filter::FilterResult::Reply(
      filter::LocalReply{400, "Bad Request", absl::StrCat("bad request: ", why, "\n"),
                         /*close=*/true},
      absl::InvalidArgumentError(why));
}

std::string From(const filter::ConnectionContext& connection) {
  const std::optional<filters::IpAddress>& ip = connection.attributes.source.ip;
  return ip.has_value() ? ip->ToString() : "?";
}

}  // namespace remora::proxy::http1
