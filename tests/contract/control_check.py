#!/usr/bin/python3
"""tests/contract/control_check.py: the control-request contract (SPEC §2, "Control requests").

    /usr/bin/python3 control_check.py --decoder PATH

Every vector of vectors/control.jsonl is built by the Python client and by the Ruby client
(Chronoforge::Control.build, the bytes signal(...) and cancel(...) push), and both byte strings go
through the C decoder (decode_vectors --control), which must read exactly the vector's fields;
then raw requests that the worker must refuse, with their code and field. Prints one line per
failure and a last line `control: N passed, M failed`.
"""

import argparse
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
sys.path.insert(0, os.path.join(root, "clients", "python"))

import msgpack  # noqa: E402

from chronoforge import control  # noqa: E402

PREFIX = "chronoforge"
NOW = 1765000000.5

RUBY = r'''
require "json"
require "chronoforge/client"
STDIN.each_line do |line|
  v = JSON.parse(line)
  payload = v.key?("payload") ? Chronoforge::Control.payload_json(v["payload"]) : nil
  _, bytes = Chronoforge::Control.build(v["op"], v["class"], v["key"], prefix: "chronoforge", id: v["id"],
                                        by: v["by"], name: v["signal"], payload: payload,
                                        reason: v["reason"], now: 1765000000.5)
  puts bytes.unpack1("H*")
end
'''


def expected(v):
    want = {"id": v["id"], "op": v["op"], "class": v["class"], "key": v["key"],
            "reply": f"{PREFIX}:reply:{v['id']}", "sent_at": NOW}
    for src, dst in (("signal", "name"), ("by", "by"), ("reason", "reason")):
        if src in v:
            want[dst] = v[src]
    if "payload" in v:
        want["payload"] = control.payload_json(v["payload"])
    return want


def python_hex(v):
    payload = control.payload_json(v["payload"]) if "payload" in v else None
    _, data = control.build(v["op"], v["class"], v["key"], prefix=PREFIX, id=v["id"], by=v.get("by"),
                            name=v.get("signal"), payload=payload, reason=v.get("reason"), now=NOW)
    return data.hex()


def decode(decoder, hexes):
    out = subprocess.run([decoder, "--control"], input="\n".join(hexes) + "\n", text=True,
                         capture_output=True, check=True).stdout
    return out.splitlines()


RAW = [  # bytes, code, field
    (b"\xc1", "not_msgpack", ""),
    (msgpack.packb("abc"), "not_a_map", ""),
    (msgpack.packb({"v": 1, "id": "x", "op": "signal", "key": "k"}), "missing_field", "class"),
    (msgpack.packb({"v": 2, "id": "x", "op": "signal", "class": "A", "key": "k"}),
     "unsupported_version", "v"),
    (msgpack.packb({"v": 1, "id": "x", "op": "signal", "class": "A", "key": "k", "payload": 5}),
     "wrong_type", "payload"),
    (msgpack.packb({"v": 1, "id": "x y", "op": "signal", "class": "A", "key": "k"}), "bad_value", "id"),
    (msgpack.packb({"v": 1, "id": "x", "op": "signal", "class": "A", "key": "k",
                    "payload": "x" * 70000}), "too_large", "payload"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--decoder", required=True)
    args = ap.parse_args()
    with open(os.path.join(here, "vectors", "control.jsonl"), encoding="utf-8") as f:
        vectors = [json.loads(line) for line in f if line.strip()]
    ruby = subprocess.run(["/usr/bin/ruby", "-I", os.path.join(root, "clients", "ruby", "lib"), "-e", RUBY],
                          input="".join(json.dumps(v) + "\n" for v in vectors), text=True,
                          capture_output=True, check=True).stdout.split()
    py = [python_hex(v) for v in vectors]
    passed = failed = 0
    for lang, hexes in (("python", py), ("ruby", ruby)):
        for v, got in zip(vectors, decode(args.decoder, hexes)):
            try:
                ok = json.loads(got) == expected(v)
            except ValueError:
                ok = False
            if ok:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {lang} {v['name']}: decoder read {got}, want {json.dumps(expected(v), sort_keys=True)}")
    if len(ruby) != len(vectors):
        failed += 1
        print(f"FAIL ruby built {len(ruby)} requests for {len(vectors)} vectors")
    for (data, code, field), got in zip(RAW, decode(args.decoder, [d.hex() for d, _, _ in RAW])):
        if got.rstrip() == f"REFUSED {code} {field}".rstrip():
            passed += 1
        else:
            failed += 1
            print(f"FAIL raw {data[:40]!r}: decoder said {got!r}, want REFUSED {code} {field}")
    print(f"control: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
