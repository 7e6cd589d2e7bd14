#!/usr/bin/python3
"""tests/contract/snippets.py: the "Producing jobs" snippets run as shown.

    /usr/bin/python3 tests/contract/snippets.py [MARKDOWN] [--decoder PATH]

Takes the ```ruby, ```python and ```bash blocks of the "Producing jobs" section (README.md when it
has one, else clients/README.md), points them at CF_TEST_REDIS_URL under a fresh prefix (the
only edits: the Redis URL, the prefix, and redis-cli's connection flags), runs each, and checks
that each exited 0 and that every envelope it left in Redis decodes (with the C decoder when
given) to the class and key the snippet names. Prints `snippets: N passed, M failed`.
"""

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import urllib.parse

import msgpack
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUNNERS = {"ruby": ["/usr/bin/ruby", "-I", os.path.join(ROOT, "clients/ruby/lib")],
           "python": ["/usr/bin/python3"], "bash": ["bash", "-eo", "pipefail"]}


def section(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^## Producing jobs\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("markdown", nargs="?")
    ap.add_argument("--decoder", default=os.environ.get("CF_DECODE_VECTORS", ""))
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
    u = urllib.parse.urlparse(url)
    cli = f"redis-cli -h {u.hostname} -p {u.port} -n {u.path.strip('/') or 0}"
    env = dict(os.environ, REDISCLI_AUTH=urllib.parse.unquote(u.password or ""),
               PYTHONPATH=os.path.join(ROOT, "clients", "python"), PYTHONDONTWRITEBYTECODE="1")
    r = redis.Redis.from_url(url)
    passed = failed = 0
    print(f"snippets from {os.path.relpath(path, ROOT)}: {', '.join(lang for lang, _ in blocks)}")
    for i, (lang, code) in enumerate(blocks):
        prefix = f"cf:snippet:{os.getpid()}:{secrets.token_hex(3)}"
        code = (code.replace("redis://127.0.0.1:6379/0", url)
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
        blobs = []
        for k in keys:
            kind = r.type(k)
            if kind == b"list":
                blobs += r.lrange(k, 0, -1)
            elif kind == b"zset":
                blobs += r.zrange(k, 0, -1)
        if keys:
            r.delete(*keys)
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
        what = f"snippet {i + 1} ({lang}, {len(blobs)} envelopes)"
        if problems:
            failed += 1
            print(f"FAIL {what}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok {what}")
    print(f"snippets: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
