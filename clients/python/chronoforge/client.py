"""The producer: enqueues chronoforge workflows straight into Redis (SPEC §2)."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import redis as redis_lib

from . import control, envelope, redis_url
from .control import ControlResult
from .envelope import Duration, InvalidJob, When

DEFAULT_PREFIX = "chronoforge"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Job:
    """One job for :meth:`Client.enqueue_many`; the fields mean what enqueue's arguments mean."""

    workflow_class: Union[str, type]
    key: str
    kwargs: Optional[Mapping[str, Any]] = None
    queue: str = "default"
    delay: Optional[Duration] = None
    at: Optional[When] = None
    options: Optional[Mapping[str, Any]] = field(default=None)


@dataclass(frozen=True)
class _Prepared:
    jid: str
    queue: str
    data: bytes
    due_ms: Optional[int]


class Client:
    """Pushes envelopes into Redis: ``SADD P:queues Q`` then ``LPUSH P:{Q}:ready ENVELOPE``, or
    ``ZADD P:{Q}:scheduled DUE_MS ENVELOPE`` for a delayed first run.

    ``redis`` is a Redis URL (``redis+cluster://host1:port1,host2:port2`` for a Redis Cluster) or
    an existing ``redis.Redis`` or ``redis.cluster.RedisCluster`` (it must not use
    ``decode_responses=True`` for anything else you read through it: envelopes are bytes);
    ``prefix`` is the deployment's key prefix (the worker's ``--prefix``). On a cluster the same
    commands go one by one (see ``_push_to_cluster``).
    """

    def __init__(self, redis: Union[str, "redis_lib.Redis", None] = None,
                 prefix: Optional[str] = None, *,
                 max_envelope_bytes: int = envelope.MAX_BYTES) -> None:
        if redis is None:
            redis = os.environ.get("CHRONOFORGE_REDIS_URL", DEFAULT_REDIS_URL)
        if isinstance(redis, str):
            self.redis = redis_url.connect(redis)
        elif hasattr(redis, "pipeline"):
            self.redis = redis
        else:
            raise TypeError(f"redis must be a Redis URL or a redis.Redis, got {type(redis).__name__}")
        if prefix is None:
            prefix = os.environ.get("CHRONOFORGE_PREFIX", DEFAULT_PREFIX)
        if not isinstance(prefix, str) or not 1 <= len(prefix.encode("utf-8", "replace")) <= 128 \
                or re.search(r"[{}\0]", prefix):
            raise ValueError(f"prefix must be 1-128 bytes without braces or NUL, got {prefix!r}")
        self.prefix = prefix
        self.max_envelope_bytes = max_envelope_bytes
        self.cluster = redis_url.is_cluster(self.redis)

    def ready_key(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:ready"

    def scheduled_key(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:scheduled"

    @property
    def queues_key(self) -> str:
        return f"{self.prefix}:queues"

    def enqueue(self, workflow_class: Union[str, type], key: str,
                kwargs: Optional[Mapping[str, Any]] = None, *, queue: str = "default",
                delay: Optional[Duration] = None, at: Optional[When] = None,
                options: Optional[Mapping[str, Any]] = None) -> str:
        """Enqueues one run of ``workflow_class`` for ``key`` and returns its jid (24 hex chars).

        ``kwargs`` is one dict (so a workflow may have an argument named ``queue``). ``delay``
        (seconds, a timedelta or a duration str like ``"30s"``) or ``at`` (an aware datetime,
        Unix seconds or an ISO-8601 str) delay the first run. Raises :class:`InvalidJob` (a
        ValueError; :class:`InvalidJobType`, also a TypeError, for wrong types) for anything the
        worker would refuse, before talking to Redis.
        """
        job = self._prepare(Job(workflow_class, key, kwargs, queue, delay, at, options))
        self._push([job])
        return job.jid

    def enqueue_many(self, jobs: Iterable[Union[Job, Mapping[str, Any]]]) -> List[str]:
        """Enqueues many jobs in one round trip and returns their jids in order. Each job is a
        :class:`Job` or a dict with the same keys. Every job is checked before anything is sent.
        Not atomic: if the connection breaks midway some jobs may have been enqueued; enqueueing
        them again is harmless, because a workflow is identified by its class and key."""
        prepared = []
        for i, job in enumerate(jobs):
            if isinstance(job, Mapping):
                try:
                    job = Job(**job)
                except TypeError as e:
                    raise TypeError(f"jobs[{i}]: {e}") from None
            elif not isinstance(job, Job):
                raise TypeError(f"jobs[{i}] must be a Job or a dict, got {type(job).__name__}")
            try:
                prepared.append(self._prepare(job))
            except InvalidJob as e:
                raise type(e)(e.code, e.field, f"jobs[{i}]: {e.detail}") from None
        if prepared:
            self._push(prepared)
        return [p.jid for p in prepared]

    def retry_later(self, workflow_class: Union[str, type], key: str, *, queue: str = "default",
                    requested_by: Optional[str] = None, reason: Optional[str] = None) -> str:
        """Asks the worker to resume a stalled or failed workflow (SPEC §4): pushes an envelope
        with ``retry_workflow: true``. The worker decides; a workflow that is not retryable is
        left as is. ``requested_by`` (who asks; the worker records "retry_later" without it) and
        ``reason`` go into the workflow's ``$workflow_retry$`` row. Returns the jid."""
        jid, data = envelope.build(workflow_class, key, queue=queue, retry_workflow=True,
                                   requested_by=requested_by, reason=reason,
                                   max_bytes=self.max_envelope_bytes)
        self._push([_Prepared(jid, queue, data, None)])
        return jid

    def signal(self, workflow_class: Union[str, type], key: str, name: str, payload: Any = None, *,
               id: Optional[str] = None, queue: str = "default", by: Optional[str] = None,
               json_text: Optional[str] = None, timeout: float = 5.0) -> ControlResult:
        """Sends the signal ``name`` to the workflow (SPEC §2, control requests; §4, signals) and
        waits up to ``timeout`` seconds for a worker's answer: accepted (stored in Postgres; the
        workflow's ``cf_await_signal`` of that name takes it), refused (``code``:
        ``unknown_workflow``, ``finished``, ...) or pending (no worker answered yet; it stays
        queued). ``payload`` is any JSON-serialisable value (or pass ``json_text=``), at most
        64 KiB as JSON. ``id`` (random when absent) makes a resend count once. ``queue`` is the
        workflow's queue."""
        if json_text is not None and payload is not None:
            raise envelope.InvalidJob("bad_value", "payload", "give payload= or json_text=, not both")
        text = json_text if json_text is not None else control.payload_json(payload)
        rid, data = control.build("signal", workflow_class, key, prefix=self.prefix, id=id, by=by,
                                  name=name, payload=text)
        return self._control(envelope.queue_name(queue), rid, data, timeout)

    def cancel(self, workflow_class: Union[str, type], key: str, *, reason: Optional[str] = None,
               id: Optional[str] = None, queue: str = "default", by: Optional[str] = None,
               timeout: float = 5.0) -> ControlResult:
        """Asks the fleet to cancel the workflow (a control request with op ``cancel``) and waits
        up to ``timeout`` seconds: accepted, refused (e.g. it has finished) or pending."""
        rid, data = control.build("cancel", workflow_class, key, prefix=self.prefix, id=id, by=by,
                                  reason=reason)
        return self._control(envelope.queue_name(queue), rid, data, timeout)

    def control_key(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:control"

    def reply_key(self, request_id: str) -> str:
        return f"{self.prefix}:reply:{request_id}"

    def _control(self, queue: str, rid: str, data: bytes, timeout: float) -> ControlResult:
        self.redis.lpush(self.control_key(queue), data)
        got = self.redis.brpop([self.reply_key(rid)], timeout=max(timeout, 0.001))
        if got is None:
            return ControlResult("pending", rid)
        return control.parse_reply(got[1])

    def build_envelope(self, workflow_class: Union[str, type], key: str,
                       kwargs: Optional[Mapping[str, Any]] = None, *, queue: str = "default",
                       options: Optional[Mapping[str, Any]] = None) -> "tuple[str, bytes]":
        """The ``(jid, bytes)`` enqueue would push. For tests and tools."""
        return envelope.build(workflow_class, key, kwargs, queue=queue, options=options,
                              max_bytes=self.max_envelope_bytes)

    def _prepare(self, job: Job) -> _Prepared:
        if job.delay is not None and job.at is not None:
            raise envelope.InvalidJob("bad_value", "at", "give delay= or at=, not both")
        due_ms: Optional[int] = None
        if job.delay is not None:
            due_ms = time.time_ns() // 1_000_000 + round(envelope.delay_seconds(job.delay) * 1000)
        elif job.at is not None:
            due_ms = envelope.at_ms(job.at)
        jid, data = envelope.build(job.workflow_class, job.key, job.kwargs, queue=job.queue,
                                   options=job.options, max_bytes=self.max_envelope_bytes)
        return _Prepared(jid, job.queue, data, due_ms)

    def _push(self, jobs: List[_Prepared]) -> None:
        queues: Dict[str, None] = dict.fromkeys(p.queue for p in jobs)
        if self.cluster:
            self._push_to_cluster(list(queues), jobs)
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.queues_key, *queues)
        for p in jobs:
            if p.due_ms is not None:
                pipe.zadd(self.scheduled_key(p.queue), {p.data: p.due_ms})
            else:
                pipe.lpush(self.ready_key(p.queue), p.data)
        pipe.execute()

    def _push_to_cluster(self, queues: List[str], jobs: List[_Prepared]) -> None:
        """On a Redis Cluster ``P:queues`` and each queue's keys (one slot per queue, SPEC §2)
        may sit on different nodes. SADD first (a queue is registered before anything is pushed
        to it, as in the pipeline), then one variadic LPUSH (the same order as one LPUSH per
        job) or ZADD per queue. Each command touches one slot and is atomic, so RedisCluster's
        MOVED/ASK handling re-sends a whole command or nothing. Round trips: 1 + one or two per
        queue, where a pipeline takes one."""
        self.redis.sadd(self.queues_key, *queues)
        ready: Dict[str, List[bytes]] = {}
        scheduled: Dict[str, Dict[bytes, int]] = {}
        for p in jobs:
            if p.due_ms is not None:
                scheduled.setdefault(p.queue, {})[p.data] = p.due_ms
            else:
                ready.setdefault(p.queue, []).append(p.data)
        for queue, items in ready.items():
            self.redis.lpush(self.ready_key(queue), *items)
        for queue, members in scheduled.items():
            self.redis.zadd(self.scheduled_key(queue), members)
