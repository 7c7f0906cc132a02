"""Discovery documents (/version, /api, /apis, /api/v1, /apis/<group>/<version>) and a minimal
OpenAPI v3 (/openapi/v3 and one document per group version).

The OpenAPI v3 documents hold only the PATCH operation of each kind with its `fieldValidation`
query parameter and x-kubernetes-group-version-kind: that is what kubectl reads to decide that the
server validates fields itself (cli-runtime query_param_verifier_v3.go), so a plain
`kubectl apply -f` needs no --validate=false. They carry no schemas, so kubectl falls back to its
compiled-in types for strategic merge patches (and JSON merge patch for custom resources), and
`kubectl explain` does not work. /openapi/v2 answers 404.
"""
import hashlib
import json

from .resources import group_versions, served_types

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-remora-fake",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc",
           "platform": "linux/amd64"}

_SUB_VERBS = {"status": ["get", "patch", "update"], "token": ["create"]}


def resource_list(group, version):
    gv = f"{group}/{version}" if group else version
    resources = []
    for t in served_types():
        if t.group != group or t.version != version:
            continue
        r = {"name": t.resource, "singularName": t.singular, "namespaced": t.namespaced,
             "kind": t.kind, "verbs": t.verbs}
        if t.short_names:
            r["shortNames"] = t.short_names
        if t.categories:
            r["categories"] = t.categories
        r["storageVersionHash"] = hashlib.sha256(t.storage.encode()).hexdigest()[:11]
        resources.append(r)
        for sub in t.subresources:
            s = {"name": f"{t.resource}/{sub}", "singularName": "", "namespaced": t.namespaced,
                 "kind": t.kind, "verbs": _SUB_VERBS.get(sub, ["get"])}
            if sub == "token":
                s.update({"group": "authentication.k8s.io", "version": "v1",
                          "kind": "TokenRequest"})
            resources.append(s)
    if not resources:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


def _group(name, versions):
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def api_group_list():
    groups = [_group(g, vs) for g, vs in group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name):
    vs = group_versions().get(name)
    if not name or not vs:
        return None
    g = _group(name, vs)
    g.update({"kind": "APIGroup", "apiVersion": "v1"})
    return g


def _gv_path(group, version):
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_root():
    paths = {}
    for group, versions in group_versions().items():
        for v in versions:
            doc = json.dumps(openapi_gv(group, v), sort_keys=True).encode()
            h = hashlib.sha512(doc).hexdigest()[:128].upper()
            p = _gv_path(group, v)
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={h}"}
    return {"paths": paths}


def openapi_gv(group, version):
    paths = {}
    for t in served_types():
        if t.group != group or t.version != version:
            continue
        # (tokenreviews has no PATCH on a real server; listing one lets `kubectl create -f` of a
        # TokenReview skip client-side validation, which would need /openapi/v2.)
        base = "/" + _gv_path(group, version)
        ns = "/namespaces/{namespace}" if t.namespaced else ""
        gvk = {"group": group, "version": version, "kind": t.kind}
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        paths[f"{base}{ns}/{t.resource}/{{name}}"] = {"patch": {
            "tags": [group or "core"], "operationId": f"patch{t.kind}",
            "parameters": params, "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}


def find_openapi_gv(path):
    """/openapi/v3/api/v1 or /openapi/v3/apis/g/v -> document, or None."""
    rest = path[len("/openapi/v3/"):].strip("/").split("/")
    if rest[:1] == ["api"] and len(rest) == 2:
        group, version = "", rest[1]
    elif rest[:1] == ["apis"] and len(rest) == 3:
        group, version = rest[1], rest[2]
    else:
        return None
    if version not in group_versions().get(group, []):
        return None
    return openapi_gv(group, version)
