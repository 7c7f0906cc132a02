#include "tests/support/proxy_harness.h"

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/support/net.h"

namespace remora::testing {

absl::StatusOr<std::unique_ptr<ProxyProcess>> ProxyProcess::Start(const std::string& dir,
                                                                  const std::string& name,
                                                                  const std::string& yaml) {
  const std::string config = absl::StrCat(dir, "/", name, ".yaml");
  const std::string ports = absl::StrCat(dir, "/", name, ".ports");
  WriteFileOrDie(config, yaml);
  ::unlink(ports.c_str());
  absl::StatusOr<Subprocess> process =
      Subprocess::Start({Runfile("proxy/remora-proxy"), absl::StrCat("--config=", config),
                         absl::StrCat("--bound-ports-file=", ports), "--log-level=debug"},
                        absl::StrCat(dir, "/", name, ".log"));
  if (!process.ok()) return process.status();
  if (!WaitFor(absl::Seconds(20),
               [&] { return !ReadFileOrEmpty(ports).empty() || !process->Running(); }) ||
      ReadFileOrEmpty(ports).empty()) {
    return absl::UnavailableError(
        absl::StrCat("proxy ", name, " did not start:\n", process->Log()));
  }
  std::map<std::string, std::string> addresses;
  nlohmann::json j = nlohmann::json::parse(ReadFileOrEmpty(ports));
  for (auto& [key, value] : j.items()) addresses[key] = value.get<std::string>();
  return std::unique_ptr<ProxyProcess>(new ProxyProcess(std::move(*process), std::move(addresses)));
}

std::string ProxyProcess::Address(const std::string& listener) const {
  auto it = addresses_.find(listener);
  return it == addresses_.end() ? "" : it->second;
}

absl::StatusOr<std::string> ProxyProcess::AdminGet(const std::string& path) const {
  absl::StatusOr<Conn> conn = Conn::Dial(Address("admin"));
  if (!conn.ok()) return conn.status();
  absl::Status s = conn->SendAll(
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"));
  if (!s.ok()) return s;
  absl::StatusOr<std::string> response = conn->ReadToEof();
  if (!response.ok()) return response.status();
  size_t body = response->find("\r\n\r\n");
  if (response->size() < 12 || body == std::string::npos) {
    return absl::UnavailableError(absl::StrCat("bad admin response: ", *response));
  }
  return absl::StrCat(response->substr(9, 3), " ", response->substr(body + 4));
}

std::string InboundConfig(const certs::testing::WrittenFiles& files, const std::string& app,
                          const std::string& mode, const std::string& extra) {
  std::string port = app.substr(app.rfind(':') + 1);
  return absl::StrCat(
      "identity: {cert_file: \"", files.cert, "\", key_file: \"", files.key, "\", bundle_file: \"",
      files.bundle, "\", poll_interval: 100ms}\n",
      "listeners:\n  - {name: inbound, direction: inbound, address: \"127.0.0.1:0\", target: \"",
      app, "\"}\n", "admin: \"127.0.0.1:0\"\nprometheus: \"off\"\nhealth: \"off\"\n",
      "inbound:\n  mode: STRICT\n  ports:\n    - {port: ", port, ", mode: ", mode, "}\n", extra);
}

std::string OutboundConfig(const certs::testing::WrittenFiles& files, const std::string& target,
                           const std::vector<std::string>& identities, const std::string& extra) {
  return absl::StrCat(
      "identity: {cert_file: \"", files.cert, "\", key_file: \"", files.key, "\", bundle_file: \"",
      files.bundle, "\", poll_interval: 100ms}\n",
      "listeners:\n  - {name: outbound, direction: outbound, address: \"127.0.0.1:0\", target: \"",
      target, "\"}\n", "admin: \"127.0.0.1:0\"\nprometheus: \"off\"\nhealth: \"off\"\n",
      "outbound:\n  services:\n    - name: upstream\n      addresses: [\"", target,
      "\"]\n      identities: [\"", absl::StrJoin(identities, "\", \""), "\"]\n", extra);
}

}  // namespace remora::testing
