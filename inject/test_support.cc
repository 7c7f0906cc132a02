#include "inject/test_support.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "tests/support/process.h"

namespace remora::inject::testing {

Json LoadFixture(const std::string& name) {
  const std::string path = remora::testing::Runfile("inject/testdata/" + name);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    std::fprintf(stderr, "fixture %s: %s\n", path.c_str(),
                 std::string(text.status().message()).c_str());
    std::abort();
  }
  return Json::parse(*text);
}

absl::StatusOr<Json> ApplyWithPython(const Json& pod, const std::string& patch) {
  static int counter = 0;
  const std::string dir = remora::testing::TestDir("jsonpatch");
  const std::string stem = absl::StrCat(dir, "/", ++counter);
  remora::testing::WriteFileOrDie(stem + "-pod.json", pod.dump());
  remora::testing::WriteFileOrDie(stem + "-patch.json", patch);
  absl::StatusOr<remora::testing::Subprocess> python = remora::testing::Subprocess::Start(
      {"/usr/bin/python3", remora::testing::Runfile("inject/testdata/apply_patch.py"),
       stem + "-pod.json", stem + "-patch.json", stem + "-out.json"},
      stem + "-python.log");
  if (!python.ok()) return python.status();
  absl::StatusOr<int> exit_code = python->Wait(absl::Seconds(60));
  if (!exit_code.ok()) return exit_code.status();
  if (*exit_code != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("python3-jsonpatch (exit ", *exit_code,
                     "; is python3-jsonpatch installed?): ", python->Log()));
  }
  absl::StatusOr<std::string> out = ReadFile(stem + "-out.json");
  if (!out.ok()) return out.status();
  return Json::parse(*out);
}

std::string ExpandEnv(const std::string& value, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '$' || i + 1 == value.size()) {
      out += value[i];
      continue;
    }
    if (value[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (value[i + 1] == '(') {
      size_t close = value.find(')', i + 2);
      if (close != std::string::npos) {
        auto it = vars.find(value.substr(i + 2, close - i - 2));
        if (it != vars.end()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += value[i];
  }
  return out;
}

const Json* FindContainer(const Json& pod, const std::string& list, const std::string& name) {
  auto spec = pod.find("spec");
  if (spec == pod.end()) return nullptr;
  auto items = spec->find(list);
  if (items == spec->end() || !items->is_array()) return nullptr;
  for (const Json& c : *items) {
    if (c.value("name", "") == name) return &c;
  }
  return nullptr;
}

}  // namespace remora::inject::testing
