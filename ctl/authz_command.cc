#include "ctl/authz_command.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/flags.h"
#include "common/json_text.h"
#include "filters/authz_cases.h"
#include "filters/engine.h"
#include "filters/policy_yaml.h"
#include "filters/request_json.h"
#include "filters/request_target.h"

namespace remora::ctl {
namespace {

using filters::Decision;
using filters::Outcome;

constexpr char kUsage[] =
    "remoractl authz: evaluate AuthorizationPolicy, NetworkPolicy and PeerAuthentication offline,\n"
    "with the decision engine remora-proxy runs.\n"
    "\n"
    "usage:\n"
    "  remoractl authz check -f POLICIES.yaml [-f MORE.yaml ...] --request REQUEST.json [-o json]\n"
    "      prints the decision and why; exit status 0 allow, 3 deny, 2 bad input\n"
    "  remoractl authz test -f POLICIES.yaml [-f ...] --cases CASES.yaml\n"
    "      runs each case, prints a pass/fail line per case and a summary; exit status 1 if a\n"
    "      case fails, 2 on bad input\n"
    "\n"
    "-f takes a file, a directory (its .yaml and .yml files) or - (standard input).\n"
    "request.path is normalized as remora-proxy normalizes it (percent-escapes, dot segments,\n"
    "repeated slashes) before policies see it; a path the proxy refuses with 400 is a DENY by the\n"
    "built-in rule bad-request.\n"
    "REQUEST.json: {\"source\": {\"principal\", \"namespace\", \"ip\", \"labels\", "
    "\"namespace_labels\"},\n"
    "  \"destination\": {\"namespace\", \"labels\", \"namespace_labels\", \"ip\", \"port\", "
    "\"port_name\",\n"
    "  \"protocol\": \"http\"|\"tcp\"}, \"request\": {\"method\", \"path\", \"host\", "
    "\"headers\"},\n"
    "  \"connection\": {\"sni\"}, \"direction\": \"inbound\"|\"outbound\"}\n"
    "CASES.yaml: cases: [{name, request: <as REQUEST.json>, decision: ALLOW|DENY, policy: "
    "ns/name,\n"
    "  rule: N}] (policy and rule optional)";

// Reads a file, or standard input for "-" (at most once).
absl::StatusOr<std::string> ReadInput(const std::string& path, bool* stdin_used) {
  if (path != "-") return ReadFile(path);
  if (*stdin_used) return absl::InvalidArgumentError("standard input (-) can be read only once");
  *stdin_used = true;
  std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return data;
}

absl::StatusOr<filters::PolicySet> LoadPolicies(const std::vector<std::string>& inputs,
                                                bool* stdin_used) {
  filters::PolicySet set;
  for (const std::string& input : inputs) {
    std::vector<std::string> files;
    std::error_code ec;
    if (input != "-" && std::filesystem::is_directory(input, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(input, ec)) {
        const std::string name = entry.path().string();
        if (entry.is_regular_file(ec) &&
            (absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml"))) {
          files.push_back(name);
        }
      }
      if (ec) {
        return absl::InvalidArgumentError(absl::StrCat(input, ": ", ec.message()));
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(input, ": the directory holds no .yaml or .yml file"));
      }
    } else {
      files.push_back(input);
    }
    for (const std::string& file : files) {
      absl::StatusOr<std::string> text = ReadInput(file, stdin_used);
      if (!text.ok()) return text.status();
      absl::StatusOr<filters::PolicySet> parsed =
          filters::ParsePolicyDocuments(*text, file == "-" ? "(stdin)" : file);
      if (!parsed.ok()) return parsed.status();
      set.Append(*std::move(parsed));
    }
  }
  return set;
}

nlohmann::ordered_json OrNull(absl::string_view s) {
  return s.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(std::string(s));
}

nlohmann::ordered_json OutcomeJson(const Outcome& o) {
  nlohmann::ordered_json j;
  j["decision"] = o.allowed ? "ALLOW" : "DENY";
  j["policy"] = OrNull(o.policy);
  j["rule"] = o.rule >= 0 ? nlohmann::ordered_json(o.rule) : nlohmann::ordered_json();
  j["action"] = o.action.has_value() ? nlohmann::ordered_json(filters::ToString(*o.action))
                                     : nlohmann::ordered_json();
  j["reason"] = filters::DescribeOutcome(o);
  return j;
}

nlohmann::ordered_json DecisionJson(const Decision& d, const std::vector<std::string>& explanation,
                                    filters::Direction direction) {
  nlohmann::ordered_json j = OutcomeJson(d.final);
  j["layer"] = OrNull(filters::ToString(d.final.layer));
  j["direction"] = filters::ToString(direction);
  nlohmann::ordered_json layers = nlohmann::ordered_json::object();
  for (const Outcome* o : {&d.peer_authentication, &d.network_policy, &d.authorization_policy}) {
    if (o->reason == filters::Reason::kNotApplicable) continue;
    layers[filters::ToString(o->layer)] = OutcomeJson(*o);
  }
  j["layers"] = layers;
  nlohmann::ordered_json audits = nlohmann::ordered_json::array();
  for (const filters::RuleMatch& a : d.audits) {
    audits.push_back({{"policy", std::string(a.policy)}, {"rule", a.rule}});
  }
  j["audit"] = audits;
  j["dry_run"] = d.dry_run.has_value() ? OutcomeJson(*d.dry_run) : nlohmann::ordered_json();
  j["explanation"] = explanation;
  return j;
}

void PrintText(const Decision& d, const std::vector<std::string>& explanation) {
  std::cout << (d.allowed() ? "ALLOW" : "DENY") << ": " << filters::DescribeOutcome(d.final)
            << "\n";
  std::cout << "why:\n";
  for (const std::string& line : explanation) std::cout << "  " << line << "\n";
}

// The sidecar's health port: kubelet probes rewritten by the injector arrive here in plaintext
// and the proxy runs them against the app on loopback (see inject/probes.h).
constexpr uint16_t kHealthPort = 15021;
constexpr char kProbeRuleReason[] =
    "built-in rule kubelet-probes: port 15021 is the sidecar's health port; the injector rewrote "
    "the app's probes to /app-health/... there (annotation sidecar.remora.io/rewrittenProbes) and "
    "the proxy runs them against the app on the pod's loopback. The port is not captured, so "
    "authorization policies do not apply to it.";

bool IsProbePath(const filters::RequestAttributes& r) {
  return r.direction == filters::Direction::kInbound && r.destination.port == kHealthPort &&
         (r.http.path.rfind("/app-health/", 0) == 0 || r.http.path == "/healthz/ready");
}

// The proxy normalizes a request's path before any policy sees it, and answers 400 to a target it
// cannot normalize (proxy/http1/request_head_filter.cc); the offline answer must be the proxy's,
// so the same function runs here. Returns the proxy's refusal, else normalizes `r.http.path` in
// place.
absl::Status NormalizeLikeTheProxy(filters::RequestAttributes& r) {
  if (r.destination.protocol != filters::Protocol::kHttp || r.http.path.empty()) {
    return absl::OkStatus();
  }
  std::string authority;
  absl::StatusOr<std::string> path = filters::NormalizeTarget(r.http.path, &authority);
  if (!path.ok()) return path.status();
  r.http.path = *std::move(path);
  if (r.http.host.empty()) r.http.host = authority;  // as the proxy, without a Host header
  return absl::OkStatus();
}

std::string BadRequestReason(const filters::RequestAttributes& r, const absl::Status& refusal) {
  return absl::StrCat("the proxy answers 400 Bad Request to request.path \"", r.http.path,
                      "\" before any policy is evaluated: ", refusal.message());
}

struct Inputs {
  std::vector<std::string> files;
  std::string request;
  std::string cases;
  std::string output;
  std::string root_namespace = filters::EngineOptions().root_namespace;
};

absl::StatusOr<std::shared_ptr<const filters::PolicyEngine>> LoadEngine(const Inputs& in,
                                                                        bool* stdin_used) {
  if (in.files.empty()) {
    return absl::InvalidArgumentError("-f POLICIES.yaml is required (a file, a directory or -)");
  }
  absl::StatusOr<filters::PolicySet> policies = LoadPolicies(in.files, stdin_used);
  if (!policies.ok()) return policies.status();
  filters::EngineOptions options;
  options.root_namespace = in.root_namespace;
  return filters::PolicyEngine::Build(*policies, options);
}

int Check(const Inputs& in) {
  if (in.request.empty()) return Fail(kExitUsage, "check needs --request REQUEST.json");
  if (!in.output.empty() && in.output != "json" && in.output != "text") {
    return Fail(kExitUsage, absl::StrCat("-o: \"", in.output, "\" is not json or text"));
  }
  bool stdin_used = false;
  absl::StatusOr<std::shared_ptr<const filters::PolicyEngine>> engine = LoadEngine(in, &stdin_used);
  if (!engine.ok()) return Fail(kExitUsage, std::string(engine.status().message()));
  absl::StatusOr<std::string> text = ReadInput(in.request, &stdin_used);
  if (!text.ok()) return Fail(kExitUsage, std::string(text.status().message()));
  absl::StatusOr<filters::RequestAttributes> request = filters::ParseRequestJson(*text);
  if (!request.ok()) {
    return Fail(kExitUsage, absl::StrCat(in.request == "-" ? "(stdin)" : in.request, ": ",
                                         request.status().message()));
  }
  if (absl::Status refused = NormalizeLikeTheProxy(*request); !refused.ok()) {
    const std::string reason = BadRequestReason(*request, refused);
    if (in.output == "json") {
      nlohmann::ordered_json j;
      j["decision"] = "DENY";
      j["policy"] = nullptr;
      j["rule"] = nullptr;
      j["action"] = nullptr;
      j["reason"] = reason;
      j["builtin"] = "bad-request";
      std::cout << j.dump() << "\n";
    } else {
      std::cout << "DENY: built-in rule bad-request\nwhy:\n  " << reason << "\n";
    }
    return kExitDenied;
  }
  if (IsProbePath(*request)) {
    // Not a policy decision: the health port is outside capture by design, so say so by name
    // instead of letting an ALLOW look like a policy hole.
    if (in.output == "json") {
      nlohmann::ordered_json j;
      j["decision"] = "ALLOW";
      j["policy"] = nullptr;
      j["rule"] = nullptr;
      j["action"] = nullptr;
      j["reason"] = kProbeRuleReason;
      j["builtin"] = "kubelet-probes";
      std::cout << DumpJson(j) << "\n";
    } else {
      std::cout << "ALLOW: built-in rule kubelet-probes\nwhy:\n  " << kProbeRuleReason << "\n";
    }
    return kExitOk;
  }
  filters::Evaluation e = (*engine)->Evaluate(*request);
  const std::vector<std::string> explanation = e.workload->Explain(*request, e.decision);
  if (in.output == "json") {
    std::cout << DumpJson(DecisionJson(e.decision, explanation, request->direction)) << "\n";
  } else {
    PrintText(e.decision, explanation);
  }
  return e.decision.allowed() ? kExitOk : kExitDenied;
}

int Test(const Inputs& in) {
  if (in.cases.empty()) return Fail(kExitUsage, "test needs --cases CASES.yaml");
  bool stdin_used = false;
  absl::StatusOr<std::shared_ptr<const filters::PolicyEngine>> engine = LoadEngine(in, &stdin_used);
  if (!engine.ok()) return Fail(kExitUsage, std::string(engine.status().message()));
  absl::StatusOr<std::string> text = ReadInput(in.cases, &stdin_used);
  if (!text.ok()) return Fail(kExitUsage, std::string(text.status().message()));
  absl::StatusOr<std::vector<filters::AuthzTestCase>> cases =
      filters::ParseAuthzTestCases(*text, in.cases == "-" ? "(stdin)" : in.cases);
  if (!cases.ok()) return Fail(kExitUsage, std::string(cases.status().message()));
  size_t failed = 0;
  for (const filters::AuthzTestCase& original : *cases) {
    filters::AuthzTestCase c = original;
    if (absl::Status refused = NormalizeLikeTheProxy(c.request); !refused.ok()) {
      // Never meets a policy: a DENY by no policy and no rule.
      const bool as_expected = !c.expect_allow && (!c.check_policy || c.expect_policy.empty()) &&
                               !c.expect_rule.has_value();
      if (as_expected) {
        std::cout << "PASS  " << c.name << "\n";
      } else {
        ++failed;
        std::cout << "FAIL  " << c.name << ": got DENY by no policy and no rule ("
                  << BadRequestReason(c.request, refused) << ")\n";
      }
      continue;
    }
    filters::Evaluation e = (*engine)->Evaluate(c.request);
    const Decision& d = e.decision;
    std::vector<std::string> problems;
    if (d.allowed() != c.expect_allow) {
      problems.push_back(absl::StrCat("expected ", c.expect_allow ? "ALLOW" : "DENY", ", got ",
                                      d.allowed() ? "ALLOW" : "DENY"));
    }
    if (c.check_policy && d.final.policy != c.expect_policy) {
      problems.push_back(absl::StrCat(
          "expected policy ", c.expect_policy.empty() ? "(none)" : c.expect_policy, ", got ",
          d.final.policy.empty() ? std::string("(none)") : std::string(d.final.policy)));
    }
    if (c.expect_rule.has_value() && d.final.rule != *c.expect_rule) {
      problems.push_back(
          absl::StrCat("expected rule ", *c.expect_rule, ", got ",
                       d.final.rule < 0 ? std::string("(none)") : absl::StrCat(d.final.rule)));
    }
    if (problems.empty()) {
      std::cout << "PASS  " << c.name << "\n";
      continue;
    }
    ++failed;
    std::cout << "FAIL  " << c.name << ": " << absl::StrJoin(problems, "; ") << " ("
              << filters::DescribeOutcome(d.final) << ")\n";
    for (const std::string& line : e.workload->Explain(c.request, d)) {
      std::cout << "      " << line << "\n";
    }
  }
  std::cout << cases->size() << " cases: " << cases->size() - failed << " passed, " << failed
            << " failed\n";
  return failed == 0 ? kExitOk : kExitFailure;
}

int Run(int argc, const char* const* argv) {
  Inputs in;
  FlagSet flags("remoractl authz", kUsage);
  flags.StringList("f", &in.files, "policy file, directory of .yaml/.yml files, or - (repeatable)");
  flags.StringList("filename", &in.files, "same as -f");
  flags.String("request", &in.request, "REQUEST.json to evaluate (check), or -");
  flags.String("cases", &in.cases, "CASES.yaml to run (test), or -");
  flags.String("o", &in.output, "output format of check: text or json");
  flags.String("output", &in.output, "same as -o");
  flags.String("root-namespace", &in.root_namespace,
               "namespace whose policies apply to the whole mesh");
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (args.size() != 1)
    return Fail(kExitUsage, "expected `check` or `test`; see remoractl authz --help");
  if (args[0] == "check") return Check(in);
  if (args[0] == "test") return Test(in);
  return Fail(kExitUsage,
              absl::StrCat("unknown authz action \"", args[0], "\"; use check or test"));
}

}  // namespace

Command AuthzCommand() {
  return {"authz", "evaluate authorization policies offline (check a request, test cases)", Run};
}

}  // namespace remora::ctl
