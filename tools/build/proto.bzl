"""remora_proto_library: C++ (and optionally gRPC) code from .proto files with Debian's protoc.

Generated headers are included by their proto path ("envoy/service/discovery/v3/discovery.pb.h");
the proto root is the package the rule is used in.
"""

def remora_proto_library(name, srcs, deps = [], grpc_srcs = []):
    """srcs: all .proto files; grpc_srcs: the subset that defines services."""
    outs = []
    for src in srcs:
        stem = src[:-len(".proto")]
        outs += [stem + ".pb.h", stem + ".pb.cc"]
    for src in grpc_srcs:
        stem = src[:-len(".proto")]
        outs += [stem + ".grpc.pb.h", stem + ".grpc.pb.cc"]
    grpc_cmd = ""
    if grpc_srcs:
        grpc_cmd = (" && protoc --proto_path=$$ROOT --proto_path=/usr/include " +
                    "--plugin=protoc-gen-grpc=$$(which grpc_cpp_plugin) --grpc_out=$(RULEDIR) " +
                    " ".join(["$$ROOT/" + s for s in grpc_srcs]))
    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = outs,
        cmd = ("ROOT=%s && " % native.package_name() +
               "protoc --proto_path=$$ROOT --proto_path=/usr/include --cpp_out=$(RULEDIR) " +
               " ".join(["$$ROOT/" + s for s in srcs]) + grpc_cmd),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["@system//:grpc", "@system//:protobuf"],
        copts = ["-Wno-unused-parameter"],
    )
