#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tests/chaos/chaos.py: Redis and ledger helpers for tests/chaos/run.sh.

  chaos.py enqueue N LEDGER          push N Exerciser envelopes (prints the expected ledger lines)
  chaos.py inflight [PID]            envelopes in flight of the worker with that pid (all: no pid)
  chaos.py redis-state               ready (+ due), scheduled, in-flight, locks, held, dead, workers (JSON)
  chaos.py ledger N LEDGER           attempts beyond the expected ones, duplicates, missing (JSON)

Connection and prefix come from CHRONOFORGE_REDIS_URL and CHRONOFORGE_PREFIX. Raw bytes are
kept (no decode_responses): envelopes are msgpack. Workflow i is "chaos-<i>"; its kwargs follow
from i alone (kwargs_for), so the ledger check can recompute what each one should have run."""
import collections
import json
import os
import secrets
import sys

import msgpack
import redis

QUEUE = "default"
STEPS = 5


def kwargs_for(i, ledger):
    kw = {"steps": STEPS, "ledger": ledger, "sleep_ms": 5, "step_backoff_ms": 50}
    if i % 5 == 1:
        kw["fail_first"] = 1
    if i % 7 == 3:
        kw["wait_ms"] = 300
    return kw


def expected_attempts(i):
    """Ledger lines a workflow writes when nothing goes wrong: each step runs fail_first + 1 times."""
    return STEPS * (1 + (1 if i % 5 == 1 else 0))


def conn():
    return redis.Redis.from_url(os.environ["CHRONOFORGE_REDIS_URL"])


def prefix():
    return os.environ.get("CHRONOFORGE_PREFIX", "chronoforge")


def qkey(name):
    return f"{prefix()}:{{{QUEUE}}}:{name}"


def scan(r, pattern):
    return list(r.scan_iter(match=pattern, count=1000))


def enqueue(n, ledger):
    r = conn()
    r.sadd(f"{prefix()}:queues", QUEUE)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        env = {"v": 1, "jid": secrets.token_hex(12), "class": "Exerciser", "key": f"chaos-{i}",
               "kwargs": kwargs_for(i, ledger), "queue": QUEUE}
        pipe.lpush(qkey("ready"), msgpack.packb(env))
        if len(pipe) >= 500:
            pipe.execute()
    pipe.execute()
    print(sum(expected_attempts(i) for i in range(n)))


def inflight(pid):
    r = conn()
    total = 0
    for wid in r.zrange(f"{prefix()}:workers", 0, -1):
        w = wid.decode()
        if pid is None or f":{pid}:" in w:
            total += r.llen(qkey(f"inflight:{w}"))
    if pid is None:  # also the lists of workers already gone from P:workers
        total = sum(r.llen(k) for k in scan(r, qkey("inflight:*")))
    print(total)


def redis_state():
    r = conn()
    inflight_keys = scan(r, qkey("inflight:*"))
    state = {
        "ready": r.llen(qkey("ready")) + r.llen(qkey("due")),  # due: promoted wakes, also ready
        "scheduled": r.zcard(qkey("scheduled")),
        "inflight": sum(r.llen(k) for k in inflight_keys),
        "inflight_lists": len(inflight_keys),
        "locks": len(scan(r, f"{prefix()}:lock:*")),
        "held": len(scan(r, f"{prefix()}:held:*")),
        "dead": r.llen(qkey("dead")),
        "workers": r.zcard(f"{prefix()}:workers"),
    }
    print(json.dumps(state, sort_keys=True))


def ledger(n, path):
    seen = collections.Counter()
    lines = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, step, attempt = line.split()
            seen[(key, step, int(attempt))] += 1
            lines += 1
    expected = sum(expected_attempts(i) for i in range(n))
    missing = []
    for i in range(n):
        tries = 1 + (1 if i % 5 == 1 else 0)
        for s in range(1, STEPS + 1):
            for a in range(1, tries + 1):
                if seen[(f"chaos-{i}", f"step_{s}", a)] == 0:
                    missing.append(f"chaos-{i} step_{s} {a}")
    dups = sum(c - 1 for c in seen.values() if c > 1)
    print(json.dumps({"lines": lines, "expected": expected, "reruns": lines - expected,
                      "duplicate_attempts": dups, "missing": len(missing),
                      "missing_sample": missing[:10]}, sort_keys=True))


def main(argv):
    if len(argv) >= 3 and argv[0] == "enqueue":
        enqueue(int(argv[1]), argv[2])
    elif argv and argv[0] == "inflight":
        inflight(argv[1] if len(argv) > 1 else None)
    elif argv == ["redis-state"]:
        redis_state()
    elif len(argv) == 3 and argv[0] == "ledger":
        ledger(int(argv[1]), argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
