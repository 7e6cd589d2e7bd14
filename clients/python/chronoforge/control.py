"""Control requests (SPEC §2, "Control requests"): what a producer with only Redis sends to ask
the fleet to act on a workflow (signal it, cancel it), and the worker's reply.

A request is one msgpack map pushed with ``LPUSH P:{Q}:control``; the worker commits it to
Postgres, then answers on ``P:reply:<id>``, which the client waits for with ``BRPOP``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import msgpack

from . import envelope
from .envelope import _refuse

VERSION = 1
PAYLOAD_MAX_BYTES = 64 * 1024
_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")

_UNSET = object()


@dataclass(frozen=True)
class ControlResult:
    """What became of a control request: ``outcome`` is ``"accepted"``, ``"refused"`` (then
    ``code`` and ``reason`` say why) or ``"pending"`` (no worker answered within the timeout;
    the request stays queued and is applied when a worker takes it; sending it again with the
    same id is safe)."""

    outcome: str
    id: str
    code: Optional[str] = None
    reason: Optional[str] = None

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"

    @property
    def pending(self) -> bool:
        return self.outcome == "pending"


def request_id(value: Optional[str]) -> str:
    if value is None:
        return secrets.token_hex(12)
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise _refuse("bad_value", "id", f"the id must be 1-64 characters of A-Z a-z 0-9 _ . : -, got {value!r}")
    return value


def _name(name: str) -> str:
    if not isinstance(name, str):
        raise _refuse("wrong_type", "name", f"the signal name must be a str, got {type(name).__name__}")
    envelope._text(name, "name")
    n = len(name.encode("utf-8"))
    if not 1 <= n <= 200 or "$" in name:
        raise _refuse("bad_value", "name", "the signal name must be 1-200 bytes without '$'")
    return name


def payload_json(payload: Any) -> Optional[str]:
    """The payload as JSON text (None: no payload). A str is sent as a JSON string; pass
    ``json_text=`` to :meth:`Client.signal` to send JSON you already encoded."""
    if payload is None:
        return None
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise _refuse("wrong_type", "payload", f"the payload must be JSON-serialisable: {e}") from None
    return text


def build(op: str, workflow_class: Union[str, type], key: str, *, prefix: str,
          id: Optional[str] = None, reply: bool = True, by: Optional[str] = None,
          name: Optional[str] = None, payload: Optional[str] = None,
          reason: Optional[str] = None, now: Optional[float] = None) -> Tuple[str, bytes]:
    """Returns ``(request id, request bytes)``; raises InvalidJob for what a worker would refuse."""
    rid = request_id(id)
    req: Dict[str, Any] = {"v": VERSION, "id": rid, "op": op,
                           "class": envelope.class_name(workflow_class),
                           "key": envelope.check_key(key)}
    if reply:
        req["reply"] = f"{prefix}:reply:{rid}"
    req["sent_at"] = float(time.time() if now is None else now)
    if by is not None:
        req["by"] = envelope.check_requester(by, "by", 1, 256)
    if name is not None:
        req["name"] = _name(name)
    if payload is not None:
        envelope._text(payload, "payload")
        if len(payload.encode("utf-8")) > PAYLOAD_MAX_BYTES:
            raise _refuse("too_large", "payload", f"the payload is over {PAYLOAD_MAX_BYTES} bytes of JSON")
        req["payload"] = payload
    if reason is not None:
        req["reason"] = envelope.check_requester(reason, "reason", 0, 1024)
    return rid, msgpack.packb(req, use_bin_type=True)


def parse_reply(data: bytes) -> ControlResult:
    reply = msgpack.unpackb(data, raw=False)
    if not isinstance(reply, dict) or reply.get("outcome") not in ("accepted", "refused"):
        raise ValueError(f"not a control reply: {data!r}")
    return ControlResult(reply["outcome"], str(reply.get("id", "")), reply.get("code"),
                         reply.get("reason"))
