// A file of authorization test cases, the input of `remoractl authz test`:
//   cases:
//   - name: frontend may read the catalog
//     request: {source: {principal: ...}, destination: {...}, request: {...}}   # as REQUEST.json
//     decision: ALLOW          # or DENY
//     policy: shop/allow-web   # optional: the deciding policy; null for "no policy decided"
//     rule: 0                  # optional: the deciding rule index
// (a bare list of cases is accepted too). A pure function over untrusted input.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filters/request.h"

namespace remora::filters {

struct AuthzTestCase {
  std::string name;
  RequestAttributes request;
  bool expect_allow = false;
  bool check_policy = false;
  std::string expect_policy;  // "" with check_policy: no deciding policy
  std::optional<int> expect_rule;
};

// InvalidArgument naming the file and the field: `cases.yaml: cases[2].request.destination.port:
// must be an integer from 1 to 65535, not the string "80"`.
absl::StatusOr<std::vector<AuthzTestCase>> ParseAuthzTestCases(absl::string_view yaml,
                                                               absl::string_view source);

}  // namespace remora::filters
