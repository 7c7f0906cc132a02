"""The three patch formats a real server accepts on a PATCH request:

- application/merge-patch+json: RFC 7386 JSON merge patch.
- application/json-patch+json: RFC 6902 JSON patch (add/remove/replace/move/copy/test).
- application/strategic-merge-patch+json: a faithful subset of Kubernetes' strategic merge patch
  (k8s.io/apimachinery/pkg/util/strategicpatch): lists with a patchMergeKey merge element by key
  (containers by name, container ports by containerPort, service ports by port, ...), primitive
  lists with patchStrategy=merge (finalizers) union, other lists replace; the directives `$patch`
  (replace/delete/merge), `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and
  `$retainKeys` are honoured. Custom resources refuse it with 415, as a real server does.
"""
import copy
import json

from .status import ApiError, bad_request

# (parent field, list field) -> merge key; parent None means any parent.
_MERGE_KEYS = {
    (None, "containers"): "name", (None, "initContainers"): "name",
    (None, "ephemeralContainers"): "name", (None, "volumes"): "name", (None, "env"): "name",
    (None, "imagePullSecrets"): "name", (None, "volumeMounts"): "mountPath",
    (None, "volumeDevices"): "devicePath", (None, "ownerReferences"): "uid",
    (None, "conditions"): "type", (None, "podIPs"): "ip", (None, "hostIPs"): "ip",
    (None, "hostAliases"): "ip", (None, "topologySpreadConstraints"): "topologyKey",
    (None, "resourceClaims"): "name", (None, "secrets"): "name",
    ("containers", "ports"): "containerPort", ("initContainers", "ports"): "containerPort",
    ("ephemeralContainers", "ports"): "containerPort", ("spec", "ports"): "port",
}
# Primitive lists with patchStrategy=merge.
_MERGE_PRIMITIVE = {"finalizers"}


def merge_key(parent, field):
    return _MERGE_KEYS.get((parent, field)) or _MERGE_KEYS.get((None, field))


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request('the server rejected our request due to an error in our request')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc, tokens, op):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, list):
            cur = cur[int(t)]
        elif isinstance(cur, dict) and t in cur:
            cur = cur[t]
        else:
            raise _json_patch_error(op, f"doc is missing path: \"{op.get('path')}\"")
    return cur


def _json_patch_error(op, why):
    return ApiError(422, "Invalid", why, {})


def json_patch(doc, ops):
    """RFC 6902, with the error messages of evanphx/json-patch where a client may show them."""
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        tokens = _pointer(path)
        if kind == "test":
            try:
                cur = doc
                for t in tokens:
                    cur = cur[int(t)] if isinstance(cur, list) else cur[t]
            except (KeyError, IndexError, ValueError, TypeError):
                raise _json_patch_error(op, f"testing value {path} failed: doc is missing path")
            if cur != op.get("value"):
                raise _json_patch_error(op, f"testing value {path} failed: test failed")
            continue
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            parent = _container(doc, src, op)
            value = parent[int(src[-1])] if isinstance(parent, list) else parent.get(src[-1])
            value = copy.deepcopy(value)
            if kind == "move":
                _remove(doc, src, op)
            _add(doc, tokens, value, op)
            continue
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op.get("value")), op)
        elif kind == "remove":
            _remove(doc, tokens, op)
        elif kind == "replace":
            if not tokens:
                doc = copy.deepcopy(op.get("value"))
                continue
            parent = _container(doc, tokens, op)
            last = tokens[-1]
            if isinstance(parent, list):
                idx = int(last)
                if idx >= len(parent):
                    raise _json_patch_error(op, f"replace operation does not apply: doc is "
                                                f"missing key: {path}")
                parent[idx] = copy.deepcopy(op.get("value"))
            else:
                if last not in parent:
                    raise _json_patch_error(op, f"replace operation does not apply: doc is "
                                                f"missing key: {path}")
                parent[last] = copy.deepcopy(op.get("value"))
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return doc


def _add(doc, tokens, value, op):
    if not tokens:
        return value
    parent = _container(doc, tokens, op)
    last = tokens[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            idx = int(last)
            if idx > len(parent):
                raise _json_patch_error(op, f"add operation does not apply: doc is missing path: "
                                            f"\"{op.get('path')}\"")
            parent.insert(idx, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise _json_patch_error(op, f"add operation does not apply: doc is missing path: "
                                    f"\"{op.get('path')}\"")
    return doc


def _remove(doc, tokens, op):
    parent = _container(doc, tokens, op)
    last = tokens[-1]
    try:
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError):
        raise _json_patch_error(op, f"remove operation does not apply: doc is missing path: "
                                    f"\"{op.get('path')}\"")


def strategic_merge_patch(target, patch, field="", parent=None):
    """Strategic merge of `patch` into `target` (both dicts); returns a new object."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        out = copy.deepcopy(patch)
        out.pop("$patch")
        return out
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            result[name] = [x for x in result.get(name) or [] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list):
            result[k] = _merge_list(result.get(k), v, field, k)
        elif isinstance(v, dict):
            merged = strategic_merge_patch(result.get(k), v, k, field)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        else:
            result[k] = v
    for name, order in orders.items():
        result[name] = _apply_order(result.get(name) or [], order, merge_key(field, name))
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current, patch, parent, field):
    key = merge_key(parent, field)
    current = copy.deepcopy(current) if isinstance(current, list) else []
    if key and all(isinstance(x, dict) for x in patch):
        if any(x.get("$patch") == "replace" for x in patch):
            return [x for x in copy.deepcopy(patch) if x.get("$patch") != "replace"]
        for item in patch:
            if key not in item:
                raise bad_request(f"map: {item} does not contain declared merge key: {key}")
            idx = next((i for i, c in enumerate(current)
                        if isinstance(c, dict) and c.get(key) == item[key]), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    del current[idx]
                continue
            if idx is None:
                current.append(strategic_merge_patch({}, item, field, parent))
            else:
                current[idx] = strategic_merge_patch(current[idx], item, field, parent)
        return current
    if field in _MERGE_PRIMITIVE:
        return current + [x for x in patch if x not in current]
    return copy.deepcopy(patch)


def _apply_order(items, order, key):
    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    wanted = [ident(o) for o in order]
    ordered = [x for w in wanted for x in items if ident(x) == w]
    return ordered + [x for x in items if ident(x) not in wanted]


PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json")


def apply(content_type, target, body, strategic_allowed):
    """Applies a PATCH body of `content_type` to `target`."""
    ctype = (content_type or "").split(";")[0].strip()
    accepted = list(PATCH_TYPES if strategic_allowed else PATCH_TYPES[:2])
    if ctype not in accepted:
        raise ApiError(415, "UnsupportedMediaType",
                       f"the body of the request was in an unknown format - accepted media types "
                       f"include: {', '.join(accepted)}", {})
    try:
        patch = json.loads(body or b"null")
    except ValueError as e:
        raise bad_request(f"error decoding patch: {e}")
    if ctype == "application/json-patch+json":
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type map[string]"
                          "interface {}")
    if ctype == "application/merge-patch+json":
        return merge_patch(target, patch)
    return strategic_merge_patch(target, patch)
