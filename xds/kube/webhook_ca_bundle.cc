#include "xds/kube/webhook_ca_bundle.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "kube/writers.h"

namespace remora::xds {

absl::StatusOr<bool> SetWebhookCaBundles(nlohmann::json& config,
                                         const std::string& ca_bundle_base64) {
  auto webhooks = config.find("webhooks");
  if (webhooks == config.end() || webhooks->is_null()) return false;  // no webhook: nothing to do
  if (!webhooks->is_array()) {
    return absl::InvalidArgumentError("webhooks is not a list");
  }
  bool changed = false;
  for (size_t i = 0; i < webhooks->size(); ++i) {
    nlohmann::json& webhook = (*webhooks)[i];
    if (!webhook.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("webhooks[", i, "] is not an object"));
    }
    nlohmann::json& client_config = webhook["clientConfig"];
    if (client_config.is_null()) client_config = nlohmann::json::object();
    if (!client_config.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("webhooks[", i, "].clientConfig is not an object"));
    }
    auto current = client_config.find("caBundle");
    if (current != client_config.end() && *current == ca_bundle_base64) continue;
    client_config["caBundle"] = ca_bundle_base64;
    changed = true;
  }
  return changed;
}

void WebhookCaBundlePatcher::Start() {
  kube::InformerOptions options;
  options.type = kube::types::kMutatingWebhookConfigurations;
  options.field_selector = absl::StrCat("metadata.name=", name_);
  std::weak_ptr<WebhookCaBundlePatcher> weak = weak_from_this();
  options.on_change = [weak](const kube::ChangeBatch&) {
    if (auto self = weak.lock()) self->Refresh();
  };
  informer_ = kube::Informer::Create(client_, std::move(options));
  informer_->Start();
}

void WebhookCaBundlePatcher::Stop() {
  stopped_ = true;
  if (informer_ != nullptr) informer_->Stop();
}

void WebhookCaBundlePatcher::Refresh() {
  if (stopped_) return;
  if (running_) {
    dirty_ = true;
    return;
  }
  running_ = true;
  asio::co_spawn(client_->executor(), Run(), [name = name_](std::exception_ptr e) {
    if (e)
      LOG_ERROR("kube", "keeping the caBundle of MutatingWebhookConfiguration ", name, " threw");
  });
}

awaitable<void> WebhookCaBundlePatcher::Run() {
  auto self = shared_from_this();
  do {
    dirty_ = false;
    const std::string bundle = absl::Base64Escape(bundle_());
    // Every argument of a co_await is a named object (GCC 12 and temporaries in co_await, see
    // root_cert_publisher.cc).
    const kube::ResourceType type = kube::types::kMutatingWebhookConfigurations;
    const std::string ns;
    const std::string name = name_;
    auto wrote = std::make_shared<bool>(false);
    kube::Mutator mutate = [bundle, wrote](nlohmann::json& object) -> absl::StatusOr<bool> {
      absl::StatusOr<bool> changed = SetWebhookCaBundles(object, bundle);
      if (changed.ok()) *wrote = *changed;
      return changed;
    };
    absl::StatusOr<nlohmann::json> updated =
        co_await kube::GetAndUpdate(client_, type, ns, name, std::move(mutate));
    if (updated.ok()) {
      reported_missing_ = false;
      if (*wrote) {
        LOG_INFO("kube",
                 "set clientConfig.caBundle of every webhook in MutatingWebhookConfiguration ",
                 name_, " to the mesh roots");
      }
      continue;
    }
    if (updated.status().code() == absl::StatusCode::kNotFound) {
      // Not installed (yet): the informer calls again when it is created.
      if (!reported_missing_) {
        LOG_INFO("kube", "MutatingWebhookConfiguration ", name_,
                 " not found; its caBundle will be filled in when it is created");
      }
      reported_missing_ = true;
      continue;
    }
    LOG_WARN("kube", "cannot set the caBundle of MutatingWebhookConfiguration ", name_, ": ",
             updated.status().message(), "; retrying in ", absl::FormatDuration(retry_));
    asio::steady_timer timer(client_->executor());
    timer.expires_after(absl::ToChronoMilliseconds(retry_));
    auto [ec] = co_await timer.async_wait(kUseTuple);
    dirty_ = !ec;
  } while (dirty_ && !stopped_);
  running_ = false;
}

}  // namespace remora::xds
