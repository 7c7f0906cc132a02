"""meta.k8s.io/v1 Table rendering for `kubectl get` (it asks with `Accept: ...;as=Table`).

The columns follow the server-side printers of pkg/printers/internalversion/printers.go and the
additionalPrinterColumns of Istio's CRDs; cells are what kubectl prints, column for column.
"""
import time

from . import clock


class Columns:
    def __init__(self, defs, row):
        self.defs = defs   # [(name, type, format, priority)]
        self.row = row     # obj -> cells

    def definitions(self):
        return [{"name": n, "type": t, "format": f, "description": n, "priority": p}
                for n, t, f, p in self.defs]


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    return f"{h // 24 // 365}y"


def age(obj):
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    created = time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    return human_duration(clock.now() - created)


NAME = ("Name", "string", "name", 0)
AGE = ("Age", "string", "", 0)


def _name(o):
    return (o.get("metadata") or {}).get("name", "")


name_age = Columns([NAME, ("Created At", "date", "", 0)],
                   lambda o: [_name(o), (o.get("metadata") or {}).get("creationTimestamp", "")])


def _pod_row(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    reason = st.get("reason") or st.get("phase", "")
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    return [_name(o), f"{ready}/{len(spec.get('containers') or [])}", reason, restarts, age(o),
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>", "<none>" if not gates else str(len(gates))]


pod = Columns([NAME, ("Ready", "string", "", 0), ("Status", "string", "", 0),
               ("Restarts", "string", "", 0), AGE, ("IP", "string", "", 1),
               ("Node", "string", "", 1), ("Nominated Node", "string", "", 1),
               ("Readiness Gates", "string", "", 1)], _pod_row)


def _ports(ports):
    out = []
    for p in ports or []:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _selector(sel):
    return ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items())) or "<none>"


service = Columns(
    [NAME, ("Type", "string", "", 0), ("Cluster-IP", "string", "", 0),
     ("External-IP", "string", "", 0), ("Port(s)", "string", "", 0), AGE,
     ("Selector", "string", "", 1)],
    lambda o: [_name(o), o["spec"].get("type", ""), o["spec"].get("clusterIP", ""),
               ",".join(o["spec"].get("externalIPs") or []) or "<none>",
               _ports(o["spec"].get("ports")), age(o), _selector(o["spec"].get("selector"))])

namespace = Columns([NAME, ("Status", "string", "", 0), AGE],
                    lambda o: [_name(o), (o.get("status") or {}).get("phase", ""), age(o)])
configmap = Columns([NAME, ("Data", "string", "", 0), AGE],
                    lambda o: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                               age(o)])
secret = Columns([NAME, ("Type", "string", "", 0), ("Data", "string", "", 0), AGE],
                 lambda o: [_name(o), o.get("type", ""), len(o.get("data") or {}), age(o)])
serviceaccount = Columns([NAME, ("Secrets", "string", "", 0), AGE],
                         lambda o: [_name(o), len(o.get("secrets") or []), age(o)])


def _slice_row(o):
    ports = ",".join(str(p.get("port", "<unset>")) for p in o.get("ports") or []) or "<unset>"
    addrs = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_name(o), o.get("addressType", ""), ports, shown or "<unset>", age(o)]


endpointslice = Columns([NAME, ("AddressType", "string", "", 0), ("Ports", "string", "", 0),
                         ("Endpoints", "string", "", 0), AGE], _slice_row)


def _label_selector(sel):
    sel = sel or {}
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        parts.append(f"{e.get('key')} {e.get('operator', '').lower()} "
                     f"({','.join(e.get('values') or [])})")
    return ",".join(parts) or "<none>"


networkpolicy = Columns([NAME, ("Pod-Selector", "string", "", 0), AGE],
                        lambda o: [_name(o), _label_selector(o["spec"].get("podSelector")),
                                   age(o)])


def _event_row(o):
    inv = o.get("involvedObject") or o.get("regarding") or {}
    return [o.get("lastTimestamp") or o.get("eventTime") or "", o.get("type", ""),
            o.get("reason", ""), f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
            o.get("message") or o.get("note") or ""]


event = Columns([("Last Seen", "string", "", 0), ("Type", "string", "", 0),
                 ("Reason", "string", "", 0), ("Object", "string", "", 0),
                 ("Message", "string", "", 0)], _event_row)
lease = Columns([NAME, ("Holder", "string", "", 0), AGE],
                lambda o: [_name(o), (o.get("spec") or {}).get("holderIdentity", ""), age(o)])
webhookconfiguration = Columns([NAME, ("Webhooks", "integer", "", 0), AGE],
                               lambda o: [_name(o), len(o.get("webhooks") or []), age(o)])
authorizationpolicy = Columns(
    [NAME, ("Action", "string", "", 0), AGE],
    lambda o: [_name(o), (o.get("spec") or {}).get("action", ""), age(o)])
peerauthentication = Columns(
    [NAME, ("Mode", "string", "", 0), AGE],
    lambda o: [_name(o), ((o.get("spec") or {}).get("mtls") or {}).get("mode", ""), age(o)])
