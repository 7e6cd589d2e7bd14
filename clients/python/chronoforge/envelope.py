"""Building and checking chronoforge envelopes (SPEC §1, wire format v1).

Everything the worker would refuse is refused here first, with the same code and field, so a bad
job fails in the producer's process instead of landing in a dead-letter list.
"""

from __future__ import annotations

import datetime
import math
import re
import secrets
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import msgpack

VERSION = 1
MAX_BYTES = 512 * 1024
# Container depth (SPEC §1): the envelope map is 0 and the kwargs/options maps are 1; a container
# at depth 17 is too deep, so kwargs can hold 15 more levels of lists and dicts.
MAX_DEPTH = 16
RESERVED_NAMES = ("attempt", "retry_counts", "retry_workflow")
KEY_MAX_BYTES = 256
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_DURATION_SECONDS = 100 * 365 * 86400
_CLASS_RE = re.compile(r"[A-Za-z0-9_.:]{1,128}")
_QUEUE_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|min|h|d)?")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_TYPES_HINT = "use None, bool, int, float, str, list, tuple or dict with str keys"

JSONValue = Union[None, bool, int, float, str, List[Any], Tuple[Any, ...], Dict[str, Any]]
Duration = Union[int, float, str, datetime.timedelta]
When = Union[int, float, str, datetime.datetime]


def field_for(path: str) -> str:
    """The worker's spelling of a path: printable ASCII kept, other bytes as \\xNN, 127 at most."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogatepass")
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in raw)[:127]


class InvalidJob(ValueError):
    """A job the worker would refuse. ``code`` is the worker's refusal code (``bad_value``,
    ``too_deep``, ...) and ``field`` the path the worker would report (``"key"``,
    ``"kwargs.items[2].sku"``, ``""`` for the whole envelope; bytes of names outside printable
    ASCII written ``\\xNN``, at most 127 characters). The message names the value as written and
    ends with the code in brackets."""

    def __init__(self, code: str, path: str, detail: str) -> None:
        self.code = code
        self.path = path
        self.field = field_for(path)
        self.detail = detail
        readable = path.encode("utf-8", "replace").decode("utf-8") or "envelope"
        super().__init__(f"{readable}: {detail} [{code}]")


class InvalidJobType(InvalidJob, TypeError):
    """An InvalidJob caused by a value of the wrong type (code ``wrong_type``); also a TypeError."""


def _refuse(code: str, field: str, detail: str) -> InvalidJob:
    cls = InvalidJobType if code == "wrong_type" else InvalidJob
    return cls(code, field, detail)


def _describe(obj: object) -> str:
    r = repr(obj)
    return f"{type(obj).__name__} ({r[:37] + '...' if len(r) > 40 else r})"


def class_name(workflow_class: Union[str, type]) -> str:
    name = workflow_class.__name__ if isinstance(workflow_class, type) else workflow_class
    if not isinstance(name, str):
        raise _refuse("wrong_type", "class",
                      f"the workflow class must be a str or a class, got {_describe(workflow_class)}")
    if not _CLASS_RE.fullmatch(name):
        raise _refuse("bad_value", "class", f"{name!r} is not a workflow class name "
                      "(1-128 characters of A-Z a-z 0-9 _ . :)")
    return name


def check_key(key: str) -> str:
    if not isinstance(key, str):
        hint = " (pass str(key))" if isinstance(key, int) and not isinstance(key, bool) else ""
        raise _refuse("wrong_type", "key", f"the key must be a non-empty str, got {_describe(key)}{hint}")
    _text(key, "key")
    if key == "":
        raise _refuse("bad_value", "key", "the key must be a non-empty str")
    n = len(key.encode("utf-8"))
    if n > KEY_MAX_BYTES:
        raise _refuse("bad_value", "key", f"the key is {n} bytes, over {KEY_MAX_BYTES}")
    return key


def check_requester(value: Optional[str], field: str, lo: int, hi: int) -> Optional[str]:
    """requested_by (1-256 bytes) and reason (0-1024 bytes) of a retry envelope; None: absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _refuse("wrong_type", field, f"{field} must be a str, got {_describe(value)}")
    _text(value, field)
    n = len(value.encode("utf-8"))
    if n < lo or n > hi:
        raise _refuse("bad_value", field, f"{field} must be {lo}-{hi} bytes, not {n}")
    return value


def queue_name(queue: str) -> str:
    if not isinstance(queue, str):
        raise _refuse("wrong_type", "queue", f"the queue must be a str, got {_describe(queue)}")
    if not _QUEUE_RE.fullmatch(queue):
        raise _refuse("bad_value", "queue",
                      f"{queue!r} is not a queue name (1-64 characters of A-Z a-z 0-9 _ . -)")
    return queue


def _text(s: str, path: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse("bad_utf8", path, "the str holds a lone surrogate and is not valid UTF-8") from None
    if "\0" in s:
        raise _refuse("bad_value", path, "the str contains a NUL character")
    return s


def _too_deep(path: str) -> InvalidJob:
    return _refuse("too_deep", path, f"containers may nest at most {MAX_DEPTH} levels deep in the "
                   f"envelope ({MAX_DEPTH - 1} below kwargs)")


def _map(m: Mapping[Any, Any], path: str, depth: int, reserved: bool = False) -> Dict[str, Any]:
    if depth > MAX_DEPTH:
        raise _too_deep(path)
    out: Dict[str, Any] = {}
    for k, v in m.items():
        if not isinstance(k, str):
            raise _refuse("wrong_type", f"{path}.?", f"dict keys must be str, got {_describe(k)}")
        child = f"{path}.{k}"
        _text(k, child)
        if reserved and k in RESERVED_NAMES:
            raise _refuse("reserved_name", child, f"{k!r} is reserved for the worker "
                          f"({', '.join(RESERVED_NAMES)}); rename the argument")
        out[k] = _value(v, child, depth)
    return out


def _value(v: Any, path: str, depth: int) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return _text(v, path) if isinstance(v, str) else v
    if isinstance(v, int):
        if INT64_MIN <= v <= INT64_MAX:
            return int(v)
        raise _refuse("bad_value", path, f"{v} is outside the 64-bit signed integer range; pass it as a str")
    if isinstance(v, float):
        if math.isfinite(v):
            return float(v)
        raise _refuse("bad_value", path, f"{v} cannot be sent (JSON has no NaN or Infinity); use None or a str")
    if isinstance(v, (list, tuple)):
        if depth + 1 > MAX_DEPTH:
            raise _too_deep(path)
        return [_value(e, f"{path}[{i}]", depth + 1) for i, e in enumerate(v)]
    if isinstance(v, Mapping):
        return _map(v, path, depth + 1)
    if isinstance(v, (datetime.date, datetime.time)):
        raise _refuse("wrong_type", path, f"a {type(v).__name__} cannot be sent; pass an ISO-8601 str "
                      "(v.isoformat()) or an epoch number (v.timestamp())")
    if isinstance(v, (bytes, bytearray, memoryview)):
        raise _refuse("wrong_type", path, "bytes cannot be sent; decode text to str, "
                      "or base64-encode binary data")
    raise _refuse("wrong_type", path, f"{_describe(v)} cannot be sent; {_TYPES_HINT}")


def check_kwargs(kwargs: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise _refuse("wrong_type", "kwargs", f"kwargs must be a dict, got {_describe(kwargs)}")
    return _map(kwargs, "kwargs", 1, reserved=True)


def _duration_seconds(s: str) -> Optional[float]:
    m = _DURATION_RE.fullmatch(s)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def check_options(options: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise _refuse("wrong_type", "options", f"options must be a dict, got {_describe(options)}")
    if isinstance(options.get("max_duration"), datetime.timedelta):
        options = {**options, "max_duration": options["max_duration"].total_seconds()}
    out = _map(options, "options", 1)
    if "max_duration" in out:
        field = "options.max_duration"
        md = out["max_duration"]
        if isinstance(md, (int, float)) and not isinstance(md, bool):
            if md < 0:
                raise _refuse("bad_value", field, f"max_duration must not be negative, got {md}")
        elif isinstance(md, str):
            secs = _duration_seconds(md)
            if secs is None or secs > MAX_DURATION_SECONDS:
                raise _refuse("bad_value", field,
                              f"{md!r} is not a duration (seconds, or e.g. 1500ms, 30s, 10m, 2h)")
        else:
            raise _refuse("wrong_type", field, "max_duration must be seconds (a number) or a duration "
                          f"str like '10m', got {_describe(md)}")
    return out


def delay_seconds(delay: Duration) -> float:
    """Seconds for ``delay=``: a number, a datetime.timedelta or a duration str ("30s")."""
    if isinstance(delay, datetime.timedelta):
        secs = delay.total_seconds()
    elif isinstance(delay, (int, float)) and not isinstance(delay, bool):
        secs = float(delay)
    elif isinstance(delay, str):
        d = _duration_seconds(delay)
        if d is None:
            raise _refuse("bad_value", "delay", f"{delay!r} is not a duration (e.g. 30s, 10m, 2h)")
        secs = d
    else:
        raise _refuse("wrong_type", "delay", f"delay must be seconds, a timedelta or a duration str, "
                      f"got {_describe(delay)}")
    if not (math.isfinite(secs) and secs >= 0):
        raise _refuse("bad_value", "delay", f"delay must be a finite number of seconds >= 0, got {delay!r}")
    return secs


def at_ms(at: When) -> int:
    """Due time in ms since the Unix epoch for ``at=``: an aware datetime, Unix seconds or an
    ISO-8601 str with an offset."""
    if isinstance(at, str):
        try:
            at = datetime.datetime.fromisoformat(at.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _refuse("bad_value", "at", f"{at!r} is not an ISO-8601 time") from None
    if isinstance(at, datetime.datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise _refuse("bad_value", "at", "a naive datetime is ambiguous; give it a tzinfo "
                          "(e.g. datetime.timezone.utc)")
        delta = at - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(at, (int, float)) and not isinstance(at, bool):
        if not (math.isfinite(at) and at >= 0):
            raise _refuse("bad_value", "at", f"at must be finite Unix seconds, got {at!r}")
        return round(at * 1000)
    raise _refuse("wrong_type", "at", f"at must be a datetime, Unix seconds or an ISO-8601 str, "
                  f"got {_describe(at)}")


def build(workflow_class: Union[str, type], key: str, kwargs: Optional[Mapping[str, Any]] = None, *,
          queue: str = "default", options: Optional[Mapping[str, Any]] = None,
          retry_workflow: bool = False, requested_by: Optional[str] = None,
          reason: Optional[str] = None, max_bytes: int = MAX_BYTES,
          jid: Optional[str] = None, now: Optional[float] = None) -> Tuple[str, bytes]:
    """Returns ``(jid, envelope_bytes)`` for one job, or raises InvalidJob."""
    jid = jid if jid is not None else secrets.token_hex(12)
    # Checked, and written, in the order the worker checks them (SPEC §1), so a job with several
    # problems is refused for the same one here and there.
    env: Dict[str, Any] = {"v": VERSION, "jid": jid, "class": class_name(workflow_class),
                           "key": check_key(key), "queue": queue_name(queue),
                           "created_at": float(time.time() if now is None else now)}
    if not retry_workflow:
        env["kwargs"] = check_kwargs(kwargs)
    elif kwargs:
        raise _refuse("bad_value", "kwargs", "a retry envelope carries no kwargs")
    opts = check_options(options)
    if opts:
        env["options"] = opts
    if retry_workflow:
        env["retry_workflow"] = True
    if requested_by is not None or reason is not None:
        if not retry_workflow:
            raise _refuse("bad_value", "requested_by", "requested_by and reason go with retry_workflow")
        if check_requester(requested_by, "requested_by", 1, 256) is not None:
            env["requested_by"] = requested_by
        if check_requester(reason, "reason", 0, 1024):
            env["reason"] = reason
    data: bytes = msgpack.packb(env, use_bin_type=True)
    if len(data) > max_bytes:
        raise _refuse("too_large", "", f"the envelope is {len(data)} bytes, over the {max_bytes}-byte "
                      "limit; keep large data elsewhere and pass a reference")
    return jid, data
