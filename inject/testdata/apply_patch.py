#!/usr/bin/python3
"""Applies an RFC 6902 JSON Patch with Debian's python3-jsonpatch, an implementation independent of
Remora's C++ code, so tests check that the webhook's patch is valid against the pod it was computed
for (every path must exist, or be addable, in the object as it is when the operation runs).

usage: apply_patch.py POD.json PATCH.json OUT.json
Exit 0 with the patched pod in OUT.json; exit 1 with the reason on stderr.
"""
import json
import sys

import jsonpatch
import jsonpointer


def main():
    with open(sys.argv[1]) as f:
        pod = json.load(f)
    with open(sys.argv[2]) as f:
        ops = json.load(f)
    if not isinstance(ops, list):
        print("the patch is not a JSON array of operations", file=sys.stderr)
        return 1
    try:
        patched = jsonpatch.JsonPatch(ops).apply(pod)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
        print("cannot apply the patch: %s" % e, file=sys.stderr)
        return 1
    with open(sys.argv[3], "w") as f:
        json.dump(patched, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
