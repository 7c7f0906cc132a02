"""Bearer-token authentication, TokenRequest and TokenReview.

Service-account tokens are JWT-shaped with the claims a real API server puts in them
(pkg/serviceaccount/claims.go: iss, sub, aud, exp, iat, nbf, jti and the kubernetes.io block with
namespace, serviceaccount and the bound pod), signed HS256 with a key private to this process
(a real server signs RS256; nothing outside the fake verifies the signature). Validation follows
pkg/serviceaccount/jwt.go and claims.go, error strings included: the audience must intersect the
requested audiences, expiry has the one-minute leeway of go-jose, and the service account and
the bound pod must still exist with the UIDs in the token.
"""
import base64
import hashlib
import hmac
import json
import os
import threading
import uuid

from . import clock

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
LEEWAY_SECONDS = 60   # jwt.DefaultLeeway


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _go_quote_list(items):
    """fmt's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


class Authenticator:
    def __init__(self, store, static_tokens, issuer=API_AUDIENCE, api_audiences=(API_AUDIENCE,)):
        self.store = store
        self.static = dict(static_tokens)      # token -> user info dict
        self.issuer = issuer
        self.api_audiences = list(api_audiences)
        self.key = os.urandom(32)
        self.kid = _b64(hashlib.sha256(self.key).digest()[:16])
        self.lock = threading.Lock()
        self.issued = []                       # records of issued tokens, for the admin port

    # ---- issuing -------------------------------------------------------------------------------
    def issue(self, sa_obj, audiences, expiration_seconds, pod_obj=None):
        now = int(clock.now())
        meta = sa_obj["metadata"]
        jti = str(uuid.uuid4())
        k8s = {"namespace": meta["namespace"],
               "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}}
        if pod_obj is not None:
            k8s["pod"] = {"name": pod_obj["metadata"]["name"], "uid": pod_obj["metadata"]["uid"]}
            node = (pod_obj.get("spec") or {}).get("nodeName")
            if node:
                k8s["node"] = {"name": node}
        claims = {"aud": list(audiences), "exp": now + expiration_seconds, "iat": now,
                  "iss": self.issuer, "jti": jti, "kubernetes.io": k8s, "nbf": now,
                  "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}"}
        header = {"alg": "HS256", "kid": self.kid}
        signing_input = _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self.key, signing_input.encode(), hashlib.sha256).digest()
        with self.lock:
            self.issued.append({"jti": jti, "sub": claims["sub"], "aud": claims["aud"],
                                "exp": claims["exp"], "pod": k8s.get("pod")})
            del self.issued[:-1000]
        return signing_input + "." + _b64(sig), claims["exp"]

    # ---- validation ----------------------------------------------------------------------------
    def authenticate(self, token, audiences=None):
        """(user, audiences, error): user None when not authenticated; error a string or None,
        exactly what TokenReview.status.error would say."""
        requested = list(audiences) if audiences else self.api_audiences
        user = self.static.get(token)
        if user is not None:
            # Static tokens are audience-agnostic: valid only for the API server's audiences.
            auds = [a for a in requested if a in self.api_audiences]
            return (user, auds, None) if auds else (None, None, None)
        parts = token.split(".")
        if len(parts) != 3:
            return None, None, None
        try:
            claims = json.loads(_unb64(parts[1]))
            if not isinstance(claims, dict) or claims.get("iss") != self.issuer:
                return None, None, None
        except ValueError:
            return None, None, None
        sig = hmac.new(self.key, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
        try:
            ok = hmac.compare_digest(sig, _unb64(parts[2]))
        except ValueError:
            ok = False
        if not ok:
            return None, None, "go-jose/go-jose: error in cryptographic primitive"
        token_auds = claims.get("aud") or self.api_audiences
        if isinstance(token_auds, str):
            token_auds = [token_auds]
        auds = [a for a in token_auds if a in requested]
        if not auds:
            return None, None, (f"token audiences {_go_quote_list(token_auds)} is invalid for the "
                                f"target audiences {_go_quote_list(requested)}")
        now = clock.now()
        if now > claims.get("exp", 0) + LEEWAY_SECONDS:
            return None, None, "service account token has expired"
        if now < claims.get("nbf", 0) - LEEWAY_SECONDS:
            return None, None, "service account token is not valid yet"
        k8s = claims.get("kubernetes.io") or {}
        ns = k8s.get("namespace", "")
        saref = k8s.get("serviceaccount") or {}
        sa = self.store.get("/serviceaccounts", f"{ns}/{saref.get('name')}")
        if sa is None:
            return None, None, f'serviceaccounts "{saref.get("name")}" not found'
        if sa.uid != saref.get("uid"):
            return None, None, (f"service account UID ({sa.uid}) does not match claim "
                                f"({saref.get('uid')})")
        extra = {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti')}"]}
        podref = k8s.get("pod")
        if podref:
            pod = self.store.get("/pods", f"{ns}/{podref.get('name')}")
            if pod is None or b'"deletionTimestamp"' in pod.data:
                return None, None, "service account token has been invalidated"
            if pod.uid != podref.get("uid"):
                return None, None, (f"pod UID ({pod.uid}) does not match service account pod "
                                    f"ref claim ({podref.get('uid')})")
            extra["authentication.kubernetes.io/pod-name"] = [podref["name"]]
            extra["authentication.kubernetes.io/pod-uid"] = [podref["uid"]]
            node = k8s.get("node")
            if node:
                extra["authentication.kubernetes.io/node-name"] = [node["name"]]
        user = {"username": claims["sub"], "uid": sa.uid,
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}",
                           "system:authenticated"],
                "extra": dict(sorted(extra.items()))}
        return user, auds, None

    def review(self, spec):
        """TokenReview status for `spec` (pkg/registry/authentication/tokenreview/storage.go)."""
        user, auds, error = self.authenticate(spec.get("token", ""), spec.get("audiences"))
        status = {}
        if user is not None:
            status["authenticated"] = True
            status["user"] = user
            status["audiences"] = auds
        else:
            status["user"] = {}
            if error:
                status["error"] = error
        return status


def static_user(name, uid=None, groups=("system:masters",)):
    return {"username": name, "uid": uid or name,
            "groups": list(groups) + ["system:authenticated"]}


def load_token_file(path):
    """kube-apiserver --token-auth-file format: token,user,uid,"group1,group2"."""
    import csv
    tokens = {}
    with open(path) as f:
        for row in csv.reader(f):
            if not row or row[0].startswith("#"):
                continue
            groups = row[3].split(",") if len(row) > 3 and row[3] else []
            tokens[row[0]] = static_user(row[1], row[2] if len(row) > 2 else row[1], groups)
    return tokens
