"""metadata.managedFields entries in the FieldsV1 format of sigs.k8s.io/structured-merge-diff.

Without the schemas a real server has, ownership is approximated: a manager owns every leaf field
its create set, and on later writes takes the leaves whose values it changed (removing them from
other managers). Associative list items are keyed `k:{"name":"web"}` by their list-map keys and
carry ".", string maps (labels, annotations, data) carry "." too, as in a real cluster's objects.
"""
import json

from . import clock
from .patch import merge_key, _MERGE_PRIMITIVE

_SYSTEM_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}
_STRING_MAPS = {"labels", "annotations", "data", "binaryData", "stringData", "matchLabels",
                "nodeSelector", "selector"}
# Extra list-map keys beyond the patch merge key (ports are keyed by port and protocol).
_EXTRA_KEYS = {"containerPort": ["containerPort", "protocol"], "port": ["port", "protocol"]}


def _item_key(item, key):
    names = _EXTRA_KEYS.get(key, [key])
    return "k:" + json.dumps({n: item[n] for n in names if n in item}, separators=(",", ":"))


def _flatten(value, field, parent, prefix, out):
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, k, field, prefix + ("f:" + k,), out)
        return
    if isinstance(value, list) and value:
        key = merge_key(parent, field)
        if key and all(isinstance(x, dict) and key in x for x in value):
            for item in value:
                item_prefix = prefix + (_item_key(item, key),)
                out[item_prefix + (".",)] = ""
                for k, v in item.items():
                    _flatten(v, k, field, item_prefix + ("f:" + k,), out)
            return
        if field in _MERGE_PRIMITIVE:
            for x in value:
                out[prefix + ("v:" + json.dumps(x),)] = ""
            return
    out[prefix] = json.dumps(value, sort_keys=True)


def owned_leaves(obj, part):
    """{path: value} of the fields a write to `part` ("main" or "status") sets."""
    out = {}
    if part == "status":
        _flatten(obj.get("status"), "status", None, ("f:status",), out)
        return out
    for k, v in obj.items():
        if k in ("apiVersion", "kind", "status" if part == "main-no-status" else None):
            continue
        if k == "metadata":
            for mk, mv in (v or {}).items():
                if mk in _SYSTEM_META:
                    continue
                prefix = ("f:metadata", "f:" + mk)
                if mk in _STRING_MAPS and isinstance(mv, dict):
                    out[prefix + (".",)] = ""
                _flatten(mv, mk, "metadata", prefix, out)
            continue
        _flatten(v, k, None, ("f:" + k,), out)
    return out


def _nest(paths):
    root = {}
    for path in sorted(paths):
        cur = root
        for p in path:
            cur = cur.setdefault(p, {})
    return root


def _unnest(fields, prefix=(), out=None):
    out = set() if out is None else out
    for k, v in (fields or {}).items():
        if not v:
            out.add(prefix + (k,))
        else:
            _unnest(v, prefix + (k,), out)
    return out


def on_write(old, new, manager, api_version, part, subresource=None):
    """Returns new['metadata']['managedFields'] after `manager` wrote `new` over `old`."""
    new_leaves = owned_leaves(new, part)
    entries = (old or {}).get("metadata", {}).get("managedFields") or []
    if old is None:
        changed = set(new_leaves)
    else:
        old_leaves = owned_leaves(old, part)
        changed = {p for p, v in new_leaves.items() if old_leaves.get(p) != v}
        changed |= set(old_leaves) - set(new_leaves)
    result, mine = [], None
    for e in entries:
        paths = _unnest(e.get("fieldsV1"))
        if e.get("manager") == manager and e.get("operation") == "Update" and \
                e.get("subresource") == subresource:
            mine = paths
            continue
        paths = {p for p in paths if p not in changed}
        if paths:
            e = dict(e)
            e["fieldsV1"] = _nest(paths)
            result.append(e)
    mine = ((mine or set()) | changed) & set(new_leaves)
    if mine or old is None:
        entry = {"manager": manager, "operation": "Update", "apiVersion": api_version,
                 "time": clock.rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": _nest(mine)}
        if subresource:
            entry["subresource"] = subresource
        result.append(entry)
    return result
