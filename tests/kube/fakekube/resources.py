"""The resource types the fake serves: one table that discovery, routing, storage, field selectors,
defaulting and `kubectl get` columns all read, so adding a type is one entry here.

A type either has real behaviour (defaults, status subresource, generation, field labels) or is
stored as sent ("storage-only": Deployments, RBAC objects and the like, so `kubectl apply -f` of a
whole manifest directory works; no controller acts on them).
"""
from . import defaults, tables

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ResourceType:
    def __init__(self, group, version, resource, kind, namespaced=True, short_names=(),
                 categories=(), verbs=ALL_VERBS, subresources=(), generation=False,
                 status_subresource=False, strategic=True, field_labels=None, default=None,
                 validate=None, storage=None, storage_version=None, to_version=None,
                 from_version=None, columns=None, name_rule="subdomain"):
        self.group, self.version, self.resource, self.kind = group, version, resource, kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.verbs = list(verbs)
        self.subresources = list(subresources)   # e.g. ["status"], ["token"]
        self.generation = generation             # metadata.generation bumps on spec changes
        self.status_subresource = status_subresource
        self.strategic = strategic               # built-in types accept strategic merge patch
        self.field_labels_fn = field_labels
        self.default_fn = default
        self.validate_fn = validate
        # Objects of several versions of one resource share a store (like a CRD with two served
        # versions, or core/v1 and events.k8s.io/v1 Events).
        self.storage = storage or f"{group}/{resource}"
        self.storage_version = storage_version or self.api_version
        self.to_version_fn = to_version        # storage object -> this version
        self.from_version_fn = from_version    # this version -> storage object
        self.columns = columns or tables.name_age
        self.name_rule = name_rule

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self):
        return self.kind.lower()

    @property
    def list_kind(self):
        return self.kind + "List"

    @property
    def watchable(self):
        return "watch" in self.verbs

    def field_labels(self, obj):
        meta = obj.get("metadata", {})
        fields = {"metadata.name": meta.get("name", "")}
        if self.namespaced:
            fields["metadata.namespace"] = meta.get("namespace", "")
        if self.field_labels_fn:
            fields.update(self.field_labels_fn(obj))
        return fields

    def to_version(self, obj):
        """Storage representation -> the representation of this type's version."""
        if self.to_version_fn:
            return self.to_version_fn(obj)
        if obj.get("apiVersion") != self.api_version:
            obj = dict(obj)
            obj["apiVersion"] = self.api_version
        return obj

    def from_version(self, obj):
        if self.from_version_fn:
            return self.from_version_fn(obj)
        obj["apiVersion"] = self.storage_version
        return obj


def _f(obj, *path):
    for p in path:
        if not isinstance(obj, dict):
            return ""
        obj = obj.get(p)
    if obj is None:
        return ""
    if isinstance(obj, bool):
        return "true" if obj else "false"
    return str(obj)


def _pod_fields(o):
    # pkg/registry/core/pod/strategy.go PodToSelectableFields.
    return {"spec.nodeName": _f(o, "spec", "nodeName"),
            "spec.restartPolicy": _f(o, "spec", "restartPolicy"),
            "spec.schedulerName": _f(o, "spec", "schedulerName"),
            "spec.serviceAccountName": _f(o, "spec", "serviceAccountName"),
            "spec.hostNetwork": _f(o, "spec", "hostNetwork") or "false",
            "status.phase": _f(o, "status", "phase"),
            "status.podIP": _f(o, "status", "podIP"),
            "status.nominatedNodeName": _f(o, "status", "nominatedNodeName")}


def _event_fields(o):
    inv = o.get("involvedObject", {})
    src = o.get("source", {}).get("component", "")
    fields = {f"involvedObject.{k}": _f(inv, k) for k in
              ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    fields.update({"reason": _f(o, "reason"), "reportingComponent": _f(o, "reportingComponent"),
                   "source": src, "type": _f(o, "type")})
    return fields


def _event_to_events_v1(o):
    """core/v1 Event -> events.k8s.io/v1 Event (pkg/apis/events/v1/conversion.go)."""
    out = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": o.get("metadata", {})}
    rename = {"involvedObject": "regarding", "message": "note",
              "reportingComponent": "reportingController", "source": "deprecatedSource",
              "firstTimestamp": "deprecatedFirstTimestamp",
              "lastTimestamp": "deprecatedLastTimestamp", "count": "deprecatedCount"}
    for k, v in o.items():
        if k in ("kind", "apiVersion", "metadata"):
            continue
        out[rename.get(k, k)] = v
    return out


def _event_from_events_v1(o):
    back = {"regarding": "involvedObject", "note": "message",
            "reportingController": "reportingComponent", "deprecatedSource": "source",
            "deprecatedFirstTimestamp": "firstTimestamp",
            "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count"}
    out = {"kind": "Event", "apiVersion": "v1", "metadata": o.get("metadata", {})}
    for k, v in o.items():
        if k in ("kind", "apiVersion", "metadata"):
            continue
        out[back.get(k, k)] = v
    return out


def _istio(version, resource, kind, short=(), columns=None):
    # Istio's CRDs (manifests/charts/base/files/crd-all.gen.yaml): served v1 and v1beta1, stored
    # as v1, status subresource, categories istio-io and security-istio-io.
    return ResourceType("security.istio.io", version, resource, kind, short_names=short,
                        categories=["istio-io", "security-istio-io"], generation=True,
                        status_subresource=True, strategic=False,
                        storage=f"security.istio.io/{resource}",
                        storage_version="security.istio.io/v1", columns=columns)


TYPES = [
    ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=["ns"],
                 subresources=["status"], status_subresource=True,
                 field_labels=lambda o: {"status.phase": _f(o, "status", "phase")},
                 default=defaults.namespace, columns=tables.namespace, name_rule="label"),
    ResourceType("", "v1", "pods", "Pod", short_names=["po"], categories=["all"],
                 subresources=["status"], status_subresource=True, field_labels=_pod_fields,
                 default=defaults.pod, validate=defaults.validate_pod, columns=tables.pod),
    ResourceType("", "v1", "services", "Service", short_names=["svc"], categories=["all"],
                 subresources=["status"], status_subresource=True,
                 field_labels=lambda o: {"spec.clusterIP": _f(o, "spec", "clusterIP"),
                                         "spec.type": _f(o, "spec", "type")},
                 default=defaults.service, validate=defaults.validate_service,
                 columns=tables.service, name_rule="label1035"),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", short_names=["sa"],
                 subresources=["token"], columns=tables.serviceaccount),
    ResourceType("", "v1", "configmaps", "ConfigMap", short_names=["cm"],
                 columns=tables.configmap),
    ResourceType("", "v1", "secrets", "Secret", field_labels=lambda o: {"type": _f(o, "type")},
                 default=defaults.secret, columns=tables.secret),
    ResourceType("", "v1", "events", "Event", short_names=["ev"], field_labels=_event_fields,
                 storage="events", columns=tables.event),
    ResourceType("events.k8s.io", "v1", "events", "Event", short_names=["ev"], storage="events",
                 storage_version="v1", to_version=_event_to_events_v1,
                 from_version=_event_from_events_v1, columns=tables.event),
    ResourceType("", "v1", "endpoints", "Endpoints", short_names=["ep"]),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
                 short_names=["pvc"], subresources=["status"], status_subresource=True),
    ResourceType("", "v1", "nodes", "Node", namespaced=False, short_names=["no"],
                 subresources=["status"], status_subresource=True),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice",
                 default=defaults.endpointslice, columns=tables.endpointslice),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy",
                 short_names=["netpol"], generation=True, default=defaults.networkpolicy,
                 columns=tables.networkpolicy),
    _istio("v1", "authorizationpolicies", "AuthorizationPolicy", short=["ap"],
           columns=tables.authorizationpolicy),
    _istio("v1beta1", "authorizationpolicies", "AuthorizationPolicy", short=["ap"],
           columns=tables.authorizationpolicy),
    _istio("v1", "peerauthentications", "PeerAuthentication", short=["pa"],
           columns=tables.peerauthentication),
    _istio("v1beta1", "peerauthentications", "PeerAuthentication", short=["pa"],
           columns=tables.peerauthentication),
    _istio("v1", "requestauthentications", "RequestAuthentication", short=["ra"]),
    _istio("v1beta1", "requestauthentications", "RequestAuthentication", short=["ra"]),
    ResourceType("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                 "MutatingWebhookConfiguration", namespaced=False, generation=True,
                 categories=["api-extensions"], default=defaults.webhook_configuration,
                 columns=tables.webhookconfiguration),
    ResourceType("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                 "ValidatingWebhookConfiguration", namespaced=False, generation=True,
                 categories=["api-extensions"], default=defaults.webhook_configuration,
                 columns=tables.webhookconfiguration),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", columns=tables.lease),
    ResourceType("authentication.k8s.io", "v1", "tokenreviews", "TokenReview",
                 namespaced=False, verbs=["create"]),
    ResourceType("apps", "v1", "deployments", "Deployment", short_names=["deploy"],
                 categories=["all"], subresources=["status"], status_subresource=True,
                 generation=True),
    # The examples run remora-control's replicas under a PodDisruptionBudget.
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget",
                 short_names=["pdb"], subresources=["status"], status_subresource=True,
                 generation=True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole",
                 namespaced=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                 "ClusterRoleBinding", namespaced=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
]

# (group, version, resource) -> type
BY_GVR = {(t.group, t.version, t.resource): t for t in TYPES}


# Storage keys of the types not served now: a cluster whose CRDs are not installed yet
# (--without-istio-crds). Discovery, routing and bulk loads skip them, as a real server does
# before a CRD is created; install() serves them from then on (POST /crds/istio, what
# `kubectl apply` of Istio's CRDs does).
ISTIO_STORAGE = {t.storage for t in TYPES if t.group == "security.istio.io"}
_unserved = set()


def uninstall(storage_keys):
    _unserved.update(storage_keys)


def install(storage_keys):
    _unserved.difference_update(storage_keys)


def is_served(t):
    return t.storage not in _unserved


def served_types():
    return [t for t in TYPES if is_served(t)]


def lookup(gvr):
    """The served type of (group, version, resource), or None."""
    t = BY_GVR.get(gvr)
    return t if t is not None and is_served(t) else None


def group_versions():
    """Ordered {group: [versions]}, preferred version first, core group as ""."""
    out = {}
    for t in served_types():
        versions = out.setdefault(t.group, [])
        if t.version not in versions:
            versions.append(t.version)
    return out


def storage_type(storage):
    """The type whose version is the storage version of `storage`."""
    for t in TYPES:
        if t.storage == storage and t.api_version == t.storage_version:
            return t
    raise KeyError(storage)
