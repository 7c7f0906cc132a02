// Test helpers: engines from YAML text and requests from a fluent builder (through the same
// readers remoractl uses).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "filters/engine.h"
#include "filters/policy_yaml.h"
#include "filters/request_json.h"

namespace remora::filters::testing {

inline constexpr char kFrontend[] = "cluster.local/ns/shop/sa/frontend";
inline constexpr char kBatch[] = "cluster.local/ns/batch/sa/job";

inline std::shared_ptr<const PolicyEngine> EngineFrom(const std::string& yaml,
                                                      EngineOptions options = {}) {
  absl::StatusOr<PolicySet> set = ParsePolicyDocuments(yaml, "test.yaml");
  EXPECT_TRUE(set.ok()) << set.status();
  if (!set.ok()) return nullptr;
  absl::StatusOr<std::shared_ptr<const PolicyEngine>> engine =
      PolicyEngine::Build(*set, std::move(options));
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *engine : nullptr;
}

// A request to shop/web (app=web) on port 8080 from 10.0.0.5, plain TCP until HTTP fields are set.
class Req {
 public:
  Req() {
    j_ = {
        {"destination",
         {{"namespace", "shop"}, {"labels", {{"app", "web"}}}, {"port", 8080}, {"ip", "10.1.0.7"}}},
        {"source", {{"ip", "10.0.0.5"}}}};
  }
  Req& Principal(const std::string& p) { return Set({"source", "principal"}, p); }
  Req& SourceNs(const std::string& ns) { return Set({"source", "namespace"}, ns); }
  Req& SourceIp(const std::string& ip) { return Set({"source", "ip"}, ip); }
  Req& RemoteIp(const std::string& ip) { return Set({"source", "remote_ip"}, ip); }
  Req& SourceLabels(nlohmann::json labels) { return Set({"source", "labels"}, std::move(labels)); }
  Req& SourceNsLabels(nlohmann::json l) {
    return Set({"source", "namespace_labels"}, std::move(l));
  }
  Req& DestNs(const std::string& ns) { return Set({"destination", "namespace"}, ns); }
  Req& DestLabels(nlohmann::json labels) {
    return Set({"destination", "labels"}, std::move(labels));
  }
  Req& DestNsLabels(nlohmann::json l) {
    return Set({"destination", "namespace_labels"}, std::move(l));
  }
  Req& DestIp(const std::string& ip) { return Set({"destination", "ip"}, ip); }
  Req& Port(int port) { return Set({"destination", "port"}, port); }
  Req& PortName(const std::string& name) { return Set({"destination", "port_name"}, name); }
  Req& Tcp() { return Set({"destination", "protocol"}, "tcp"); }
  Req& Http(const std::string& method, const std::string& path) {
    Set({"request", "method"}, method);
    return Set({"request", "path"}, path);
  }
  Req& Host(const std::string& host) { return Set({"request", "host"}, host); }
  Req& Header(const std::string& name, const std::string& value) {
    j_["request"]["headers"][name] = value;
    return *this;
  }
  Req& Sni(const std::string& sni) { return Set({"connection", "sni"}, sni); }
  Req& Outbound() { return Set({"direction"}, "outbound"); }
  Req& Unset(const std::string& section, const std::string& field) {
    j_[section].erase(field);
    return *this;
  }

  RequestAttributes Build() const {
    absl::StatusOr<RequestAttributes> r = RequestFromJson(j_, "");
    EXPECT_TRUE(r.ok()) << r.status() << " in " << j_.dump();
    return r.ok() ? *r : RequestAttributes();
  }
  std::string Json() const { return j_.dump(); }

 private:
  Req& Set(std::initializer_list<const char*> path, nlohmann::json value) {
    nlohmann::json* at = &j_;
    for (const char* p : path) at = &(*at)[p];
    *at = std::move(value);
    return *this;
  }
  nlohmann::json j_;
};

}  // namespace remora::filters::testing
