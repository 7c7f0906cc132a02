"""authentication.k8s.io over REST: POST serviceaccounts/<sa>/token (TokenRequest, as
pkg/registry/core/serviceaccount/storage/token.go validates it) and POST tokenreviews (answered,
never stored). Token contents and validation live in auth.py."""
from . import clock
from .resources import BY_GVR
from .status import ApiError, bad_request, conflict, not_found


def json_response(code, obj):
    from .api import json_response as jr
    return jr(code, obj)


def token_request(api, req, route):
    rt = route.rt
    body = api.decode(req, rt, kind="TokenRequest")
    spec = body.get("spec") or {}
    sa = api.store.get(rt.storage, route.key)
    if sa is None:
        raise not_found(rt, route.name)
    exp = spec.get("expirationSeconds") or 3600
    if not isinstance(exp, int) or exp < 600 or exp > 1 << 32:
        why = ("may not specify a duration less than 10 minutes" if isinstance(exp, int)
               and exp < 600 else "may not specify a duration larger than 2^32 seconds")
        raise ApiError(422, "Invalid", f'TokenRequest.authentication.k8s.io "{route.name}" '
                       f'is invalid: spec.expirationSeconds: Invalid value: {exp}: {why}',
                       {"name": route.name, "group": "authentication.k8s.io",
                        "kind": "TokenRequest",
                        "causes": [{"reason": "FieldValueInvalid",
                                    "message": f"Invalid value: {exp}: {why}",
                                    "field": "spec.expirationSeconds"}]})
    audiences = spec.get("audiences") or list(api.auth.api_audiences)
    bound, pod = spec.get("boundObjectRef"), None
    if bound:
        if bound.get("kind") != "Pod":
            raise ApiError(422, "Invalid", f'TokenRequest.authentication.k8s.io '
                           f'"{route.name}" is invalid: spec.boundObjectRef.kind: '
                           f'Unsupported value: "{bound.get("kind")}": supported values: '
                           f'"Pod"', {"name": route.name, "kind": "TokenRequest"})
        pod_rt = BY_GVR[("", "v1", "pods")]
        pe = api.store.get(pod_rt.storage, f"{route.namespace}/{bound.get('name')}")
        if pe is None:
            raise not_found(pod_rt, bound.get("name"))
        if bound.get("uid") and bound["uid"] != pe.uid:
            raise conflict(pod_rt, bound.get("name"), (
                f"the UID in the bound object reference ({bound['uid']}) does not match the "
                f"UID in record. The object might have been deleted and then recreated"))
        pod = pe.obj()
        bound = {"kind": "Pod", "apiVersion": "v1", "name": bound["name"], "uid": pe.uid}
    token, exp_at = api.auth.issue(sa.obj(), audiences, exp, pod)
    api.counters.bump("tokens_issued")
    return json_response(201, {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": route.name, "namespace": route.namespace,
                     "creationTimestamp": clock.rfc3339()},
        "spec": {"audiences": audiences, "expirationSeconds": exp, "boundObjectRef": bound},
        "status": {"token": token, "expirationTimestamp": clock.rfc3339(exp_at)}})

def token_review(api, req):
    rt = BY_GVR[("authentication.k8s.io", "v1", "tokenreviews")]
    body = api.decode(req, rt)
    spec = body.get("spec") or {}
    if not spec.get("token"):
        raise bad_request("token is required for TokenReview in authentication")
    status = api.auth.review(spec)
    api.counters.bump("token_reviews_authenticated" if status.get("authenticated")
                       else "token_reviews_rejected")
    return json_response(201, {"kind": "TokenReview", "apiVersion": rt.api_version,
                               "metadata": {"creationTimestamp": None}, "spec": spec,
                               "status": status})
