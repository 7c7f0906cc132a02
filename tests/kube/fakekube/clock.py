"""The fake's one clock: wall time plus an offset the admin port can advance (to expire tokens
without waiting; Kubernetes refuses token lifetimes under ten minutes)."""
import threading
import time

_lock = threading.Lock()
_offset = 0.0


def now():
    return time.time() + _offset


def advance(seconds):
    global _offset
    with _lock:
        _offset += seconds
    return _offset


def rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now() if t is None else t))


def rfc3339_micro(t=None):
    t = now() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"
