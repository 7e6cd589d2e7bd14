#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tests/cluster/faults.py: the Redis Cluster fault run behind tests/cluster/faults.sh.

    /usr/bin/python3 tests/cluster/faults.py BIN

A throwaway Postgres and 6-node Redis Cluster (deploy/services.sh start --redis-cluster); W
`BIN worker` processes on three queues whose slots sit on three different masters; N Exerciser
workflows (tests/chaos/chaos.py's kwargs: 5 steps, a ledger, every 5th fails each step's first
attempt, every 7th has a durable wait), enqueued through the Python client into the cluster.
Under load: (a) the master serving queue A is SIGKILLed; its replica takes over; once queue A
completes again the old master is restarted and rejoins as a replica. (b) queue B's slot is moved
to another master by hand, as `redis-cli --cluster reshard` does (SETSLOT IMPORTING/MIGRATING,
MIGRATE key by key, the ready list first and held there until a worker has followed an ASK,
then SETSLOT NODE, after which stale maps get MOVED). Then it checks: every workflow completed,
every step once in the store, every expected step attempt ran, re-runs and duplicate attempts
within the envelopes in flight at the kill (writes the failover lost, which healing redelivers),
Redis left with nothing stranded, ASK and MOVED followed, the workers drain with exit 0 and no
sanitizer report. Prints the figures and a last line `cluster-faults: N passed, M failed`.
Knobs: FAULTS_WORKFLOWS (2000), FAULTS_WORKERS (3), FAULTS_CONCURRENCY (8), FAULTS_DEADLINE
(seconds for the workflows to complete, 360), FAULTS_KILL_AT and FAULTS_MOVE_AT (percent
completed when the fault strikes, 25 and 55). The scratch dir is kept when a check fails.
"""
import contextlib
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "chaos"))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

import redis  # noqa: E402

import chaos  # noqa: E402  (the Exerciser kwargs and the ledger check)
from chronoforge import Client, Job  # noqa: E402

logging.getLogger("redis.cluster").setLevel(logging.CRITICAL)  # redis-py logs every redirect it follows
SERVICES = os.path.join(ROOT, "deploy", "services.sh")
PREFIX = "cfc"
N = int(os.environ.get("FAULTS_WORKFLOWS", "2000"))
W = int(os.environ.get("FAULTS_WORKERS", "3"))
CONC = int(os.environ.get("FAULTS_CONCURRENCY", "8"))
DEADLINE = float(os.environ.get("FAULTS_DEADLINE", "360"))
KILL_AT = int(os.environ.get("FAULTS_KILL_AT", "25"))
MOVE_AT = int(os.environ.get("FAULTS_MOVE_AT", "55"))
T0 = time.monotonic()


def log(msg):
    print(f"[cluster-faults {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def services(*args):
    return subprocess.run([SERVICES, *args], check=True, capture_output=True, text=True).stdout


def psql(sql):
    out = subprocess.run(["psql", "-qAtX", os.environ["CF_TEST_PG_DSN"], "-c", sql],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


class Cluster:
    """The nodes by port: raw connections for CLUSTER commands, and the cluster client."""

    def __init__(self, ports, password):
        self.ports = ports
        self.password = password
        self.rc = redis.cluster.RedisCluster(host="127.0.0.1", port=ports[0], password=password)

    def node(self, port):
        return redis.Redis(host="127.0.0.1", port=port, password=self.password, socket_timeout=5)

    def nodes_text(self):
        for p in self.ports:
            try:
                # "CLUSTER", "NODES" apart: redis-py keeps the text as it is.
                return self.node(p).execute_command("CLUSTER", "NODES").decode()
            except redis.RedisError:
                continue
        raise RuntimeError("no cluster node answers")

    def masters(self):
        """{port: (node id, [(lo, hi), ...])} of the masters serving slots, as a live node sees them."""
        out = {}
        for line in self.nodes_text().splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
                ranges = [tuple(int(x) for x in (r.split("-") * 2)[:2]) for r in f[8:] if not r.startswith("[")]
                out[int(f[1].split("@")[0].rsplit(":", 1)[1])] = (f[0], ranges)
        return out

    def owner(self, queue):
        slot = self.rc.keyslot(f"{{{queue}}}")
        return next(p for p, (_, rs) in self.masters().items() if any(lo <= slot <= hi for lo, hi in rs))

    def role(self, port):
        try:
            info = self.node(port).info("replication")
        except redis.RedisError:
            return None
        return info.get("role"), info.get("master_link_status")


def pick_queues(cl):
    """Three queue names whose slots sit on three different masters."""
    by_master = {}
    for i in range(1, 1000):
        q = f"q{i}"
        by_master.setdefault(cl.owner(q), q)
        if len(by_master) == 3:
            return [by_master[p] for p in sorted(by_master)]
    raise RuntimeError("no three queues on three masters")


def enqueue(queues, ledger):
    client = Client(os.environ["CHRONOFORGE_REDIS_URL"], PREFIX)
    jobs = [Job("Exerciser", f"chaos-{i}", chaos.kwargs_for(i, ledger), queue=queues[i % len(queues)])
            for i in range(N)]
    for at in range(0, N, 500):
        client.enqueue_many(jobs[at:at + 500])
    client.redis.close()
    return sum(chaos.expected_attempts(i) for i in range(N))


def key(queue, name):
    return f"{PREFIX}:{{{queue}}}:{name}"


def inflight(cl, queues):
    return sum(cl.rc.llen(k) for q in queues for k in cl.rc.scan_iter(match=key(q, "inflight:*"), count=1000))


def redis_state(cl, queues):
    rc = cl.rc
    scan = lambda pattern: list(rc.scan_iter(match=pattern, count=1000))  # noqa: E731
    return {
        "ready": sum(rc.llen(key(q, "ready")) + rc.llen(key(q, "due")) for q in queues),
        "scheduled": sum(rc.zcard(key(q, "scheduled")) for q in queues),
        "inflight": inflight(cl, queues),
        "locks": len(scan(f"{PREFIX}:lock:*")),
        "held": len(scan(f"{PREFIX}:held:*")),
        "dead": sum(rc.llen(key(q, "dead")) for q in queues),
        "workers": rc.zcard(f"{PREFIX}:workers"),
    }


def completed_by_queue():
    out = psql("SELECT queue, count(*) FROM chrono_forge_workflows WHERE state = 'completed' GROUP BY queue")
    if out is None:
        return None
    return {q: int(c) for q, c in (line.split("|") for line in out.splitlines() if line)}


def redirects(ports):
    """Sum of the workers' MOVED and ASK counters (their /metrics)."""
    total = {"moved": 0, "ask": 0, "map_loads": 0}
    for p in ports:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{p}/metrics", timeout=5).read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith('chronoforge_redis_cluster_redirects_total{kind="moved"}'):
                total["moved"] += int(line.split()[-1])
            elif line.startswith('chronoforge_redis_cluster_redirects_total{kind="ask"}'):
                total["ask"] += int(line.split()[-1])
            elif line.startswith("chronoforge_redis_cluster_slot_map_loads_total"):
                total["map_loads"] += int(line.split()[-1])
    return total


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Run:
    def __init__(self, binary, scratch):
        self.bin = binary
        self.dir = scratch
        self.workers = []
        self.checks = []  # (ok, what)
        self.t_all_done = float("inf")
        self.kill = None
        self.move = None
        self.history = []  # (t, {queue: completed})

    def check(self, ok, what):
        self.checks.append((bool(ok), what))
        log(("ok    " if ok else "FAIL  ") + what)

    def start_workers(self, queues):
        self.metrics_ports = free_ports(W)
        env = dict(os.environ, CHRONOFORGE_PREFIX=PREFIX, CHRONOFORGE_TEST_WORKFLOWS="1",
                   CHRONOFORGE_LEASE="2s", CHRONOFORGE_HEARTBEAT="300ms", CHRONOFORGE_PROMOTE_INTERVAL="20ms",
                   CHRONOFORGE_BUSY_RECHECK="200ms", CHRONOFORGE_MAX_DURATION="30s",
                   CHRONOFORGE_SHUTDOWN_GRACE="10s", CHRONOFORGE_SWEEP_GRACE="3s",
                   CHRONOFORGE_CONCURRENCY=str(CONC), CHRONOFORGE_QUEUES=",".join(queues))
        for i, port in enumerate(self.metrics_ports):
            with open(os.path.join(self.dir, f"worker-{i}.log"), "w") as out:
                self.workers.append(subprocess.Popen(
                    [self.bin, "worker"], stdout=out, stderr=subprocess.STDOUT,
                    env=dict(env, CHRONOFORGE_METRICS_LISTEN=f"127.0.0.1:{port}")))

    def sample(self):
        c = completed_by_queue()
        if c is not None:
            self.history.append((time.monotonic(), c))
        return self.history[-1][1] if self.history else {}

    def rate(self, t_from, t_to, queue=None):
        """Completions per second between two instants (cut at the last completion), from the samples."""
        t_to = min(t_to, self.t_all_done)
        pts = [(t, sum(c.values()) if queue is None else c.get(queue, 0)) for t, c in self.history
               if t_from <= t <= t_to]
        if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
            return 0.0
        return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])

    def wait_for(self, what, cond, timeout, step=0.25):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sample()
            if cond():
                return True
            time.sleep(step)
        log(f"timed out after {timeout:.0f}s waiting for {what}")
        return False

    def wait_done(self, fraction):
        return self.wait_for(f"{fraction:.0%} completed", lambda: sum(self.sample().values()) >= N * fraction,
                             max(1.0, DEADLINE - (time.monotonic() - T0)))

    def kill_master(self, cl, queues):
        qa = queues[0]
        port = cl.owner(qa)
        bound = inflight(cl, queues)
        t_kill = time.monotonic()
        services("kill-node", self.dir, str(port))
        log(f"SIGKILLed master {port} serving queue {qa} ({bound} envelopes in flight)")
        def master_ports():  # as the services script reports them
            return [int(p) for p in services("cluster-master-ports", self.dir).split()]
        promoted = self.wait_for("the replica's promotion",
                                 lambda: port not in master_ports() and len(master_ports()) == 3, 60)
        t_promoted = time.monotonic()
        self.check(promoted, f"the replica of {port} took over ({t_promoted - t_kill:.1f}s after the kill)")
        # Runs already past Redis may still commit during the outage: count from the promotion.
        done_at_promotion = self.sample().get(qa, 0)
        resumed = self.wait_for(f"queue {qa} to complete again",
                                lambda: self.sample().get(qa, 0) > done_at_promotion, 120)
        t_resumed = time.monotonic()
        self.check(resumed, f"queue {qa} completes again ({t_resumed - t_kill:.1f}s after the kill)")
        services("start-node", self.dir, str(port))  # it rejoins while the run goes on
        self.kill = (port, qa, t_kill, t_promoted, t_resumed)
        return bound

    def move_slot(self, cl, queues):
        qb = queues[1]
        slot = cl.rc.keyslot(f"{{{qb}}}")
        masters = cl.masters()
        src = cl.owner(qb)
        dst = next(p for p in sorted(masters) if p not in (src, cl.owner(queues[0])))
        src_id, dst_id = masters[src][0], masters[dst][0]
        s, d = cl.node(src), cl.node(dst)
        before = redirects(self.metrics_ports)
        t0 = time.monotonic()
        d.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
        s.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        log(f"moving slot {slot} (queue {qb}) from {src} to {dst}")

        def migrate(keys):
            if keys:
                s.execute_command("MIGRATE", "127.0.0.1", dst, "", 0, 10000, "AUTH", cl.password, "KEYS", *keys)

        # The ready list first: every fetch of queue B then meets ASK. Held until a worker has
        # followed one (or 15 s), then the rest key by key.
        ready = key(qb, "ready").encode()
        migrate([k for k in s.execute_command("CLUSTER GETKEYSINSLOT", slot, 1000) if k == ready])
        asked = self.wait_for("a worker to follow an ASK",
                              lambda: redirects(self.metrics_ports)["ask"] > before["ask"], 15)
        while True:
            keys = s.execute_command("CLUSTER GETKEYSINSLOT", slot, 10)
            if not keys:
                break
            migrate(keys)
            time.sleep(0.1)
        for p in [dst, src] + [p for p in masters if p not in (src, dst)]:
            cl.node(p).execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        t_moved = time.monotonic()
        log(f"slot {slot} now on {dst} ({t_moved - t0:.1f}s)")
        moved = self.wait_for("a worker to follow a MOVED",
                              lambda: redirects(self.metrics_ports)["moved"] > before["moved"], 30)
        after = redirects(self.metrics_ports)
        self.check(asked, f"workers followed ASK during the move ({after['ask'] - before['ask']} redirects)")
        self.check(moved, f"workers followed MOVED after it ({after['moved'] - before['moved']} redirects)")
        self.check(cl.owner(qb) == dst, f"queue {qb}'s slot {slot} is served by {dst}")
        self.move = (slot, qb, src, dst, t0, t_moved)

    def drain(self):
        ok = True
        for w in self.workers:
            w.send_signal(signal.SIGTERM)
        for i, w in enumerate(self.workers):
            try:
                rc = w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()
                rc = w.wait()
            if rc != 0:
                log(f"worker {i} exited {rc}")
                ok = False
        self.workers = []
        return ok


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[0])
    if not os.access(binary, os.X_OK):
        print(f"cluster-faults: {binary} is not executable", file=sys.stderr)
        return 2
    scratch = tempfile.mkdtemp(prefix="chronoforge-cluster-faults.")
    run = Run(binary, scratch)
    try:
        return body(run)
    finally:
        for w in run.workers:
            w.kill()
        subprocess.run([SERVICES, "stop", scratch], capture_output=True)
        if all(ok for ok, _ in run.checks) and run.checks:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"cluster-faults: scratch dir kept: {scratch}", file=sys.stderr)


def body(run):
    t = time.monotonic()
    services("start", run.dir, "--redis-cluster")
    env = dict(line[len("export "):].split("=", 1) for line in open(os.path.join(run.dir, "env.sh"))
               if line.startswith("export "))
    os.environ.update({k: v.strip().strip("'") for k, v in env.items()})
    log(f"services up in {time.monotonic() - t:.1f}s; scratch {run.dir}")
    cl = Cluster([int(p) for p in os.environ["CF_TEST_REDIS_CLUSTER_PORTS"].split()],
                 os.environ["CF_TEST_REDIS_PASSWORD"])
    queues = pick_queues(cl)
    log("queues " + ", ".join(f"{q} (slot {cl.rc.keyslot('{' + q + '}')}, master {cl.owner(q)})" for q in queues))
    subprocess.run([run.bin, "migrate"], check=True, capture_output=True,
                   env=dict(os.environ, CHRONOFORGE_PREFIX=PREFIX))
    ledger = os.path.join(run.dir, "ledger")
    open(ledger, "w").close()
    expected = enqueue(queues, ledger)
    log(f"enqueued {N} workflows through the Python client ({expected} step attempts expected)")
    run.start_workers(queues)
    t_start = time.monotonic()

    bound = 0
    if run.wait_done(KILL_AT / 100):
        bound = run.kill_master(cl, queues)
    if run.wait_done(MOVE_AT / 100):
        run.move_slot(cl, queues)
    done = run.wait_done(1.0)
    if run.kill:
        port = run.kill[0]
        rejoined = run.wait_for(f"{port} to rejoin as a replica", lambda: cl.role(port) == ("slave", "up"), 60)
        run.check(rejoined, f"the old master {port} rejoined as a replica")
    t_end = run.t_all_done = time.monotonic()
    c = run.sample()
    log(f"{sum(c.values())} of {N} completed after {t_end - t_start:.0f}s")

    # Quiet: nothing stranded once the workers are idle (a lost write is healed within a lease
    # or a sweep).
    state = {}

    def clean():
        nonlocal state
        state = redis_state(cl, queues)
        return all(state[k] == 0 for k in ("ready", "scheduled", "inflight", "locks", "held")) and \
            state["workers"] == W
    quiet = run.wait_for("Redis to be left clean", clean, 60, step=0.5)
    figures = redirects(run.metrics_ports)
    drained = run.drain()
    final = redis_state(cl, queues)
    led = json.loads(_capture(chaos.ledger, N, ledger))
    steps_done = psql("SELECT count(*) FROM chrono_forge_execution_logs e JOIN chrono_forge_workflows w"
                      " ON w.id = e.workflow_id WHERE w.state = 'completed' AND e.state = 'completed'"
                      " AND e.step_name LIKE 'durably\\_execute$step\\_%'")
    by_state = psql("SELECT state || '=' || count(*) FROM chrono_forge_workflows GROUP BY state ORDER BY 1")
    total = psql("SELECT count(*) FROM chrono_forge_workflows")
    san = [f for f in sorted(os.listdir(run.dir)) if f.startswith("worker-") and any(
        s in open(os.path.join(run.dir, f), errors="replace").read()
        for s in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"))]

    run.check(done and by_state == f"completed={N}" and total == str(N),
              f"every workflow the store knows completed ({total} in the store: {(by_state or '').replace(chr(10), ' ')})")
    run.check(steps_done == str(N * chaos.STEPS), f"every step completed once in the store ({steps_done} of {N * chaos.STEPS})")
    run.check(led["missing"] == 0, f"every expected step attempt ran ({led['missing']} missing)")
    run.check(led["duplicate_attempts"] <= bound and led["reruns"] <= bound,
              f"re-runs {led['reruns']} and duplicate attempts {led['duplicate_attempts']} within the "
              f"{bound} envelopes in flight at the kill")
    run.check(quiet and final["dead"] == 0, f"Redis left clean: {json.dumps(final, sort_keys=True)}")
    run.check(drained and not san, "the workers drained with exit 0, no sanitizer report" + (f" ({san})" if san else ""))

    print("=== cluster-faults figures")
    print(f"workflows: {N} on queues {', '.join(queues)}, {W} workers x {CONC}; all done {t_end - t_start:.0f}s "
          f"after the start, {N / max(t_end - t_start, 0.001):.0f} completions/s overall")
    if run.kill:
        port, qa, k0, kp, k1 = run.kill
        print(f"kill: master {port} (queue {qa}); replica promoted {kp - k0:.1f}s after the kill, queue {qa} "
              f"completing again after {k1 - k0:.1f}s; completions/s: {run.rate(k0 - 5, k0):.0f} in the 5 s "
              f"before the kill, {run.rate(k0, k1):.0f} until the recovery, {run.rate(k1, k1 + 5):.0f} in the 5 s after")
    if run.move:
        slot, qb, src, dst, m0, m1 = run.move
        print(f"move: slot {slot} of queue {qb} from {src} to {dst} in {m1 - m0:.1f}s; completions/s: "
              f"{run.rate(m0 - 5, m0):.0f} in the 5 s before, {run.rate(m0, m1):.0f} during, "
              f"{run.rate(m1, m1 + 5):.0f} in the 5 s after")
    print(f"redirects followed by the workers: MOVED {figures['moved']}, ASK {figures['ask']}; "
          f"slot maps loaded {figures['map_loads']}")
    print(f"ledger: {json.dumps(led, sort_keys=True)}")
    passed = sum(1 for ok, _ in run.checks if ok)
    failed = len(run.checks) - passed
    print(f"cluster-faults: {passed} passed, {failed} failed")
    return 1 if failed else 0


def _capture(fn, *args):
    """What fn prints (chaos.ledger prints its JSON)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(*args)
    return buf.getvalue()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
