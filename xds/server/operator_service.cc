#include "xds/server/operator_service.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/yaml.h"
#include "filters/policy_yaml.h"
#include "xds/registry/registry.h"
#include "xds/server/grpc_auth.h"
#include "xds/view/resource_types.h"

namespace remora::xds {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

constexpr char kSupportedKinds[] =
    "security.istio.io/v1 AuthorizationPolicy, security.istio.io/v1 PeerAuthentication, "
    "networking.k8s.io/v1 NetworkPolicy, remora.io/v1 Workload, remora.io/v1 Service, v1 Namespace";

}  // namespace

absl::Status ValidateDocument(const Document& doc) {
  if (IsRemoraKind(doc.api_version, doc.key.kind)) return ValidateRegistryDocument(doc);
  if (IsPolicyKind(doc.api_version, doc.key.kind)) {
    absl::StatusOr<filters::PolicySet> set = filters::ParsePolicyDocuments(DumpYaml(doc.node), "-");
    if (set.ok()) return absl::OkStatus();
    // The parser saw this document alone ("-: document 1 (...): field: why"); say where it
    // really is in the operator's input.
    absl::string_view message = set.status().message();
    const size_t after_place = message.find("): ");
    if (absl::StartsWith(message, "-: document 1 (") && after_place != absl::string_view::npos) {
      message.remove_prefix(after_place + 3);
    }
    return absl::InvalidArgumentError(absl::StrCat(doc.where, ": ", message));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(doc.where, ": apiVersion \"", doc.api_version, "\" kind \"", doc.key.kind,
                   "\" is not supported; supported: ", kSupportedKinds));
}

absl::Status PublishRegistry(ConfigStore& store, AdsServer& ads,
                             const std::string& root_namespace) {
  absl::StatusOr<std::shared_ptr<const Registry>> registry =
      Registry::Build(store.Current(), root_namespace);
  if (!registry.ok()) return registry.status();
  ads.Update(std::move(*registry));
  return absl::OkStatus();
}

grpc::Status OperatorService::Apply(grpc::ServerContext* context,
                                    const remora::v1::ApplyRequest* request,
                                    remora::v1::ApplyResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  if (deps_.kube_mode) {
    // The cluster is the source of truth: an object applied here would vanish at the next
    // resync, and one deleted here would come back. Writing through to the API server would
    // bypass the RBAC that governs who may change policy; istioctl likewise leaves that to
    // kubectl.
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "remora-control runs in Kubernetes mode: the cluster is the source of truth, so policy "
        "changes go through the API server: kubectl ",
        request->delete_() ? "delete" : "apply", " -f ",
        request->source().empty() ? "FILE" : request->source(),
        " (remoractl get, proxy-status and proxy-config still work)")));
  }
  absl::StatusOr<ApplyResult> result =
      deps_.store.Apply(request->yaml(), request->source().empty() ? "request" : request->source(),
                        request->delete_(), ValidateDocument);
  if (!result.ok()) {
    LOG_WARN("operator", request->delete_() ? "delete" : "apply",
             " refused: ", result.status().message());
    return ToGrpc(result.status());
  }
  for (const ApplyResult::Change& change : result->changes) {
    remora::v1::AppliedObject* o = response->add_objects();
    o->set_kind(change.key.kind);
    o->set_namespace_(change.key.ns);
    o->set_name(change.key.name);
    o->set_action(change.action);
  }
  response->set_version(result->version);
  if (result->changed) {
    LOG_INFO("operator", request->delete_() ? "deleted" : "applied", " ", result->changes.size(),
             " object(s) from ", request->source(), "; configuration version ", result->version);
    if (absl::Status s = PublishRegistry(deps_.store, deps_.ads, deps_.root_namespace); !s.ok()) {
      LOG_ERROR("operator", "registry rebuild failed after apply: ", s.message());
      return ToGrpc(absl::InternalError(absl::StrCat("stored, but not pushed: ", s.message())));
    }
  }
  return grpc::Status::OK;
}

grpc::Status OperatorService::Get(grpc::ServerContext* context,
                                  const remora::v1::GetRequest* request,
                                  remora::v1::GetResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  std::shared_ptr<const StoreSnapshot> snapshot = deps_.store.Current();
  for (const auto& [key, obj] : snapshot->objects) {
    if (request->kind() != "all" && !request->kind().empty() && request->kind() != key.kind)
      continue;
    if (!request->namespace_().empty() && request->namespace_() != key.ns) continue;
    if (!request->name().empty() && request->name() != key.name) continue;
    remora::v1::StoredObject* o = response->add_objects();
    o->set_kind(key.kind);
    o->set_namespace_(key.ns);
    o->set_name(key.name);
    o->set_yaml(obj.yaml);
    o->set_version(obj.version);
  }
  return grpc::Status::OK;
}

grpc::Status OperatorService::WaitForVersion(grpc::ServerContext* context,
                                             const remora::v1::WaitRequest* request,
                                             remora::v1::WaitResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  const absl::Time deadline =
      absl::Now() + absl::Milliseconds(request->timeout_ms() == 0 ? 10000 : request->timeout_ms());
  return AwaitAcks(*context, request->version(), deadline, response);
}

grpc::Status OperatorService::WaitForObjects(grpc::ServerContext* context,
                                             const remora::v1::WaitObjectsRequest* request,
                                             remora::v1::WaitObjectsResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  if (!deps_.kube_published) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "remora-control runs in embedded mode, where there are no Kubernetes "
                        "objects to wait for: use `remoractl apply --wait -f FILE`");
  }
  if (request->objects_size() == 0 || request->objects_size() > 1000) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("wait for between 1 and 1000 objects, not ", request->objects_size()));
  }
  const absl::Time deadline =
      absl::Now() + absl::Milliseconds(request->timeout_ms() == 0 ? 10000 : request->timeout_ms());
  // First the control plane's own watch: until it has mapped the objects' current state, no
  // proxy can have it.
  std::shared_ptr<const PublishedCluster> published;
  std::vector<remora::v1::ObjectProgress> progress;
  while (true) {
    published = deps_.kube_published();
    progress.clear();
    bool settled = published != nullptr;
    for (const remora::v1::KubeObjectRef& ref : request->objects()) {
      if (published == nullptr) {
        remora::v1::ObjectProgress p;
        *p.mutable_object() = ref;
        p.set_state("pending");
        p.set_detail("remora-control has not synced with the API server yet");
        progress.push_back(std::move(p));
        continue;
      }
      progress.push_back(Settle(*published, ref));
      settled = settled && IsSettled(progress.back());
    }
    if (settled || absl::Now() >= deadline || context->IsCancelled()) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  bool all_settled = published != nullptr;
  for (auto& p : progress) {
    all_settled = all_settled && IsSettled(p);
    *response->add_objects() = std::move(p);
  }
  if (!all_settled) return grpc::Status::OK;  // the client reports what is still pending
  return AwaitAcks(*context, published->version, deadline, response->mutable_proxies());
}

grpc::Status OperatorService::AwaitAcks(grpc::ServerContext& context, uint64_t version,
                                        absl::Time deadline, remora::v1::WaitResponse* response) {
  std::optional<PushRecord> push;
  // The pusher debounces; wait for it to have computed who this version affects.
  while (!(push = deps_.tracker.PushFor(version)) && absl::Now() < deadline &&
         !context.IsCancelled()) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  response->set_version(version);
  if (!push) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat("version ", version, " was not pushed in time"));
  }
  response->set_affected(static_cast<uint32_t>(push->affected.size()));
  while (true) {
    uint32_t answered = 0;
    uint32_t slowest = 0;
    std::vector<remora::v1::ProxyProgress> pending;
    for (const std::string& key : push->affected) {
      std::optional<ProxyState> state = deps_.tracker.Find(key);
      remora::v1::ProxyProgress progress;
      progress.set_proxy(key);
      if (!state) {
        progress.set_state("disconnected");
        progress.set_detail("the proxy disconnected before acknowledging");
        pending.push_back(progress);
        continue;
      }
      if (state->synced_version >= push->version) {
        const uint32_t ms = static_cast<uint32_t>(
            std::max<int64_t>(0, absl::ToInt64Milliseconds(state->synced_at - push->pushed_at)));
        slowest = std::max(slowest, ms);
        progress.set_millis(ms);
        if (state->nacked_version >= push->version) {
          progress.set_state("nacked");
          progress.set_detail(state->last_nack);
          pending.push_back(progress);
        } else {
          progress.set_state("acked");
          ++answered;
        }
        continue;
      }
      progress.set_state("pending");
      progress.set_detail(absl::StrCat("has acknowledged version ", state->synced_version));
      pending.push_back(progress);
    }
    const bool all_answered =
        std::all_of(pending.begin(), pending.end(), [](const remora::v1::ProxyProgress& p) {
          return p.state() == "nacked" || p.state() == "disconnected";
        });
    if (all_answered || absl::Now() >= deadline || context.IsCancelled()) {
      response->set_acked(answered);
      response->set_slowest_ms(slowest);
      for (auto& p : pending) *response->add_proxies() = std::move(p);
      return grpc::Status::OK;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

grpc::Status OperatorService::ProxyStatus(grpc::ServerContext* context,
                                          const remora::v1::ProxyStatusRequest* request,
                                          remora::v1::ProxyStatusResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  const uint64_t current = deps_.store.Current()->version;
  response->set_config_version(current);
  std::vector<ProxyState> states = deps_.tracker.Snapshot();
  std::sort(states.begin(), states.end(),
            [](const ProxyState& a, const ProxyState& b) { return a.key < b.key; });
  for (const ProxyState& state : states) {
    remora::v1::ProxyStatusEntry* e = response->add_proxies();
    e->set_proxy(state.key);
    e->set_identity(state.identity);
    e->set_peer(state.peer);
    e->set_connected_since(Rfc3339(state.connected_since));
    e->set_config_version(state.synced_version);
    e->set_synced(state.synced_version >= current);
    for (const auto& [type, t] : state.types) {
      remora::v1::TypeStatus* ts = e->add_types();
      ts->set_type_url(type);
      ts->set_sent_version(t.sent_version);
      ts->set_acked_version(t.acked_version);
      ts->set_last_nack(t.last_nack);
      for (const auto& r : t.rejected) *ts->add_rejected() = r;
    }
  }
  return grpc::Status::OK;
}

grpc::Status OperatorService::ProxyConfig(grpc::ServerContext* context,
                                          const remora::v1::ProxyConfigRequest* request,
                                          remora::v1::ProxyConfigResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  std::vector<std::string> parts = absl::StrSplit(request->proxy(), '/');
  if (parts.size() != 2) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "name the proxy as <namespace>/<workload>");
  }
  absl::StatusOr<WorkloadView> view = deps_.ads.ViewFor(parts[0], parts[1]);
  if (!view.ok()) return ToGrpc(view.status());
  nlohmann::json out = nlohmann::json::object();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  for (const auto& [type, resources] : view->types) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, r] : resources) {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(r.resource, &json, options);
      list.push_back({{"name", name},
                      {"version", r.hash},
                      {"resource", nlohmann::json::parse(json, nullptr, false)}});
    }
    out[std::string(ShortTypeName(type))] = list;
  }
  response->set_json(out.dump(2));
  return grpc::Status::OK;
}

grpc::Status OperatorService::CreateToken(grpc::ServerContext* context,
                                          const remora::v1::CreateTokenRequest* request,
                                          remora::v1::CreateTokenResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  if (deps_.kube_mode) {
    // The CA accepts only reviewed ServiceAccount tokens in this mode: a bootstrap token minted
    // here would be refused by it.
    return ToGrpc(absl::FailedPreconditionError(
        "remora-control runs in Kubernetes mode: proxies authenticate with their pods' projected "
        "ServiceAccount tokens (audience remora-control, checked by TokenReview); bootstrap "
        "tokens are for embedded mode"));
  }
  const absl::Duration ttl =
      absl::Seconds(request->ttl_seconds() == 0 ? 3600 : request->ttl_seconds());
  if (ttl > absl::Hours(24 * 7)) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        "bootstrap tokens live at most 168h; they only start a workload's first CSR");
  }
  if (request->workload().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a bootstrap token is for one workload: name it (remoractl token create "
                        "--workload=NAME); its certificate is bound to that workload");
  }
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> token = deps_.tokens.Mint(
      request->namespace_(), request->service_account(), request->workload(), ttl, now);
  if (!token.ok()) return ToGrpc(token.status());
  response->set_token(*token);
  response->set_expires(Rfc3339(now + ttl));
  LOG_INFO("operator", "minted bootstrap token for workload ", request->namespace_(), "/",
           request->workload(), " service_account=", request->service_account(),
           " expires=", response->expires());
  return grpc::Status::OK;
}

grpc::Status OperatorService::RotateCa(grpc::ServerContext* context,
                                       const remora::v1::RotateCaRequest* request,
                                       remora::v1::RotateCaResponse* response) {
  if (absl::Status s = deps_.auth.Check(*context); !s.ok()) return ToGrpc(s);
  const std::string& step = request->step();
  absl::StatusOr<std::string> message = std::string("no change");
  if (step == "add") {
    message = deps_.ca.RotateAdd(absl::Now());
  } else if (step == "switch") {
    message = deps_.ca.RotateSwitch();
  } else if (step == "retire") {
    message = deps_.ca.RotateRetire();
  } else if (step == "next") {
    message = deps_.ca.RotateNext(absl::Now());
  } else if (step != "status" && !step.empty()) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("unknown step \"", step, "\"; use status, add, switch, retire or next"));
  }
  if (!message.ok()) return ToGrpc(message.status());
  if (step != "status" && !step.empty()) {
    LOG_INFO("operator", "CA rotation: ", *message);
    if (deps_.on_ca_change) deps_.on_ca_change();
    // A version of its own, so `ca rotate --wait` and proxy-status can tell who has the bundle.
    absl::StatusOr<uint64_t> version = deps_.store.Bump();
    if (!version.ok()) return ToGrpc(version.status());
    if (absl::Status s = PublishRegistry(deps_.store, deps_.ads, deps_.root_namespace); !s.ok()) {
      return ToGrpc(s);
    }
    response->set_version(*version);
  } else {
    response->set_version(deps_.store.Current()->version);
  }
  response->set_phase(deps_.ca.Phase());
  response->set_message(*message);
  for (const certs::RootInfo& r : deps_.ca.Roots()) {
    remora::v1::CaRoot* root = response->add_roots();
    root->set_fingerprint(r.fingerprint);
    root->set_not_after(Rfc3339(r.not_after));
    root->set_signing(r.signing);
    root->set_in_bundle(r.in_bundle);
  }
  return grpc::Status::OK;
}

}  // namespace remora::xds
