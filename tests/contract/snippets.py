#!/usr/bin/python3
"""tests/contract/snippets.py: the "Producing jobs" snippets run as shown, and their workflows
complete.

    /usr/bin/python3 tests/contract/snippets.py [MARKDOWN] [--decoder PATH] [--bin PATH]

Takes the ```ruby, ```python and ```bash blocks of the "Producing jobs" section (README.md when it
has one, else clients/README.md), points them at CF_TEST_REDIS_URL under a fresh prefix (the
only edits: the Redis URL, the prefix, and redis-cli's connection flags), runs each, and checks
that each exited 0 and that every envelope it left in Redis decodes (with the C decoder when
given) to a class and key the snippet names. Then, end to end, when the chronoforge binary
(--bin, default $CF_BIN) and Postgres (CF_TEST_PG_ADMIN_DSN) are there: a worker on that prefix
and a fresh database must complete every workflow the snippet put on a ready list (delayed ones
are not due yet). Prints `snippets: N passed, M failed`.

Under a Redis Cluster (CF_TEST_REDIS_CLUSTER=1, CF_TEST_REDIS_URL a redis+cluster:// URL) every
snippet runs against the cluster (redis-cli gets -c); the snippets written for a cluster (they
name CLUSTER_URL or CLUSTER_CLI) have those replaced and run only there, and are skipped, saying
so, on a single Redis.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from chronoforge import redis_url  # noqa: E402

# What the README's cluster snippets connect to.
CLUSTER_URL = "redis+cluster://:secret@10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379"
CLUSTER_CLI = "redis-cli -c -h 10.0.0.1 -p 6379"
RUNNERS = {"ruby": ["/usr/bin/ruby", "-I", os.path.join(ROOT, "clients/ruby/lib")],
           "python": ["/usr/bin/python3"], "bash": ["bash", "-eo", "pipefail"]}


def section(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^## Producing jobs\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return m.group(1) if m else None


E2E_DEADLINE_S = 120  # a deadline for a stuck test, not a timing assertion


class Store:
    """A fresh, migrated database on the test Postgres, read with psql."""

    def __init__(self, binary):
        self.admin = os.environ["CF_TEST_PG_ADMIN_DSN"]
        self.name = f"cf_snippets_{os.getpid()}_{secrets.token_hex(3)}"
        subprocess.run(["psql", self.admin, "-qAtc", f"CREATE DATABASE {self.name}"], check=True,
                       capture_output=True)
        self.dsn = re.sub(r"dbname=\S+", f"dbname={self.name}", self.admin)
        subprocess.run([binary, "migrate"], check=True, capture_output=True,
                       env=dict(os.environ, CHRONOFORGE_DATABASE_URL=self.dsn))

    def states(self):
        out = subprocess.run(["psql", self.dsn, "-qAt", "-F", "\t", "-c",
                              "SELECT job_class, key, state FROM chrono_forge_workflows"],
                             check=True, capture_output=True, text=True).stdout
        return {(c, k): st for c, k, st in (line.split("\t") for line in out.splitlines() if line)}

    def drop(self):
        subprocess.run(["psql", self.admin, "-qAtc", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"],
                       capture_output=True)


def run_worker_until_done(binary, store, url, prefix, expected, logdir):
    """Runs a worker until every (class, key) in expected is completed; returns problems."""
    log_path = os.path.join(logdir, f"worker-{prefix.replace(':', '_')}.log")
    # One executor, so envelopes run in push order: the snippets' retry_later comes after the
    # enqueue of the same workflow. (A retry_workflow envelope taken first never creates the
    # workflow: it is acked as not_executable state=none, and the snippet's check would miss it.)
    env = dict(os.environ, CHRONOFORGE_REDIS_URL=url, CHRONOFORGE_DATABASE_URL=store.dsn,
               CHRONOFORGE_PREFIX=prefix, CHRONOFORGE_CONCURRENCY="1")
    with open(log_path, "w") as log:
        worker = subprocess.Popen([binary, "worker"], stdout=log, stderr=subprocess.STDOUT, env=env)
    problems = []
    deadline = time.monotonic() + E2E_DEADLINE_S
    states = {}
    while time.monotonic() < deadline and worker.poll() is None:
        states = store.states()
        if all(states.get(w) == "completed" for w in expected):
            break
        time.sleep(0.1)
    if worker.poll() is not None:
        problems.append(f"the worker exited {worker.returncode}")
    pending = {f"{c}/{k}": states.get((c, k), "absent") for c, k in expected if states.get((c, k)) != "completed"}
    if pending:
        problems.append(f"not completed: {pending}")
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        problems.append("the worker did not drain within 30 s of SIGTERM")
    log = open(log_path, encoding="utf-8", errors="replace").read()
    for needle in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        if needle in log:
            problems.append(f"sanitizer report in {log_path}")
    if worker.returncode not in (0, None) and not problems:
        problems.append(f"the worker exited {worker.returncode} after SIGTERM (log {log_path})")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("markdown", nargs="?")
    ap.add_argument("--decoder", default=os.environ.get("CF_DECODE_VECTORS", ""))
    ap.add_argument("--bin", default=os.environ.get("CF_BIN", ""))
    args = ap.parse_args()
    url = os.environ.get("CF_TEST_REDIS_URL", "")
    if not url:
        if os.environ.get("CF_TEST_REQUIRE_SERVICES") == "1":
            print("FAIL CF_TEST_REDIS_URL is not set\nsnippets: 0 passed, 1 failed")
            return 1
        print("SKIP CF_TEST_REDIS_URL is not set\nsnippets: 0 passed, 0 failed")
        return 0
    paths = [args.markdown] if args.markdown else [os.path.join(ROOT, "README.md"),
                                                   os.path.join(ROOT, "clients", "README.md")]
    path, body = next(((p, section(p)) for p in paths if os.path.exists(p) and section(p)), (None, None))
    if body is None:
        print(f"FAIL no '## Producing jobs' section in {paths}\nsnippets: 0 passed, 1 failed")
        return 1
    blocks = re.findall(r"```(ruby|python|bash)\n(.*?)```", body, re.S)
    on_cluster = url.startswith(redis_url.CLUSTER_SCHEME)
    if on_cluster:
        nodes, opts = redis_url.parse_cluster(url)
        cli = f"redis-cli -c -h {nodes[0][0]} -p {nodes[0][1]}"
        password = opts.get("password", "")
    else:
        u = urllib.parse.urlparse(url)
        cli = f"redis-cli -h {u.hostname} -p {u.port} -n {u.path.strip('/') or 0}"
        password = urllib.parse.unquote(u.password or "")
    env = dict(os.environ, REDISCLI_AUTH=password,
               PYTHONPATH=os.path.join(ROOT, "clients", "python"), PYTHONDONTWRITEBYTECODE="1")
    r = redis_url.connect(url)
    passed = failed = 0
    print(f"snippets from {os.path.relpath(path, ROOT)}: {', '.join(lang for lang, _ in blocks)}")
    store = None
    if args.bin and os.access(args.bin, os.X_OK) and os.environ.get("CF_TEST_PG_ADMIN_DSN"):
        store = Store(args.bin)
        logdir = tempfile.mkdtemp(prefix="cf-snippets-")
        print(f"end to end: {args.bin}, database {store.name}, worker logs in {logdir}")
    elif os.environ.get("CF_TEST_REQUIRE_SERVICES") == "1":
        print(f"FAIL end to end: no chronoforge binary (--bin/CF_BIN: {args.bin or 'unset'}) or no Postgres")
        failed += 1
    else:
        print("SKIP end to end: no chronoforge binary (CF_BIN) or no Postgres (CF_TEST_PG_ADMIN_DSN)")
    for i, (lang, code) in enumerate(blocks):
        for_cluster = CLUSTER_URL in code or CLUSTER_CLI in code
        if for_cluster and not on_cluster:
            print(f"SKIP snippet {i + 1} ({lang}): written for a Redis Cluster (CF_TEST_REDIS_URL is one Redis)")
            continue
        prefix = f"cf:snippet:{os.getpid()}:{secrets.token_hex(3)}"
        code = (code.replace("redis://127.0.0.1:6379/0", url).replace(CLUSTER_URL, url)
                .replace(CLUSTER_CLI + " ", "redis-cli ")
                .replace('"chronoforge"', f'"{prefix}"')
                .replace("chronoforge:", f"{prefix}:")
                .replace("redis-cli ", cli + " "))
        with tempfile.NamedTemporaryFile("w", suffix="." + lang, delete=False) as f:
            f.write(code)
        p = subprocess.run(RUNNERS[lang] + [f.name], capture_output=True, text=True, env=env, cwd=ROOT)
        os.unlink(f.name)
        problems = []
        if p.returncode != 0:
            problems.append(f"exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        keys = list(r.scan_iter(match=f"{prefix}:*"))
        blobs, ready = [], []
        for k in keys:
            kind = r.type(k)
            if kind == b"list":
                items = r.lrange(k, 0, -1)
                blobs += items
                ready += items
            elif kind == b"zset":
                blobs += r.zrange(k, 0, -1)
        if not blobs:
            problems.append("left no envelope in Redis")
        decoded = []
        if args.decoder and os.access(args.decoder, os.X_OK):
            out = subprocess.run([args.decoder], input="".join(b.hex() + "\n" for b in blobs),
                                 capture_output=True, text=True).stdout.splitlines()
            for line in out:
                if not line.startswith("{"):
                    problems.append(f"the C decoder refused an envelope: {line}")
                else:
                    decoded.append(json.loads(line))
        else:
            decoded = [msgpack.unpackb(b) for b in blobs]
        for d in decoded:  # every envelope is one the snippet names (class and key appear in it)
            if d["class"] not in code or d["key"] not in code:
                problems.append(f"unexpected envelope {d['class']}/{d['key']}")
        if store is not None and not problems:
            envs = [msgpack.unpackb(b) for b in ready]
            expected = {(e["class"], e["key"]) for e in envs if not e.get("retry_workflow")}
            problems += run_worker_until_done(args.bin, store, url, prefix, expected, logdir)
        for k in list(r.scan_iter(match=f"{prefix}:*")):
            r.delete(k)  # one at a time: on a cluster they hash to different slots
        what = f"snippet {i + 1} ({lang}, {len(blobs)} envelopes{', run by a worker' if store else ''})"
        if problems:
            failed += 1
            print(f"FAIL {what}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok {what}")
    if store is not None:
        store.drop()
        if failed == 0:
            shutil.rmtree(logdir, ignore_errors=True)
    print(f"snippets: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
