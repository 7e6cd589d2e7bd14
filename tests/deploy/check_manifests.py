#!/usr/bin/python3
# tests/deploy/check_manifests.py BIN: checks every deployment file in deploy/ for what would
# break a fleet, without running any of it (no systemd as PID 1, no container runtime, no
# cluster here). Settings are judged against the worker's own defaults, read from
# `BIN worker --help`, overridden by each file's environment. Exits 1 listing every problem.
#   systemd: `systemd-analyze verify` accepts the unit (no warning either), its exposure
#     score stays low, Type=notify, WatchdogSec above the liveness bound, TimeoutStopSec above
#     the shutdown grace.
import os
import re
import shutil
import subprocess
import sys
import tempfile

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


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_manifests.py BIN")
    binary = sys.argv[1]
    defaults = worker_defaults(binary)
    check_systemd(binary, defaults)
    for p in PROBLEMS:
        print("check_manifests:", p, file=sys.stderr)
    if PROBLEMS:
        sys.exit(1)
    print("check_manifests: ok")


if __name__ == "__main__":
    main()
