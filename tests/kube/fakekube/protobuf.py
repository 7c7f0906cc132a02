"""Decoding of the Kubernetes protobuf request bodies kubectl's typed clients send
(`Content-Type: application/vnd.kubernetes.protobuf`: `kubectl create token`, `create configmap`,
`create secret`, `create namespace`, `create serviceaccount`) into the JSON objects the rest of
the fake handles. Responses stay JSON, which those clients also accept.

The envelope is k8s.io/apimachinery/pkg/runtime/serializer/protobuf: the magic "k8s\\0" then a
runtime.Unknown{typeMeta{apiVersion, kind}, raw}. Field numbers come from the types' generated.proto.
"""
import base64

from .status import ApiError

MAGIC = b"k8s\x00"

# message -> {field number: (json name, kind, message type)}; kinds: str, int, bool, bytes, msg,
# rep_str, rep_msg, map_str (map<string,string>), map_bytes (map<string,bytes>), time
_SCHEMAS = {
    "Unknown": {1: ("typeMeta", "msg", "TypeMeta"), 2: ("raw", "bytes", None)},
    "TypeMeta": {1: ("apiVersion", "str", None), 2: ("kind", "str", None)},
    "ObjectMeta": {1: ("name", "str", None), 2: ("generateName", "str", None),
                   3: ("namespace", "str", None), 5: ("uid", "str", None),
                   6: ("resourceVersion", "str", None), 11: ("labels", "map_str", None),
                   12: ("annotations", "map_str", None),
                   13: ("ownerReferences", "rep_msg", "OwnerReference"),
                   14: ("finalizers", "rep_str", None)},
    "OwnerReference": {1: ("kind", "str", None), 3: ("name", "str", None),
                       4: ("uid", "str", None), 5: ("apiVersion", "str", None),
                       6: ("controller", "bool", None), 7: ("blockOwnerDeletion", "bool", None)},
    "TokenRequest": {1: ("metadata", "msg", "ObjectMeta"), 2: ("spec", "msg", "TokenRequestSpec")},
    "TokenRequestSpec": {1: ("audiences", "rep_str", None),
                         3: ("boundObjectRef", "msg", "BoundObjectReference"),
                         4: ("expirationSeconds", "int", None)},
    "BoundObjectReference": {1: ("kind", "str", None), 2: ("apiVersion", "str", None),
                             3: ("name", "str", None), 4: ("uid", "str", None)},
    "ConfigMap": {1: ("metadata", "msg", "ObjectMeta"), 2: ("data", "map_str", None),
                  3: ("binaryData", "map_bytes", None), 4: ("immutable", "bool", None)},
    "Secret": {1: ("metadata", "msg", "ObjectMeta"), 2: ("data", "map_bytes", None),
               3: ("type", "str", None), 4: ("stringData", "map_str", None),
               5: ("immutable", "bool", None)},
    "Namespace": {1: ("metadata", "msg", "ObjectMeta"), 2: ("spec", "msg", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "rep_str", None)},
    "ServiceAccount": {1: ("metadata", "msg", "ObjectMeta"),
                       4: ("automountServiceAccountToken", "bool", None)},
}


def _varint(data, i):
    shift = result = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data):
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            n, i = _varint(data, i)
            if i + n > len(data):
                raise ValueError("truncated field")
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield num, wire, value


def decode_message(data, schema):
    out = {}
    fields = _SCHEMAS[schema]
    for num, wire, value in _fields(data):
        if num not in fields:
            continue
        name, kind, sub = fields[num]
        if kind == "str":
            out[name] = value.decode()
        elif kind == "bytes":
            out[name] = value
        elif kind == "int":
            out[name] = value
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "msg":
            out[name] = decode_message(value, sub)
        elif kind == "rep_str":
            out.setdefault(name, []).append(value.decode())
        elif kind == "rep_msg":
            out.setdefault(name, []).append(decode_message(value, sub))
        elif kind in ("map_str", "map_bytes"):
            k, v = "", b""
            for n2, _, v2 in _fields(value):
                if n2 == 1:
                    k = v2.decode()
                elif n2 == 2:
                    v = v2
            out.setdefault(name, {})[k] = v.decode() if kind == "map_str" else \
                base64.b64encode(v).decode()
    # gogo-protobuf writes zero values too; the JSON form omits them (omitempty).
    return {k: v for k, v in out.items() if v not in ("", 0, False) or isinstance(v, dict)}


def to_json_object(body):
    """A protobuf request body -> (JSON-shaped dict). Raises 415 for kinds it cannot read."""
    try:
        if not body.startswith(MAGIC):
            raise ValueError("missing the k8s protobuf magic prefix")
        unknown = decode_message(body[len(MAGIC):], "Unknown")
        tm = unknown.get("typeMeta") or {}
        kind = tm.get("kind", "")
        if kind not in _SCHEMAS:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the fake apiserver cannot decode protobuf {kind}; send JSON", {})
        obj = decode_message(unknown.get("raw", b""), kind)
        obj["apiVersion"], obj["kind"] = tm.get("apiVersion", ""), kind
        return obj
    except ValueError as e:
        raise ApiError(400, "BadRequest", f"unable to decode protobuf body: {e}")
