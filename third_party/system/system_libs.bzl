"""Exposes Debian's system libraries to Bazel as cc_library targets.

The link lines come from pkg-config when the repository is fetched, so the whole list a library
needs (gRPC pulls in abseil, re2, c-ares, ...) lives in one place and follows the installed packages.
"""

# target name -> (pkg-config modules, extra link flags)
_LIBS = {
    "openssl": (["libssl", "libcrypto"], []),
    "grpc": (["grpc++", "protobuf"], []),
    "protobuf": (["protobuf"], []),
    "absl": ([
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_synchronization",
        "absl_time",
        "absl_random_random",
        "absl_hash",
        "absl_raw_hash_set",
    ], []),
    "yaml_cpp": (["yaml-cpp"], []),
    "gtest": (["gtest"], []),
    "gmock": (["gmock"], []),
}

_HEADER_ONLY = ["boost", "nlohmann_json"]

def _pkg_config(ctx, modules):
    result = ctx.execute(["pkg-config", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config --libs %s failed: %s\nInstall the Debian -dev packages (see tools/install_deps)." %
             (" ".join(modules), result.stderr))
    return result.stdout.strip().split(" ")

def _system_libs_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, (modules, extra) in _LIBS.items():
        flags = [f for f in _pkg_config(ctx, modules) if f] + extra
        lines.append("cc_library(")
        lines.append('    name = "%s",' % name)
        lines.append("    linkopts = %s," % repr(flags))
        lines.append(")")
        lines.append("")
    for name in _HEADER_ONLY:
        lines.append('cc_library(name = "%s")' % name)
        lines.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", "\n".join(lines))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)
