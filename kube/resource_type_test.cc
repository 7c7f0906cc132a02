// Request paths and query strings built from a resource type and options.
#include "kube/resource_type.h"

#include "gtest/gtest.h"

namespace remora::kube {
namespace {

TEST(ResourceTypeTest, BuildsCorePathsAndGroupPaths) {
  EXPECT_EQ(types::kPods.CollectionPath("shop"), "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(types::kPods.CollectionPath(""), "/api/v1/pods");
  EXPECT_EQ(types::kPods.ObjectPath("shop", "web-0"), "/api/v1/namespaces/shop/pods/web-0");
  EXPECT_EQ(types::kNetworkPolicies.CollectionPath("a"),
            "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies");
  EXPECT_EQ(types::kNamespaces.ObjectPath("ignored", "shop"), "/api/v1/namespaces/shop");
  EXPECT_EQ(types::kNetworkPolicies.Name(), "networkpolicies.networking.k8s.io");
  EXPECT_EQ(types::kNetworkPolicies.ApiVersion(), "networking.k8s.io/v1");
  EXPECT_EQ(types::kPods.ApiVersion(), "v1");
}

TEST(ResourceTypeTest, EncodesPathSegmentsSoANameCannotEscapeIt) {
  EXPECT_EQ(types::kPods.ObjectPath("a/b", "../x?y"), "/api/v1/namespaces/a%2Fb/pods/..%2Fx%3Fy");
}

TEST(ResourceTypeTest, BuildsListAndWatchQueries) {
  ListOptions list;
  list.label_selector = "app in (web,api),tier!=db";
  list.limit = 500;
  list.continue_token = "eyJ2Ijoi+/=";
  EXPECT_EQ(list.Query(),
            "labelSelector=app%20in%20%28web%2Capi%29%2Ctier%21%3Ddb&limit=500&continue="
            "eyJ2Ijoi%2B%2F%3D");
  WatchOptions watch;
  watch.resource_version = "1234";
  watch.timeout_seconds = 300;
  watch.field_selector = "metadata.name=x";
  EXPECT_EQ(watch.Query(),
            "watch=true&fieldSelector=metadata.name%3Dx&resourceVersion=1234&"
            "allowWatchBookmarks=true&timeoutSeconds=300");
}

}  // namespace
}  // namespace remora::kube
