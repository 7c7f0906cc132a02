#include "ctl/kube_inject_command.h"

#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/flags.h"
#include "inject/kube_inject.h"
#include "inject/settings.h"

namespace remora::ctl {
namespace {

constexpr size_t kMaxInputBytes = 32 << 20;

constexpr char kUsage[] =
    "remoractl kube-inject: print Kubernetes manifests with the Remora sidecar injected, exactly\n"
    "as the control plane's admission webhook would inject their pods.\n"
    "\n"
    "usage:\n"
    "  remoractl kube-inject -f FILE [--settings=FILE] [--namespace-injection=false]\n"
    "  remoractl kube-inject -f - < app.yaml | kubectl apply -f -\n"
    "\n"
    "Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets,\n"
    "ReplicationControllers, Jobs and CronJobs (also inside a List) are injected; other documents\n"
    "are printed unchanged. Offline there is no namespace label to read, so every pod is injected\n"
    "unless it opts out with the annotation sidecar.remora.io/inject: \"false\"; with\n"
    "--namespace-injection=false only pods that opt in (\"true\") are. Skipped pods and warnings "
    "are\n"
    "reported on stderr. Exit status 2 for unreadable YAML or a pod the injector refuses (the\n"
    "message names the document and the annotation or field).";

absl::StatusOr<std::string> ReadStdin() {
  std::string text;
  char buffer[65536];
  while (std::cin.read(buffer, sizeof(buffer)) || std::cin.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(std::cin.gcount()));
    if (text.size() > kMaxInputBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("stdin: more than ", kMaxInputBytes, " bytes of manifests"));
    }
  }
  if (std::cin.bad()) return absl::UnavailableError("stdin: read error");
  return text;
}

int Run(int argc, const char* const* argv) {
  std::string file, settings_file;
  bool namespace_injection = true;
  FlagSet flags("remoractl kube-inject", kUsage);
  flags.String("f", &file, "manifest file to inject, or - for stdin");
  flags.String("filename", &file, "same as -f");
  flags.String("settings", &settings_file,
               "injector settings YAML (images, control plane address, resources...); default: "
               "built-in defaults");
  flags.Bool("namespace-injection", &namespace_injection,
             "treat the pods' namespace as labelled remora-injection=enabled");
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (!args.empty()) {
    return Fail(kExitUsage, absl::StrCat("unexpected argument \"", args[0],
                                         "\"; name the manifest with -f FILE (or -f - for stdin)"));
  }
  if (file.empty()) return Fail(kExitUsage, "-f FILE is required (-f - reads stdin)");

  inject::InjectorSettings settings;
  if (!settings_file.empty()) {
    absl::StatusOr<inject::InjectorSettings> loaded = inject::LoadSettingsFile(settings_file);
    if (!loaded.ok()) {
      return Fail(absl::IsInvalidArgument(loaded.status()) ? kExitUsage : kExitFailure,
                  std::string(loaded.status().message()));
    }
    settings = std::move(*loaded);
  }

  absl::StatusOr<std::string> text = file == "-" ? ReadStdin() : ReadFile(file);
  if (!text.ok()) {
    return Fail(absl::IsInvalidArgument(text.status()) ? kExitUsage : kExitFailure,
                std::string(text.status().message()));
  }
  inject::KubeInjectOptions options;
  options.namespace_enabled = namespace_injection;
  absl::StatusOr<inject::KubeInjectOutput> out =
      inject::InjectManifests(*text, file == "-" ? "stdin" : file, settings, options);
  if (!out.ok()) {
    return Fail(absl::IsInvalidArgument(out.status()) ? kExitUsage : kExitFailure,
                std::string(out.status().message()));
  }
  for (const std::string& note : out->notes) std::cerr << "remoractl: " << note << "\n";
  std::cout << out->yaml;
  std::cout.flush();
  if (!std::cout) return Fail(kExitFailure, "cannot write the manifests to stdout");
  return kExitOk;
}

}  // namespace

Command KubeInjectCommand() {
  return {"kube-inject", "print manifests with the Remora sidecar injected (offline webhook)", Run};
}

}  // namespace remora::ctl
