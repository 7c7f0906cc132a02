"""Server-side defaulting and the few validations a client can trip over, for the types with real
behaviour. Each function mirrors the Kubernetes code named in its comment; a test-visible object
should look like one read from a real v1.32 cluster (`kubectl get pod -o json`).
"""
import base64
import re

SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def validate_name(rule, name):
    """k8s.io/apimachinery/pkg/util/validation: the message a real server gives, or None."""
    if rule == "label":
        if len(name) > 63 or not DNS1123_LABEL.match(name):
            return ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character "
                    "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    elif rule == "label1035":
        if len(name) > 63 or not DNS1035_LABEL.match(name):
            return ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                    "start with an alphabetic character, and end with an alphanumeric character "
                    "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                    "'[a-z]([-a-z0-9]*[a-z0-9])?')")
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        return ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    return None


def _probe(p):
    if not isinstance(p, dict):
        return
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("scheme", "HTTP")


def _container(c):
    # pkg/apis/core/v1/defaults.go SetDefaults_Container.
    image = c.get("image", "")
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        pull = "IfNotPresent"
    else:
        tag = last.split(":", 1)[1] if ":" in last else "latest"
        pull = "Always" if tag == "latest" else "IfNotPresent"
    c.setdefault("imagePullPolicy", pull)
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    res = c.setdefault("resources", {})
    # SetDefaults_Pod: a container with limits but no requests requests its limits.
    if isinstance(res, dict) and res.get("limits"):
        req = res.setdefault("requests", {})
        for k, v in res["limits"].items():
            req.setdefault(k, v)
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))


def _qos_class(spec):
    # pkg/apis/core/helper/qos: BestEffort without any request/limit, Guaranteed when every
    # container's cpu and memory limits equal its requests, else Burstable.
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod(obj, ctx):
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    # The Priority admission plugin.
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    # The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount).
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = sa
    spec["serviceAccount"] = sa
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        _container(c)
    for v in spec.get("volumes") or []:
        for kind in ("secret", "configMap", "projected"):
            if isinstance(v.get(kind), dict):
                v[kind].setdefault("defaultMode", 420)
    if ctx.automount_token(obj):
        _mount_service_account_token(spec, ctx)
    # The DefaultTolerationSeconds admission plugin.
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300})
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status["qosClass"] = _qos_class(spec)


def _mount_service_account_token(spec, ctx):
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    if any(m.get("mountPath") == SA_MOUNT for c in containers for m in c.get("volumeMounts") or []):
        return
    name = "kube-api-access-" + ctx.random_suffix()
    spec.setdefault("volumes", []).append({"name": name, "projected": {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt",
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
        "defaultMode": 420}})
    for c in containers:
        c.setdefault("volumeMounts", []).append(
            {"name": name, "readOnly": True, "mountPath": SA_MOUNT})


def sync_pod_ips(status):
    """The v1 conversion keeps podIP == podIPs[0].ip (and hostIP/hostIPs) whichever one is set."""
    for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
        ips = status.get(plural)
        if ips:
            status[single] = ips[0].get("ip", "")
        elif status.get(single):
            status[plural] = [{"ip": status[single]}]


def validate_pod(obj):
    causes = []
    containers = (obj.get("spec") or {}).get("containers")
    if not containers:
        causes.append(("spec.containers", "FieldValueRequired", "Required value"))
    for i, c in enumerate(containers or []):
        if not c.get("name"):
            causes.append((f"spec.containers[{i}].name", "FieldValueRequired", "Required value"))
        if not c.get("image"):
            causes.append((f"spec.containers[{i}].image", "FieldValueRequired",
                           "Required value"))
    return causes


def service(obj, ctx):
    # pkg/apis/core/v1/defaults.go SetDefaults_Service, plus the ClusterIP allocator.
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = ctx.allocate_cluster_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for p in spec.get("ports") or []:
        p.setdefault("protocol", "TCP")
        p.setdefault("targetPort", p.get("port"))
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def validate_service(obj):
    spec = obj.get("spec") or {}
    if spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None" \
            and not spec.get("ports"):
        return [("spec.ports", "FieldValueRequired", "Required value")]
    return []


def namespace(obj, ctx):
    name = obj.get("metadata", {}).get("name", "")
    # The NamespaceDefaultLabelName feature: every namespace carries its name as a label.
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def secret(obj, ctx):
    obj.setdefault("type", "Opaque")
    # stringData is write-only: the API server merges it into data, base64-encoded and winning
    # over data's own keys, and never stores it (pkg/apis/core/v1/conversion.go,
    # Convert_v1_Secret_To_core_Secret).
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def endpointslice(obj, ctx):
    for p in obj.get("ports") or []:
        p.setdefault("protocol", "TCP")
        p.setdefault("name", "")


def networkpolicy(obj, ctx):
    # pkg/apis/networking/v1/defaults.go: policyTypes from the presence of egress rules.
    spec = obj.setdefault("spec", {})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for direction, peer in (("ingress", "from"), ("egress", "to")):
        for rule in spec.get(direction) or []:
            for p in rule.get("ports") or []:
                p.setdefault("protocol", "TCP")
    spec.setdefault("podSelector", {})


def webhook_configuration(obj, ctx):
    # pkg/apis/admissionregistration/v1/defaults.go.
    for w in obj.get("webhooks") or []:
        w.setdefault("failurePolicy", "Fail")
        w.setdefault("matchPolicy", "Equivalent")
        w.setdefault("namespaceSelector", {})
        w.setdefault("objectSelector", {})
        w.setdefault("timeoutSeconds", 10)
        if obj.get("kind") == "MutatingWebhookConfiguration":
            w.setdefault("reinvocationPolicy", "Never")
        svc = (w.get("clientConfig") or {}).get("service")
        if isinstance(svc, dict):
            svc.setdefault("port", 443)
        for r in w.get("rules") or []:
            r.setdefault("scope", "*")
