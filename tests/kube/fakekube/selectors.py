"""Label and field selectors: the query-string grammar of k8s.io/apimachinery/pkg/labels and
pkg/fields, and metav1.LabelSelector objects (webhook namespaceSelector/objectSelector).

A parsed selector is a list of requirements (key, op, values); `matches(labels)` is their AND.
"""
import re

from .status import bad_request

_TOKEN = re.compile(r"\s*(==|=|!=|!|,|\(|\)|<|>|[^\s,=!()<>]+)")


def _lex(text):
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        out.append(m.group(1))
        pos = m.end()
        if text[pos:].strip() == "":
            break
    return out


def parse_label_selector(text):
    """'a=b,c!=d,e in (x,y),!f,g' -> requirements. Raises ApiError 400 like the real parser."""
    reqs = []
    toks = _lex(text or "")
    i = 0

    def fail(msg):
        raise bad_request(f"unable to parse requirement: {msg}")

    while i < len(toks):
        if toks[i] == "!":
            if i + 1 >= len(toks):
                fail("found '', expected: identifier")
            reqs.append((toks[i + 1], "!", ()))
            i += 2
        else:
            key = toks[i]
            i += 1
            op = toks[i] if i < len(toks) else ","
            if op == ",":
                reqs.append((key, "exists", ()))
            elif op in ("=", "==", "!="):
                value = toks[i + 1] if i + 1 < len(toks) and toks[i + 1] != "," else ""
                i += 2 if value else 1
                reqs.append((key, "!=" if op == "!=" else "=", (value,)))
            elif op in ("<", ">"):
                if i + 1 >= len(toks):
                    fail("found '', expected: identifier")
                try:
                    int(toks[i + 1])
                except ValueError:
                    fail("for 'Gt', 'Lt' operators, the value must be an integer")
                reqs.append((key, op, (toks[i + 1],)))
                i += 2
            elif op in ("in", "notin"):
                if i + 1 >= len(toks) or toks[i + 1] != "(":
                    fail(f"found '{toks[i + 1] if i + 1 < len(toks) else ''}', expected: '('")
                i += 2
                values = []
                while i < len(toks) and toks[i] != ")":
                    if toks[i] != ",":
                        values.append(toks[i])
                    i += 1
                if i >= len(toks):
                    fail("found '', expected: ')'")
                i += 1
                reqs.append((key, op, tuple(values)))
            else:
                fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            if toks[i] != ",":
                fail(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
    return reqs


def requirement_matches(req, labels):
    key, op, values = req
    present = key in labels
    value = labels.get(key)
    if op == "exists":
        return present
    if op == "!":
        return not present
    if op == "=":
        return present and value == values[0]
    if op == "!=":
        return not present or value != values[0]
    if op == "in":
        return present and value in values
    if op == "notin":
        return not present or value not in values
    if op in ("<", ">"):
        try:
            v = int(value)
        except (TypeError, ValueError):
            return False
        return v < int(values[0]) if op == "<" else v > int(values[0])
    return False


def matches(reqs, labels):
    return all(requirement_matches(r, labels or {}) for r in reqs)


def parse_field_selector(text, supported):
    """'metadata.name=x,status.phase!=Running' -> [(field, op, value)]; unsupported fields are the
    real server's 400 "field label not supported"."""
    reqs = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in supported:
            raise bad_request(f'field label not supported: {field}')
        reqs.append((field, "!=" if op == "!=" else "=", value))
    return reqs


def fields_match(reqs, fields):
    for field, op, value in reqs:
        actual = fields.get(field, "")
        if (actual == value) != (op == "="):
            return False
    return True


def label_selector_object_matches(selector, labels):
    """metav1.LabelSelector: nil/empty matches everything (as webhook selectors are used)."""
    if not selector:
        return True
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists",
              "DoesNotExist": "!"}.get(e.get("operator"))
        if op is None or not requirement_matches((e.get("key"), op,
                                                  tuple(e.get("values") or ())), labels):
            return False
    return True
