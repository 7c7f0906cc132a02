"""remora_fuzz_test: one libFuzzer target per parser of untrusted input.

In the normal and sanitizer builds the target is a test that replays its seed corpus (and any
crash reproducers checked in beside it) through the fuzz function, so every corpus entry stays a
regression test. Under --config=fuzz (clang, libFuzzer) the same target is a real fuzzer:
    tools/fuzz //proxy:config_yaml_fuzz 60
"""

def remora_fuzz_test(name, srcs, deps, corpus):
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//tools/build:libfuzzer": [],
            "//conditions:default": ["//fuzz:replay_main"],
        }),
        linkopts = select({
            "//tools/build:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = native.glob([corpus + "/**"]),
        args = ["$(location %s)" % f for f in native.glob([corpus + "/**"])],
        tags = ["fuzz"],
    )
