#!/usr/bin/python3
# tests/deploy/check_manifests.py BIN: checks every deployment file in deploy/ for what would
# break a fleet, without running any of it (no systemd as PID 1, no container runtime, no
# cluster here). Settings are judged against the worker's own defaults, read from
# `BIN worker --help`, overridden by each file's environment. Exits 1 listing every problem.
#   systemd: `systemd-analyze verify` accepts the unit (no warning either), its exposure
#     score stays low, Type=notify, WatchdogSec above the liveness bound, TimeoutStopSec above
#     the shutdown grace.
#   Dockerfile: Debian 12 slim stages, the build stage's RUN steps are the README's "Building
#     from source" block, the image's user is not root, `chronoforge` is the entrypoint, the
#     HEALTHCHECK runs `chronoforge health`, EXPOSE is the metrics port.
#   compose.yaml: Redis with AOF, a one-shot migrate before the workers, the dashboard, 3 workers with
#     metrics, a stop grace above the shutdown grace.
#   kubernetes/: base and each overlay, rendered the way kustomize does for what they use
#     (resources, generators with merge/replace, images, namespace, patches of custom
#     resources): probes on /healthz and /readyz at the --metrics-listen port, the termination
#     grace above the shutdown grace, non-root pods, memory requests at least the measured RSS,
#     references to ConfigMaps and Secrets that exist, the PDB selecting the workers, KEDA's
#     list name equal to SPEC §2's ready key of each queue, minReplicaCount >= 1.
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROBLEMS = []


def problem(where, msg):
    PROBLEMS.append(f"{where}: {msg}")


def check(cond, where, msg):
    if not cond:
        problem(where, msg)
    return cond


UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "min": 60000, "sec": 1000}


def duration_ms(text):
    """A duration in the worker's syntax ("25s", "300ms", "1h") or systemd's ("90s", "40")."""
    text = str(text).strip()
    if text == "0":
        return 0
    if re.fullmatch(r"\d+", text):
        return int(text) * 1000  # systemd: a bare number is seconds
    m = re.fullmatch(r"(\d+)(ms|s|m|h|min|sec)", text)
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return int(m.group(1)) * UNITS[m.group(2)]


def worker_defaults(binary):
    """{ENV_NAME: default} from `chronoforge worker --help`."""
    out = subprocess.run([binary, "worker", "--help"], capture_output=True, text=True).stdout
    found = dict(re.findall(r"\[(CHRONOFORGE_[A-Z_]+), default ([^\]]*)\]", out))
    if "CHRONOFORGE_SHUTDOWN_GRACE" not in found:
        sys.exit(f"check_manifests: no settings in `{binary} worker --help`")
    return found


class Settings:
    """The worker's effective settings: its defaults overridden by env (a dict)."""

    def __init__(self, defaults, env):
        self.v = dict(defaults)
        self.v.update({k: str(v) for k, v in env.items() if k.startswith("CHRONOFORGE_")})

    def ms(self, name):
        return duration_ms(self.v["CHRONOFORGE_" + name])

    def liveness_bound_ms(self):
        """worker/config.c cf_config_liveness_bound_ms."""
        db = self.ms("DB_IO_TIMEOUT") or self.ms("STATEMENT_TIMEOUT") + 5000
        longest = max(db, self.ms("HEARTBEAT"), self.ms("PROMOTE_INTERVAL"),
                      self.ms("SWEEP_INTERVAL"), self.ms("LEASE"))
        return 2 * longest + 10000


def env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = line.partition("=")
                env[k] = v
    return env


def unit_directives(path):
    d = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")):
                k, _, v = line.partition("=")
                d.setdefault(k, []).append(v)
    return d


def check_systemd(binary, defaults):
    where = "deploy/systemd/chronoforge-worker@.service"
    unit = os.path.join(ROOT, where)
    d = unit_directives(unit)
    s = Settings(defaults, env_file(os.path.join(ROOT, "deploy/systemd/worker.env.example")))
    check(d.get("Type") == ["notify"], where, "Type= must be notify (the worker sends READY=1)")
    wd = duration_ms(d.get("WatchdogSec", ["0"])[0])
    check(wd > s.liveness_bound_ms(), where,
          f"WatchdogSec={wd} ms is not above the liveness bound {s.liveness_bound_ms()} ms")
    stop = duration_ms(d.get("TimeoutStopSec", ["90"])[0])
    check(stop > s.ms("SHUTDOWN_GRACE"), where,
          f"TimeoutStopSec={stop} ms is not above the shutdown grace {s.ms('SHUTDOWN_GRACE')} ms")
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
                "RestrictAddressFamilies", "CapabilityBoundingSet", "SystemCallFilter"):
        check(key in d, where, f"hardening directive {key}= missing")
    if not shutil.which("systemd-analyze"):
        problem(where, "systemd-analyze not found (deploy/install-deps.sh installs systemd)")
        return
    # verify wants the ExecStart binaries to exist: point them at the one being tested.
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(unit))
        with open(unit) as f, open(copy, "w") as g:
            g.write(f.read().replace("/usr/local/bin/chronoforge", os.path.abspath(binary)))
        r = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True,
                           cwd=tmp)
        check(r.returncode == 0 and not (r.stdout + r.stderr).strip(), where,
              f"systemd-analyze verify: rc={r.returncode} {(r.stdout + r.stderr).strip()}")
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=20",
                            copy], capture_output=True, text=True, cwd=tmp)
        score = re.search(r"exposure level for \S+: ([\d.]+)", r.stdout)
        check(r.returncode == 0, where,
              f"systemd-analyze security: exposure {score.group(1) if score else '?'} > 2.0")

# ---- Dockerfile ----

def dockerfile_stages(path):
    """[(from, [(INSTRUCTION, args)])] with line continuations joined, comments dropped."""
    stages, lines, buf = [], [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            lines.append(buf + line)
            buf = ""
    for line in lines:
        instr, _, args = line.strip().partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            stages.append((args.strip(), []))
        elif stages:
            stages[-1][1].append((instr, " ".join(args.split())))
    return stages


def readme_build_steps():
    """The commands of the README's "Building from source" block."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"<!-- build-steps -->\s*```sh\n(.*?)```", text, re.S)
    if not m:
        problem("README.md", "no <!-- build-steps --> block")
        return []
    return [ln.split("#")[0].strip() for ln in m.group(1).splitlines() if ln.split("#")[0].strip()]


def check_dockerfile():
    where = "deploy/container/Dockerfile"
    stages = dockerfile_stages(os.path.join(ROOT, where))
    if not check(len(stages) >= 2, where, "expected a build stage and a runtime stage"):
        return
    for base, _ in stages:
        check(base.split()[0] == "debian:12-slim", where, f"stage FROM {base}: not debian:12-slim")
    runs = [a for i, a in stages[0][1] if i == "RUN"]
    check(runs == readme_build_steps(), where,
          f"build stage RUN steps {runs} are not the README's {readme_build_steps()}")
    final = stages[-1][1]
    users = [a for i, a in final if i == "USER"]
    check(users and users[-1].split(":")[0] not in ("root", "0"), where,
          "the runtime stage must end with a USER that is not root")
    entry = [a for i, a in final if i == "ENTRYPOINT"]
    check(entry and json_list(entry[-1]) == ["chronoforge"], where,
          'ENTRYPOINT must be ["chronoforge"]')
    hc = [a for i, a in final if i == "HEALTHCHECK"]
    check(hc and re.search(r'CMD \["chronoforge", "health"', hc[-1]), where,
          "HEALTHCHECK must run chronoforge health")
    env = dict(re.findall(r"(CHRONOFORGE_[A-Z_]+)=(\S+)", " ".join(a for i, a in final if i == "ENV")))
    port = listen_port(env.get("CHRONOFORGE_METRICS_LISTEN", ""))
    check(port is not None, where, "ENV CHRONOFORGE_METRICS_LISTEN must be set (HEALTHCHECK asks it)")
    check([a for i, a in final if i == "EXPOSE"] == [str(port)], where,
          f"EXPOSE must be the metrics port {port}")


def json_list(text):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def listen_port(addr):
    m = re.fullmatch(r".*:(\d+)", str(addr))
    return int(m.group(1)) if m else None


# ---- compose ----

def check_compose(defaults):
    where = "deploy/compose.yaml"
    with open(os.path.join(ROOT, where)) as f:
        c = yaml.safe_load(f)
    svc = c.get("services", {})
    for name in ("redis", "postgres", "migrate", "worker"):
        check(name in svc, where, f"service {name} missing")
    if not all(n in svc for n in ("redis", "migrate", "worker")):
        return
    check("--appendonly yes" in str(svc["redis"].get("command", "")), where,
          "redis must run with --appendonly yes")
    check(svc["migrate"].get("command") == ["migrate"] and svc["migrate"].get("restart") == "no",
          where, "migrate must be a one-shot `migrate`")
    w = svc["worker"]
    check(w.get("command") == ["worker"], where, "worker's command must be worker")
    check(w.get("deploy", {}).get("replicas") == 3, where, "3 worker replicas expected")
    check(w.get("depends_on", {}).get("migrate", {}).get("condition") ==
          "service_completed_successfully", where, "workers must wait for migrate to succeed")
    s = Settings(defaults, w.get("environment", {}))
    port = listen_port(s.v.get("CHRONOFORGE_METRICS_LISTEN", ""))
    check(port is not None and str(port) in [str(p) for p in w.get("expose", [])], where,
          "workers must serve metrics and expose that port")
    check(duration_ms(w.get("stop_grace_period", "10s")) > s.ms("SHUTDOWN_GRACE"), where,
          "worker stop_grace_period must exceed CHRONOFORGE_SHUTDOWN_GRACE")
    check(w.get("build", {}).get("dockerfile") == "deploy/container/Dockerfile", where,
          "workers must be built from deploy/container/Dockerfile")
    d = svc.get("dashboard")
    check(d is not None, where, "service dashboard missing")
    if d is None:
        return
    cmd = d.get("command", [])
    check(cmd[:1] == ["dashboard"], where, "the dashboard service must run `dashboard`")
    listen = cmd[cmd.index("--listen") + 1] if "--listen" in cmd[:-1] else "127.0.0.1:9470"
    check(not listen.startswith("127."), where,
          "the dashboard must listen beyond the container's loopback to be reachable")
    published = [str(p).rsplit(":", 1)[-1] for p in d.get("ports", [])]
    check(str(listen_port(listen)) in published, where,
          "the dashboard's --listen port must be published")
    denv = d.get("environment", {})
    check("CHRONOFORGE_DASHBOARD_TOKEN" in denv and "--token" not in " ".join(cmd), where,
          "the dashboard's token comes from the environment, never a flag")
    check(d.get("healthcheck", {}).get("disable") is True, where,
          "the image's HEALTHCHECK asks a worker's /healthz: disable it for the dashboard")
    check(d.get("depends_on", {}).get("migrate", {}).get("condition") ==
          "service_completed_successfully", where, "the dashboard must wait for migrate")


# ---- Kubernetes ----

def merge(base, patch):
    """JSON merge of patch into base (lists replaced): a strategic merge of a custom resource."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return patch
    out = dict(base)
    for k, v in patch.items():
        out[k] = merge(base.get(k), v) if k in base else v
    return out


def generated(gen, kind, d, existing):
    data = dict(existing.get("data", {})) if gen.get("behavior") == "merge" and existing else {}
    for lit in gen.get("literals", []):
        k, _, v = lit.partition("=")
        data[k] = v
    for env in gen.get("envs", []):
        path = os.path.join(d, env)
        if os.path.exists(path + ".example") and not os.path.exists(path):
            path += ".example"  # the overlay's committed template of its secrets file
        data.update(env_file(path))
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}, "data": data}


def render(d):
    """The resources of kustomization directory d, as kustomize would emit them (for the
    features used here); names keep no hash suffix."""
    with open(os.path.join(d, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    known = {"apiVersion", "kind", "labels", "resources", "configMapGenerator",
             "secretGenerator", "images", "namespace", "patches"}
    for key in set(k) - known:
        problem(d, f"kustomization field {key} is not understood by this checker")
    res = []
    for r in k.get("resources", []):
        p = os.path.join(d, r)
        if os.path.isdir(p):
            res += render(p)
        elif check(os.path.exists(p), d, f"resource {r} missing"):
            with open(p) as f:
                res += [x for x in yaml.safe_load_all(f) if x]
    for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for gen in k.get(field, []):
            old = find(res, kind, gen["name"])
            if gen.get("behavior") in ("merge", "replace"):
                check(old is not None, d, f"{kind} {gen['name']}: {gen['behavior']} of nothing")
                res = [x for x in res if x is not old]
            res.append(generated(gen, kind, d, old))
    for p in k.get("patches", []):
        with open(os.path.join(d, p["path"])) as f:
            patch = yaml.safe_load(f)
        target = find(res, patch["kind"], patch["metadata"]["name"])
        if not check(target is not None, d, f"patch {p['path']} matches no resource"):
            continue
        check("." in patch.get("apiVersion", "").split("/")[0], d,
              f"patch {p['path']}: only custom resources are patched here (lists are replaced)")
        res[res.index(target)] = merge(target, patch)
    for img in k.get("images", []):
        for r in res:
            for c in containers(r):
                if c.get("image", "").split(":")[0] == img["name"]:
                    c["image"] = img.get("newName", img["name"]) + ":" + img.get("newTag", "latest")
    return res


def find(res, kind, name):
    return next((r for r in res if r.get("kind") == kind and r["metadata"]["name"] == name), None)


def pod_spec(r):
    spec = r.get("spec", {})
    return spec.get("template", {}).get("spec", {}) if r.get("kind") in ("Deployment", "Job") else {}


def containers(r):
    return pod_spec(r).get("containers", [])


def spec_ready_key(prefix, queue):
    """SPEC §2's ready key of queue, from the spec's own table (P:{Q}:ready)."""
    with open(os.path.join(ROOT, "docs/SPEC.md")) as f:
        m = re.search(r"^\| `(P:\{Q\}:ready)` \| list", f.read(), re.M)
    if not m:
        problem("docs/SPEC.md", "§2 has no P:{Q}:ready row")
        return None
    return m.group(1).replace("P", prefix, 1).replace("{Q}", "{" + queue + "}")


def measured_rss_kib():
    results = sorted(glob.glob(os.path.join(ROOT, "bench/results/*.md")))
    for path in reversed(results):
        with open(path) as f:
            m = re.search(r"Worker peak RSS at c=16:.*?\*\*(\d+) kB\*\*", f.read())
        if m:
            return int(m.group(1))
    return None


def quantity_kib(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", str(q))
    return int(m.group(1)) * {"Ki": 1, "Mi": 1024, "Gi": 1024 * 1024}[m.group(2)] if m else None


def env_of(res, c, where):
    env = {}
    for ref in c.get("envFrom", []):
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in ref:
                src = find(res, kind, ref[key]["name"])
                if check(src is not None, where, f"{kind} {ref[key]['name']} does not exist"):
                    env.update(src.get("data", {}))
    return env


def check_kubernetes(where, res, defaults):
    dep = find(res, "Deployment", "chronoforge-worker")
    if not check(dep is not None, where, "no Deployment chronoforge-worker"):
        return
    c = containers(dep)[0]
    env = env_of(res, c, where)
    s = Settings(defaults, env)
    check(c.get("args") == ["worker"], where, "the worker container must run `worker`")
    port = listen_port(s.v.get("CHRONOFORGE_METRICS_LISTEN", ""))
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        p = ports.get(get.get("port"), get.get("port"))
        check(get.get("path") == path and p == port, where,
              f"{probe} must GET {path} on the --metrics-listen port {port} (has {get})")
    tg = pod_spec(dep).get("terminationGracePeriodSeconds", 30) * 1000
    check(tg > s.ms("SHUTDOWN_GRACE"), where,
          f"terminationGracePeriodSeconds {tg} ms must exceed the shutdown grace "
          f"{s.ms('SHUTDOWN_GRACE')} ms")
    rss = measured_rss_kib()
    req = quantity_kib(c.get("resources", {}).get("requests", {}).get("memory"))
    lim = quantity_kib(c.get("resources", {}).get("limits", {}).get("memory"))
    check(rss and req and req >= rss and lim and lim > req, where,
          f"memory request {req} KiB must cover the measured RSS {rss} KiB, below the limit")
    for r in res:
        sc = pod_spec(r).get("securityContext", {})
        if r["kind"] in ("Deployment", "Job"):
            check(sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0, where,
                  f"{r['kind']} {r['metadata']['name']} must run as a non-root user")
    job = find(res, "Job", "chronoforge-migrate")
    if check(job is not None, where, "no migration Job"):
        jc = containers(job)[0]
        check(jc.get("args") == ["migrate"] and jc.get("image") == c.get("image"), where,
              "the Job must run `migrate` with the workers' image")
        env_of(res, jc, where)
    labels = dep["spec"]["template"]["metadata"]["labels"]
    pdb = find(res, "PodDisruptionBudget", "chronoforge-worker")
    if check(pdb is not None, where, "no PodDisruptionBudget"):
        sel = pdb["spec"]["selector"]["matchLabels"]
        check(all(labels.get(k) == v for k, v in sel.items()), where,
              "the PodDisruptionBudget does not select the workers")
    so = find(res, "ScaledObject", "chronoforge-worker")
    if not check(so is not None, where, "no KEDA ScaledObject"):
        return
    check(so["spec"]["scaleTargetRef"]["name"] == "chronoforge-worker", where,
          "the ScaledObject must scale the worker Deployment")
    check(so["spec"].get("minReplicaCount", 0) >= 1, where,
          "minReplicaCount must be >= 1 (a fleet of zero heals, schedules and retains nothing)")
    queues = s.v["CHRONOFORGE_QUEUES"].split(",")
    want = {spec_ready_key(s.v["CHRONOFORGE_PREFIX"], q) for q in queues}
    lists, ages = set(), set()
    for t in so["spec"]["triggers"]:
        md = t.get("metadata", {})
        if t["type"] in ("redis", "redis-cluster"):
            lists.add(md.get("listName"))
            check(md.get("listName") in want, where,
                  f"KEDA listName {md.get('listName')!r} is not a ready key of {sorted(want)}")
            check("listLength" in md and "activationListLength" in md, where,
                  "the redis trigger needs listLength and activationListLength")
            auth = find(res, "TriggerAuthentication", t.get("authenticationRef", {}).get("name"))
            if check(auth is not None, where, "the redis trigger's TriggerAuthentication is missing"):
                for ref in auth["spec"].get("secretTargetRef", []):
                    sec = find(res, "Secret", ref["name"])
                    check(sec is not None and ref["key"] in sec.get("data", {}), where,
                          f"TriggerAuthentication: Secret {ref['name']} has no {ref['key']}")
        if t["type"] == "prometheus":
            m = re.search(r'chronoforge_queue_oldest_ready_age_seconds\{queue="([^"]+)"\}',
                          md.get("query", ""))
            check(m is not None, where, "the prometheus trigger must query the oldest ready age")
            if m:
                ages.add(m.group(1))
    check(lists == want, where, f"redis triggers cover {sorted(lists)}, not {sorted(want)}")
    check(ages == set(queues), where, f"prometheus triggers cover {sorted(ages)}, not {queues}")


def check_kustomize(defaults):
    top = os.path.join(ROOT, "deploy/kubernetes")
    dirs = [os.path.join(top, "base")] + sorted(glob.glob(os.path.join(top, "overlays/*")))
    for d in dirs:
        check_kubernetes(os.path.relpath(d, ROOT), render(d), defaults)



def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_manifests.py BIN")
    binary = sys.argv[1]
    defaults = worker_defaults(binary)
    check_systemd(binary, defaults)
    check_dockerfile()
    check_compose(defaults)
    check_kustomize(defaults)
    for p in PROBLEMS:
        print("check_manifests:", p, file=sys.stderr)
    if PROBLEMS:
        sys.exit(1)
    print("check_manifests: ok")


if __name__ == "__main__":
    main()
