#include "ctl/install_manifests.h"

#include <dirent.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace remora::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// examples/kubernetes/*.yaml but the sample app, read from the source tree (runfiles).
std::vector<ManifestFile> FilesOnDisk() {
  const std::string dir = testing::Runfile("examples/kubernetes");
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir;
  if (d == nullptr) return {};
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (absl::EndsWith(name, ".yaml") && name != "40-sample-app.yaml") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<ManifestFile> files;
  for (const std::string& name : names) {
    files.push_back({name, ReadFile(dir + "/" + name).value_or("(unreadable)")});
  }
  return files;
}

TEST(InstallManifestsTest, EmbeddedManifestsAreTheExampleFilesByteForByte) {
  const std::vector<ManifestFile> disk = FilesOnDisk();
  const std::vector<ManifestFile>& embedded = EmbeddedManifests();
  ASSERT_FALSE(disk.empty());
  ASSERT_EQ(embedded.size(), disk.size());
  for (size_t i = 0; i < disk.size(); ++i) {
    EXPECT_EQ(embedded[i].name, disk[i].name);
    EXPECT_EQ(embedded[i].yaml, disk[i].yaml) << disk[i].name;
  }
}

TEST(InstallManifestsTest, DefaultRenderingIsTheFilesUnchanged) {
  absl::StatusOr<std::vector<ManifestFile>> rendered =
      RenderManifests(EmbeddedManifests(), InstallOptions{});
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  ASSERT_EQ(rendered->size(), EmbeddedManifests().size());
  for (size_t i = 0; i < rendered->size(); ++i) {
    EXPECT_EQ((*rendered)[i].yaml, EmbeddedManifests()[i].yaml);
  }
}

TEST(InstallManifestsTest, EveryObjectIsOfAKindInstallCanWrite) {
  absl::StatusOr<std::vector<InstallObject>> objects = ManifestObjects(EmbeddedManifests());
  ASSERT_TRUE(objects.ok()) << objects.status();
  std::vector<std::string> names;
  for (const InstallObject& o : *objects) names.push_back(o.Display());
  EXPECT_THAT(
      names, ::testing::IsSupersetOf({"namespace/remora-system", "serviceaccount/remora-control",
                                      "clusterrole.rbac.authorization.k8s.io/remora-control",
                                      "configmap/remora-injector", "deployment.apps/remora-control",
                                      "service/remora-control",
                                      "mutatingwebhookconfiguration.admissionregistration.k8s.io/"
                                      "remora-sidecar-injector"}));
  EXPECT_EQ(names.front(), "namespace/remora-system");  // created before what lives in it
}

TEST(InstallManifestsTest, RendersTheNamespaceAndImagesEverywhere) {
  InstallOptions options;
  options.namespace_name = "mesh";
  options.hub = "ghcr.io/acme";
  options.tag = "1.2.3";
  absl::StatusOr<std::vector<ManifestFile>> rendered =
      RenderManifests(EmbeddedManifests(), options);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  std::string all;
  for (const ManifestFile& f : *rendered) all += f.yaml;
  EXPECT_THAT(all, Not(HasSubstr("remora-system")));
  EXPECT_THAT(all, Not(HasSubstr("remora/remora-")));
  EXPECT_THAT(all, HasSubstr("image: ghcr.io/acme/remora-control:1.2.3"));
  EXPECT_THAT(all, HasSubstr("proxy_image: ghcr.io/acme/remora-proxy:1.2.3"));
  EXPECT_THAT(all, HasSubstr("control_plane_address: remora-control.mesh.svc:15012"));
  absl::StatusOr<std::vector<InstallObject>> objects = ManifestObjects(*rendered);
  ASSERT_TRUE(objects.ok()) << objects.status();
  for (const InstallObject& o : *objects) {
    if (o.type.namespaced) {
      EXPECT_EQ(o.namespace_name, "mesh") << o.Display();
    }
    if (o.type.kind == "MutatingWebhookConfiguration") {
      for (const auto& w : o.object["webhooks"]) {
        EXPECT_EQ(w["clientConfig"]["service"]["namespace"], "mesh");
      }
    }
  }
}

TEST(InstallManifestsTest, RefusesBadNamespaceHubAndTagNamingTheFlag) {
  InstallOptions bad_ns;
  bad_ns.namespace_name = "Mesh_1";
  EXPECT_THAT(RenderManifests(EmbeddedManifests(), bad_ns).status().message(),
              HasSubstr("--namespace=\"Mesh_1\" is not a namespace name"));
  InstallOptions bad_hub;
  bad_hub.hub = "a b";
  EXPECT_THAT(RenderManifests(EmbeddedManifests(), bad_hub).status().message(),
              HasSubstr("--hub=\"a b\""));
  InstallOptions bad_tag;
  bad_tag.tag = "x\ny";
  EXPECT_THAT(RenderManifests(EmbeddedManifests(), bad_tag).status().message(),
              HasSubstr("--tag="));
}

TEST(InstallManifestsTest, RefusesAKindItCannotWriteNamingTheDocument) {
  absl::StatusOr<std::vector<InstallObject>> objects =
      ManifestObjects({{"99-x.yaml",
                        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
                        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: a}\n"}});
  ASSERT_FALSE(objects.ok());
  EXPECT_THAT(objects.status().message(), HasSubstr("99-x.yaml document 2"));
  EXPECT_THAT(objects.status().message(), HasSubstr("batch/v1 Job"));
}

TEST(InstallManifestsTest, UpdateKeepsTheCaBundleAndClusterIpTheClusterOwns) {
  nlohmann::json desired = nlohmann::json::parse(R"({
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "w"},
    "webhooks": [{"name": "a", "clientConfig": {"service": {"name": "s"}}}]})");
  nlohmann::json live = desired;
  live["metadata"]["resourceVersion"] = "7";
  live["webhooks"][0]["clientConfig"]["caBundle"] = "Q0E=";
  live["webhooks"][0]["timeoutSeconds"] = 10;  // a server default
  nlohmann::json update = UpdateFor(live, desired);
  EXPECT_EQ(update["webhooks"][0]["clientConfig"]["caBundle"], "Q0E=");
  EXPECT_EQ(update["metadata"]["resourceVersion"], "7");
  EXPECT_TRUE(Contains(live, update));  // nothing to write
  desired["webhooks"][0]["clientConfig"]["service"]["name"] = "t";
  EXPECT_FALSE(Contains(live, UpdateFor(live, desired)));

  nlohmann::json service = {{"apiVersion", "v1"},
                            {"kind", "Service"},
                            {"metadata", {{"name", "s"}, {"namespace", "n"}}},
                            {"spec", {{"ports", {{{"port", 1}}}}}}};
  nlohmann::json live_service = service;
  live_service["spec"]["clusterIP"] = "10.96.0.9";
  live_service["spec"]["clusterIPs"] = {"10.96.0.9"};
  EXPECT_EQ(UpdateFor(live_service, service)["spec"]["clusterIP"], "10.96.0.9");
  EXPECT_TRUE(Contains(live_service, UpdateFor(live_service, service)));
}

}  // namespace
}  // namespace remora::ctl
