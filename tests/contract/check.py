#!/usr/bin/python3
"""tests/contract/check.py: the conformance vectors, end to end.

    /usr/bin/python3 tests/contract/check.py [--decoder PATH]

For every job vector and each client (Ruby, Python): a valid job is produced by the client (through
Redis when CF_TEST_REDIS_URL is set) and the C decoder must read back exactly the expected fields and
the jid the client returned; an invalid job must be refused by the client locally, with the expected
code and field on the error and the code in its message, as ArgumentError (Ruby) or ValueError /
TypeError for wrong_type (Python). The invalid job packed naively (plain msgpack, no checks) must
be refused by the C decoder with the same code and field. Raw vectors go through the C decoder
only. Prints one line per failure and ends with `vectors: N passed, M failed`.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VECTOR_FILES = [os.path.join(HERE, "vectors", n) for n in ("valid.jsonl", "invalid.jsonl", "raw.jsonl")]
ENVELOPE_FIELDS = ("class", "key", "kwargs", "queue", "options", "retry_workflow")


def load(paths):
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    v = json.loads(line)
                    v["_where"] = f"{os.path.basename(p)}:{n}"
                    out.append(v)
    return out


def expand(value):
    """Tags that stand for plain JSON values ($repeat, $nest) in expectations."""
    if isinstance(value, list):
        return [expand(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            tag, arg = next(iter(value.items()))
            if tag == "$repeat":
                return arg[0] * arg[1]
            if tag == "$nest":
                out = expand(arg[1])
                for _ in range(arg[0]):
                    out = [out]
                return out
            if tag == "$nestmap":
                out = expand(arg[2])
                for _ in range(arg[0]):
                    out = {arg[1]: out}
                return out
        return {k: expand(v) for k, v in value.items()}
    return value


class NotPackable(Exception):
    """A value no msgpack bytes can carry, so the vector has no naive form."""


class RawStr(bytes):
    """Bytes to pack with a str header whatever they hold (invalid UTF-8 included)."""


def naive_value(value):
    """A tagged vector value as plain Python for pack_naive, without any checks."""
    if isinstance(value, list):
        return [naive_value(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            tag, arg = next(iter(value.items()))
            if tag == "$bytes":
                return bytes.fromhex(arg)
            if tag == "$badutf8":
                return RawStr(bytes.fromhex(arg))
            if tag == "$float":
                return float(arg)
            if tag == "$time":
                return msgpack.Timestamp(arg, 0)
            if tag in ("$repeat", "$nest", "$nestmap"):
                return naive_value(expand(value))
        return {k: naive_value(v) for k, v in value.items()}
    return value


def pack_naive(obj):
    """A small msgpack packer that packs what it is given, no questions asked (uint64 and
    invalid UTF-8 included), so the C decoder sees what a careless producer would send."""
    if isinstance(obj, RawStr):
        return msgpack.packb("x" * len(obj))[: -len(obj) or None] + bytes(obj) if obj else b"\xa0"
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, bytes, float, msgpack.Timestamp)):
        return msgpack.packb(obj, use_bin_type=True, datetime=False)
    if isinstance(obj, int):
        if obj >= 2**64:  # no msgpack form: uint64 max stands in, refused the same way
            return b"\xcf" + b"\xff" * 8
        if obj < -(2**63):
            raise NotPackable("below int64: msgpack has no form for it")
        return msgpack.packb(obj)
    if isinstance(obj, list):
        return msgpack.packb([None] * len(obj))[: -len(obj) or None] + b"".join(pack_naive(e) for e in obj)
    if isinstance(obj, dict):
        head = msgpack.packb(dict.fromkeys(range(len(obj))))[: -2 * len(obj) or None]
        return head + b"".join(pack_naive(k) + pack_naive(v) for k, v in obj.items())
    raise TypeError(f"cannot pack {type(obj).__name__}")


def naive_bytes(job):
    env = {"v": 1, "jid": "naive0000000000000000000"}
    for k in ENVELOPE_FIELDS:
        if k in job:
            env[k] = naive_value(job[k])
    return pack_naive(env)


def raw_bytes(spec):
    if isinstance(spec, str):
        return bytes.fromhex(spec)
    return b"".join(bytes.fromhex(p) if isinstance(p, str) else bytes.fromhex(p[0]) * p[1] for p in spec)


def same(a, b):
    """JSON equality that tells int from float and bool from int, and -0.0 from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def short(x, n=300):
    s = json.dumps(x, ensure_ascii=False) if not isinstance(x, str) else x
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, what, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}{': ' + detail if detail else ''}")
        return cond


def run_producer(cmd, vectors_paths):
    p = subprocess.run(cmd + vectors_paths, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        print(f"producer {cmd[0]} exited {p.returncode}:\n{p.stderr}", file=sys.stderr)
    out = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        out[r["name"]] = r
    return out


def decode_all(decoder, blobs):
    """Runs every blob through the C decoder in one process; returns its output lines."""
    data = "".join(b.hex() + "\n" for b in blobs)
    p = subprocess.run([decoder], input=data, capture_output=True, text=True)
    lines = p.stdout.splitlines()
    if p.returncode != 0 or len(lines) != len(blobs):
        print(f"decoder exited {p.returncode} after {len(lines)} of {len(blobs)} lines:\n{p.stderr[-4000:]}",
              file=sys.stderr)
    return lines + ["<no output>"] * (len(blobs) - len(lines))


def reference_decode(data):
    """What the C decoder prints for a valid envelope, computed with msgpack-python (used only
    when the C decoder is not built)."""
    env = msgpack.unpackb(data)
    out = {"v": env["v"], "jid": env["jid"], "class": env["class"], "key": env["key"],
           "queue": env.get("queue", ""), "kwargs": env.get("kwargs", {}), "options": env.get("options", {}),
           "retry_workflow": env.get("retry_workflow", False), "created_at": env.get("created_at")}
    return json.dumps(out)


def parse_decoded(line):
    if line.startswith("REFUSED "):
        rest = line[len("REFUSED "):]
        code, _, field = rest.partition(" ")
        return {"refused": {"code": code, "field": field}}
    if line.startswith("{"):
        return {"decoded": json.loads(line)}
    return {"error": line}


def verdict(v, jid, line):
    """None when the decoder's output line matches vector v (and the client's jid), else why not."""
    got = parse_decoded(line)
    if "refuse" in v:
        if got.get("refused") == v["refuse"]:
            return None
        return f"decoder: expected REFUSED {v['refuse']}, got {short(line)}"
    if "decoded" not in got:
        return f"decoder refused a valid envelope: {short(line)}"
    dec = got["decoded"]
    want = expand(v["expect"])
    bad = [f"{k}: expected {short(want[k])}, got {short(dec.get(k, '<absent>'))}"
           for k in want if not same(want[k], dec.get(k, KeyError))]
    if jid is not None and dec.get("jid") != jid:
        bad.append(f"jid: expected the client's {jid}, got {dec.get('jid')}")
    if jid is not None and not isinstance(dec.get("created_at"), float):
        bad.append(f"created_at: expected a float, got {dec.get('created_at')!r}")
    return "; ".join(bad) or None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--decoder", default=os.environ.get("CF_DECODE_VECTORS", ""))
    args = ap.parse_args()
    decoder = args.decoder if args.decoder and os.access(args.decoder, os.X_OK) else None
    require = os.environ.get("CF_TEST_REQUIRE_SERVICES") == "1"

    vectors = load(VECTOR_FILES)
    checks = Checks()
    for kind in ("job", "raw_hex"):
        names = [v["name"] for v in vectors if kind in v]
        dups = sorted({n for n in names if names.count(n) > 1})
        checks.ok(not dups, f"{kind} vector names are unique", ", ".join(dups))
    job_files = [p for p in VECTOR_FILES if not p.endswith("raw.jsonl")]
    producers = {
        "ruby": run_producer(["/usr/bin/ruby", os.path.join(HERE, "ruby_producer.rb")], job_files),
        "python": run_producer(["/usr/bin/python3", os.path.join(HERE, "python_producer.py")], job_files),
    }

    pending = []  # (what, bytes, expectation dict, extra check)
    for v in vectors:
        where = f"[{v['_where']}] {v['name']}"
        if "raw_hex" in v:
            pending.append((f"raw {where}", raw_bytes(v["raw_hex"]), v, None))
            continue
        for client, results in producers.items():
            what = f"{client} {where}"
            r = results.get(v["name"])
            if r is None or "error" in r:
                checks.ok(False, what, r["error"] if r else "no result from the producer")
            elif "refuse" in v:
                want = v["refuse"]
                got = r.get("refused")
                kind = "ArgumentError" if client == "ruby" else (
                    "TypeError" if want["code"] == "wrong_type" else "ValueError")
                checks.ok(got is not None and got["code"] == want["code"] and got["field"] == want["field"]
                          and want["code"] in got["message"] and got["kind"] == kind,
                          what, f"expected a local refusal {want} as {kind}, got {short(got or 'bytes')}")
            elif "hex" not in r:
                checks.ok(False, what, f"refused a valid job: {short(r.get('refused'))}")
            else:
                pending.append((what, bytes.fromhex(r["hex"]), v, r["jid"]))
        if "refuse" in v:
            try:
                pending.append((f"naive bytes {where}", naive_bytes(v["job"]), v, None))
            except NotPackable:
                pass

    if decoder is None:
        # Without the C decoder, still check what the clients produced with msgpack-python; the
        # raw and naive vectors need the C decoder.
        skipped = [p for p in pending if p[3] is None]
        pending = [p for p in pending if p[3] is not None]
        msg = (f"C decoder not found ({args.decoder or 'unset'}): {len(skipped)} decoder checks not run, "
               f"{len(pending)} client envelopes checked with msgpack-python instead")
        if require:
            checks.ok(False, msg)
        else:
            print(f"SKIP {msg}")
        outputs = [reference_decode(p[1]) for p in pending]
    else:
        outputs = decode_all(decoder, [p[1] for p in pending])
    for (what, _data, v, jid), line in zip(pending, outputs):
        problem = verdict(v, jid, line)
        checks.ok(problem is None, what, problem or "")

    n_valid = sum(1 for v in vectors if "expect" in v)
    n_invalid = sum(1 for v in vectors if "refuse" in v)
    print(f"vectors: {len(vectors)} ({n_valid} valid, {n_invalid} invalid; "
          f"{sum(1 for v in vectors if 'raw_hex' in v)} raw), decoder: {decoder or 'none'}, "
          f"redis: {'yes' if os.environ.get('CF_TEST_REDIS_URL') else 'no'}")
    print(f"vectors: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
