// The fixture of the sidecar-pair tests: a fresh root CA, a client workload (namespace a, service
// account client) and a server workload (namespace b, service account web), their certificate,
// key and bundle files written in the test's own directory.
#pragma once

#include <memory>
#include <string>

#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/proxy_harness.h"

namespace remora::testing {

class ProxyPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    bundle_ = certs::ToPem(root_.anchor());
    client_files_ = certs::testing::WriteFiles(
        dir_, "client", certs::testing::MakeWorkload(root_, "a", "client"), bundle_);
    server_files_ = certs::testing::WriteFiles(
        dir_, "web", certs::testing::MakeWorkload(root_, "b", "web"), bundle_);
  }

  // A proxy named `name` running `yaml`; null, with the test failed, when it does not start.
  std::unique_ptr<ProxyProcess> StartProxy(const std::string& name, const std::string& yaml) {
    absl::StatusOr<std::unique_ptr<ProxyProcess>> p = ProxyProcess::Start(dir_, name, yaml);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::string dir_;
  certs::Authority root_ = certs::testing::MakeRoot();
  std::string bundle_;
  certs::testing::WrittenFiles client_files_;
  certs::testing::WrittenFiles server_files_;
};

}  // namespace remora::testing
