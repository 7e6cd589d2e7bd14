#!/usr/bin/python3
"""tests/contract/python_producer.py: runs the job vectors through the Python client.

    /usr/bin/python3 python_producer.py VECTORS.jsonl...   (CF_TEST_REDIS_URL set: through Redis)

Writes one JSON line per job vector: {"name", "hex", "jid"} for an enqueued job (the bytes as read
back from Redis, or as built when there is no Redis), {"name", "refused": {code, field, message,
kind}} for a local refusal, or {"name", "error"} for anything else. Invalid jobs are given a
client whose Redis raises on use, which proves the refusal happens before any I/O.
"""

import datetime
import json
import os
import secrets
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

from chronoforge import Client, InvalidJob, redis_url  # noqa: E402
from chronoforge import envelope  # noqa: E402


class NoRedis:
    """A Redis stand-in that fails the vector if the client talks to it."""

    def pipeline(self, *args, **kwargs):
        raise AssertionError("the client used Redis before refusing the job")


def materialize(value):
    if isinstance(value, list):
        return [materialize(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            tag, arg = next(iter(value.items()))
            if tag == "$bytes":
                return bytes.fromhex(arg)
            if tag == "$badutf8":
                return bytes.fromhex(arg).decode("utf-8", "surrogateescape")
            if tag == "$float":
                return float(arg)
            if tag == "$time":
                return datetime.datetime.fromtimestamp(arg, datetime.timezone.utc)
            if tag == "$repeat":
                return arg[0] * arg[1]
            if tag == "$nestmap":
                out = materialize(arg[2])
                for _ in range(arg[0]):
                    out = {arg[1]: out}
                return out
            if tag == "$nest":
                out = materialize(arg[1])
                for _ in range(arg[0]):
                    out = [out]
                return out
        return {k: materialize(v) for k, v in value.items()}
    return value


def call(client, job):
    extra = {"queue": job["queue"]} if "queue" in job else {}
    if job.get("retry_workflow"):
        return client.retry_later(job["class"], job["key"], **extra)
    if "options" in job:
        extra["options"] = job["options"]
    args = [job["kwargs"]] if "kwargs" in job else []
    return client.enqueue(job["class"], job["key"], *args, **extra)


def main(paths):
    url = os.environ.get("CF_TEST_REDIS_URL", "")
    r = redis_url.connect(url) if url else None  # a redis+cluster:// URL gives a RedisCluster
    prefix = f"cf:contract:py:{os.getpid()}:{secrets.token_hex(3)}"
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                vec = json.loads(line)
                if "job" not in vec:
                    continue
                job = materialize(vec["job"])
                out = {"name": vec["name"]}
                try:
                    if "refuse" in vec:
                        call(Client(NoRedis(), prefix), job)
                        out["error"] = "accepted an invalid job"
                    elif r is not None:
                        client = Client(r, prefix)
                        jid = call(client, job)
                        queue = job.get("queue", "default")
                        items = r.lrange(client.ready_key(queue), 0, -1)
                        queues = r.smembers(client.queues_key)
                        for k in (client.ready_key(queue), client.queues_key):  # two slots on a cluster
                            r.delete(k)
                        if len(items) != 1:
                            raise AssertionError(f"expected 1 envelope in {client.ready_key(queue)}, found {len(items)}")
                        if queues != {queue.encode()}:
                            raise AssertionError(f"queue {queue} not registered in {client.queues_key}: {queues}")
                        out.update(hex=items[0].hex(), jid=jid)
                    else:
                        jid, data = envelope.build(job["class"], job["key"], job.get("kwargs"),
                                                   queue=job.get("queue", "default"), options=job.get("options"),
                                                   retry_workflow=bool(job.get("retry_workflow")))
                        out.update(hex=data.hex(), jid=jid)
                except InvalidJob as e:
                    kind = "TypeError" if isinstance(e, TypeError) else "ValueError"
                    out["refused"] = {"code": e.code, "field": e.field, "message": str(e), "kind": kind}
                except Exception as e:  # reported, and counted as a failure by check.py
                    out["error"] = f"{type(e).__name__}: {e}"
                print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
