#include "filters/authz_cases.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/yaml.h"
#include "filters/request_json.h"
#include "filters/yaml_util.h"

namespace remora::filters {

absl::StatusOr<std::vector<AuthzTestCase>> ParseAuthzTestCases(absl::string_view yaml,
                                                               absl::string_view source) {
  absl::StatusOr<std::vector<AuthzTestCase>> parsed = GuardYaml<std::vector<AuthzTestCase>>(
      source, [&]() -> absl::StatusOr<std::vector<AuthzTestCase>> {
        ASSIGN_OR_RETURN(std::vector<YamlDocument> docs, LoadYamlDocuments(yaml, source));
        if (docs.size() != 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              source, ": expected one YAML document with a list of cases, found ", docs.size()));
        }
        RETURN_IF_ERROR(CheckYamlSize(docs[0].root));
        YamlField root(docs[0].root, "");
        YamlField cases = root;
        if (root.IsMap()) {
          RETURN_IF_ERROR(root.OnlyKeys({"cases"}));
          cases = root["cases"];
        }
        if (!cases.IsSequence() || cases.size() == 0) {
          return cases.Error("must be a non-empty list of cases (name, request, decision)");
        }
        std::vector<AuthzTestCase> out;
        std::set<std::string> names;
        for (size_t i = 0; i < cases.size(); ++i) {
          YamlField c = cases.At(i);
          if (!c.IsMap()) return c.Error("must be a map with name, request and decision");
          RETURN_IF_ERROR(c.OnlyKeys({"name", "request", "decision", "policy", "rule"}));
          AuthzTestCase tc;
          ASSIGN_OR_RETURN(tc.name, c["name"].String());
          if (!names.insert(tc.name).second) {
            return c["name"].Error(absl::StrCat("\"", tc.name, "\" names two cases"));
          }
          if (c["request"].IsMissing()) return c["request"].Error("is required");
          ASSIGN_OR_RETURN(nlohmann::json request,
                           YamlToJson(c["request"].node(), c["request"].path()));
          ASSIGN_OR_RETURN(tc.request, RequestFromJson(request, c["request"].path()));
          ASSIGN_OR_RETURN(std::string decision, c["decision"].String());
          if (decision != "ALLOW" && decision != "DENY") {
            return c["decision"].Error(absl::StrCat("\"", decision, "\" is not ALLOW or DENY"));
          }
          tc.expect_allow = decision == "ALLOW";
          const YAML::Node policy = c["policy"].node();  // a copy: c["policy"] is a temporary
          if (policy.IsDefined()) {
            tc.check_policy = true;
            if (!policy.IsNull()) {
              ASSIGN_OR_RETURN(tc.expect_policy, c["policy"].String());
            }
          }
          if (!c["rule"].IsMissing()) {
            ASSIGN_OR_RETURN(int64_t rule, c["rule"].Int(0, 1 << 20));
            tc.expect_rule = static_cast<int>(rule);
          }
          out.push_back(std::move(tc));
        }
        return out;
      });
  if (!parsed.ok() && !absl::StartsWith(parsed.status().message(), source)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace remora::filters
