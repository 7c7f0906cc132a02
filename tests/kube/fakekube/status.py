"""metav1.Status errors, shaped exactly like the ones k8s.io/apimachinery/pkg/api/errors builds.

Every failure the fake answers is an ApiError; the HTTP layer serializes it with its code, so a
client sees the same kind/apiVersion/status/message/reason/details/code as from a real server.
"""
import json


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None, list_continue=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.list_continue = list_continue

    def status(self):
        meta = {}
        if self.list_continue:
            meta["continue"] = self.list_continue
        body = {"kind": "Status", "apiVersion": "v1", "metadata": meta, "status": "Failure",
                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def body(self):
        return json.dumps(self.status(), separators=(",", ":")).encode()


def _qualified(rt):
    return rt.resource + ("." + rt.group if rt.group else "")


def _details(rt, name, kind=None):
    d = {"name": name}
    if rt.group:
        d["group"] = rt.group
    d["kind"] = kind or rt.resource
    return d


def not_found(rt, name):
    return ApiError(404, "NotFound", f'{_qualified(rt)} "{name}" not found', _details(rt, name))


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists", f'{_qualified(rt)} "{name}" already exists',
                    _details(rt, name))


def conflict(rt, name, why="the object has been modified; please apply your changes to the "
                           "latest version and try again"):
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {_qualified(rt)} "{name}": {why}',
                    _details(rt, name))


def invalid(rt, name, causes):
    """causes: list of (field, cause_reason, message) like field.ErrorList."""
    msgs = [f"{field}: {msg}" for field, _, msg in causes]
    text = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    details = _details(rt, name, kind=rt.kind)
    details["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in causes]
    return ApiError(422, "Invalid", f'{rt.kind} "{name}" is invalid: {text}', details)


def forbidden(rt, name, why):
    return ApiError(403, "Forbidden", f'{_qualified(rt)} "{name}" is forbidden: {why}',
                    _details(rt, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed():
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                    {})


def path_not_found():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def unsupported_media_type(content_type, accepted):
    return ApiError(415, "UnsupportedMediaType",
                    f'the body of the request was in an unknown format - accepted media types '
                    f'include: {", ".join(accepted)}', {})


def expired(message):
    return ApiError(410, "Expired", message)


def too_old_rv(requested, oldest):
    # k8s.io/apiserver/pkg/storage/cacher/watch_cache.go: "too old resource version: %d (%d)".
    return expired(f"too old resource version: {requested} ({oldest})")


def too_large_rv(requested, current):
    # storage.NewTooLargeResourceVersionError: a 504 the client retries after a second.
    return ApiError(504, "Timeout",
                    f"Timeout: Too large resource version: {requested}, current: {current}",
                    {"causes": [{"reason": "ResourceVersionTooLarge",
                                 "message": "Too large resource version"}],
                     "retryAfterSeconds": 1}, headers={"Retry-After": "1"})


def internal(message):
    return ApiError(500, "InternalError", f"Internal error occurred: {message}",
                    {"causes": [{"message": message}]})


def too_many_requests(retry_after):
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    {"retryAfterSeconds": retry_after},
                    headers={"Retry-After": str(retry_after)})
