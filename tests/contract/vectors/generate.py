#!/usr/bin/python3
"""Writes the conformance vectors (valid.jsonl, invalid.jsonl, raw.jsonl) in this folder.

The .jsonl files are the contract and are committed; this script only documents how each raw
envelope was made and keeps long values readable. Run it after editing, then review the diff:
    /usr/bin/python3 tests/contract/vectors/generate.py
See README.md here for the format.
"""

import json
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
JID = "0123456789abcdef01234567"

# Default decoded fields of a job vector, merged under each "expect".
JOB_DEFAULTS = {"v": 1, "kwargs": {}, "queue": "default", "options": {}, "retry_workflow": False}


def nest(depth, leaf=1):
    return {"$nest": [depth, leaf]}


def job(name, job_fields, expect=None, refuse=None):
    v = {"name": name, "job": job_fields}
    if refuse:
        v["refuse"] = {"code": refuse[0], "field": refuse[1]}
    else:
        e = dict(JOB_DEFAULTS)
        e.update({"class": job_fields["class"], "key": job_fields["key"]})
        for k in ("kwargs", "queue", "options", "retry_workflow"):
            if k in job_fields:
                e[k] = job_fields[k]
        e.update(expect or {})
        v["expect"] = e
    return v


def expand(v):
    """The plain value of a tagged vector value ($nest, $nestmap, $repeat) for expectations."""
    if isinstance(v, dict) and len(v) == 1 and "$nestmap" in v:
        depth, name, leaf = v["$nestmap"]
        out = leaf
        for _ in range(depth):
            out = {name: out}
        return out
    if isinstance(v, dict) and len(v) == 1 and "$nest" in v:
        depth, leaf = v["$nest"]
        out = leaf
        for _ in range(depth):
            out = [out]
        return out
    if isinstance(v, dict) and len(v) == 1 and "$repeat" in v:
        s, n = v["$repeat"]
        return s * n
    return v


VALID = [
    job("minimal: class and key only, no kwargs", {"class": "OrderWorkflow", "key": "order-1"}),
    job("scalar kwargs of every JSON type",
        {"class": "OrderWorkflow", "key": "order-2",
         "kwargs": {"s": "text", "i": 42, "neg": -7, "f": 1.5, "t": True, "fa": False, "n": None}}),
    job("int64 bounds stay exact", {"class": "Limits", "key": "int64",
                                     "kwargs": {"max": 2**63 - 1, "min": -(2**63), "p53": 2**53 + 1}}),
    job("float edge values", {"class": "Limits", "key": "floats",
                              "kwargs": {"pi": 3.141592653589793, "tiny": 5e-324,
                                         "huge": 1.7976931348623157e308, "negzero": -0.0,
                                         "small": -2.5e-10}}),
    job("an integral float stays a float", {"class": "Limits", "key": "two", "kwargs": {"two": 2.0, "int": 2}}),
    job("nested arrays and maps",
        {"class": "OrderWorkflow", "key": "order-3",
         "kwargs": {"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1, "tags": ["x", "y"]}],
                    "matrix": [[1, 2], [3, [4, [5]]]]}}),
    job("unicode key, values and names",
        {"class": "Greeter", "key": "ключ-🔑", "kwargs": {"name": "héllo wörld ✓", "名前": "値", "emoji": "🎉"}}),
    job("namespaced class", {"class": "Billing::Charge", "key": "inv-9", "kwargs": {"amount_cents": 1999}}),
    job("dotted class with digits and underscores", {"class": "billing.charge_v2", "key": "inv-10"}),
    job("class of 128 characters (the limit)", {"class": "C" * 128, "key": "long-class"}),
    job("key of 256 bytes in 2-byte characters (the limit)", {"class": "OrderWorkflow", "key": "é" * 128}),
    job("key of one character", {"class": "OrderWorkflow", "key": "k"}),
    job("named queue", {"class": "OrderWorkflow", "key": "order-4", "queue": "orders"}),
    job("queue of every allowed character, 64 long",
        {"class": "OrderWorkflow", "key": "order-5", "queue": ("Az09_.-" * 10)[:64]}),
    job("kwargs named like envelope fields and client options",
        {"class": "OrderWorkflow", "key": "order-6",
         "kwargs": {"queue": "not-the-queue", "class": "x", "key": "y", "options": 1, "wait": 3,
                    "delay": 4, "at": "soon", "jid": "j", "v": 2}}),
    job("reserved names are fine below the top of kwargs",
        {"class": "OrderWorkflow", "key": "order-7", "kwargs": {"meta": {"attempt": 1, "retry_counts": {}}}}),
    job("max_duration in seconds", {"class": "OrderWorkflow", "key": "order-8", "options": {"max_duration": 30}}),
    job("max_duration fractional seconds", {"class": "OrderWorkflow", "key": "order-9",
                                            "options": {"max_duration": 0.5}}),
    job("max_duration as minutes", {"class": "OrderWorkflow", "key": "order-10", "options": {"max_duration": "10m"}}),
    job("max_duration as milliseconds", {"class": "OrderWorkflow", "key": "order-11",
                                         "options": {"max_duration": "1500ms"}}),
    job("retry_later envelope", {"class": "OrderWorkflow", "key": "order-12", "retry_workflow": True}),
    job("retry_later on a named queue", {"class": "Billing::Charge", "key": "inv-11", "queue": "billing",
                                         "retry_workflow": True}),
    job("15 levels of containers below kwargs (the limit)",
        {"class": "Deep", "key": "deep-15", "kwargs": {"deep": nest(15)}},
        expect={"kwargs": {"deep": expand(nest(15))}}),
    job("max_duration zero", {"class": "OrderWorkflow", "key": "order-14", "options": {"max_duration": 0}}),
    job("other options travel as given", {"class": "OrderWorkflow", "key": "order-15",
                                          "options": {"max_duration": "2h", "note": ["a", 1]}}),
    job("empty containers and strings", {"class": "OrderWorkflow", "key": "order-13",
                                         "kwargs": {"a": [], "m": {}, "s": "", "": "empty name"}}),
    job("control characters, quotes and backslashes",
        {"class": "OrderWorkflow", "key": "line1\nline2\t\"q\" \\ \u0001",
         "kwargs": {"text": "tab\there\r\n\u001f \"quoted\" back\\slash \u007f"}}),
    job("a 500000-byte string fits under 512 KiB",
        {"class": "Bulk", "key": "big", "kwargs": {"blob": {"$repeat": ["x", 500000]}}},
        expect={"kwargs": {"blob": {"$repeat": ["x", 500000]}}}),
]

DEEP_FIELD = "kwargs.deep" + "[0]" * 15  # the first container at depth 17
INVALID = [
    job("empty key", {"class": "OrderWorkflow", "key": ""}, refuse=("bad_value", "key")),
    job("key of 257 bytes", {"class": "OrderWorkflow", "key": "k" * 257}, refuse=("bad_value", "key")),
    job("key of 258 bytes in 2-byte characters", {"class": "OrderWorkflow", "key": "é" * 129},
        refuse=("bad_value", "key")),
    job("NUL inside the key", {"class": "OrderWorkflow", "key": "a\u0000b"}, refuse=("bad_value", "key")),
    job("integer key", {"class": "OrderWorkflow", "key": 42}, refuse=("wrong_type", "key")),
    job("nil key", {"class": "OrderWorkflow", "key": None}, refuse=("wrong_type", "key")),
    job("key not valid UTF-8", {"class": "OrderWorkflow", "key": {"$badutf8": "6bff"}},
        refuse=("bad_utf8", "key")),
    job("binary key", {"class": "OrderWorkflow", "key": {"$bytes": "6b6579"}}, refuse=("wrong_type", "key")),
    job("empty class", {"class": "", "key": "k"}, refuse=("bad_value", "class")),
    job("class with a space", {"class": "Order Workflow", "key": "k"}, refuse=("bad_value", "class")),
    job("class with a non-ASCII letter", {"class": "Ordér", "key": "k"}, refuse=("bad_value", "class")),
    job("class with a slash", {"class": "Billing/Charge", "key": "k"}, refuse=("bad_value", "class")),
    job("class of 129 characters", {"class": "C" * 129, "key": "k"}, refuse=("bad_value", "class")),
    job("integer class", {"class": 7, "key": "k"}, refuse=("wrong_type", "class")),
    job("empty queue", {"class": "OrderWorkflow", "key": "k", "queue": ""}, refuse=("bad_value", "queue")),
    job("queue with a space", {"class": "OrderWorkflow", "key": "k", "queue": "high prio"},
        refuse=("bad_value", "queue")),
    job("queue with braces", {"class": "OrderWorkflow", "key": "k", "queue": "{x}"}, refuse=("bad_value", "queue")),
    job("queue of 65 characters", {"class": "OrderWorkflow", "key": "k", "queue": "q" * 65},
        refuse=("bad_value", "queue")),
    job("integer queue", {"class": "OrderWorkflow", "key": "k", "queue": 3}, refuse=("wrong_type", "queue")),
    job("kwargs is an array", {"class": "OrderWorkflow", "key": "k", "kwargs": [1, 2]},
        refuse=("wrong_type", "kwargs")),
    job("kwargs is a string", {"class": "OrderWorkflow", "key": "k", "kwargs": "order_id=1"},
        refuse=("wrong_type", "kwargs")),
    job("reserved kwarg attempt", {"class": "OrderWorkflow", "key": "k", "kwargs": {"attempt": 1}},
        refuse=("reserved_name", "kwargs.attempt")),
    job("reserved kwarg retry_counts", {"class": "OrderWorkflow", "key": "k", "kwargs": {"retry_counts": {}}},
        refuse=("reserved_name", "kwargs.retry_counts")),
    job("reserved kwarg retry_workflow", {"class": "OrderWorkflow", "key": "k",
                                          "kwargs": {"a": 1, "retry_workflow": True}},
        refuse=("reserved_name", "kwargs.retry_workflow")),
    job("NaN value", {"class": "OrderWorkflow", "key": "k", "kwargs": {"x": {"$float": "nan"}}},
        refuse=("bad_value", "kwargs.x")),
    job("Infinity deep inside", {"class": "OrderWorkflow", "key": "k",
                                 "kwargs": {"a": [0, {"b": {"$float": "inf"}}]}},
        refuse=("bad_value", "kwargs.a[1].b")),
    job("-Infinity", {"class": "OrderWorkflow", "key": "k", "kwargs": {"x": {"$float": "-inf"}}},
        refuse=("bad_value", "kwargs.x")),
    job("integer 2^63", {"class": "OrderWorkflow", "key": "k", "kwargs": {"n": 2**63}},
        refuse=("bad_value", "kwargs.n")),
    job("integer -2^63-1", {"class": "OrderWorkflow", "key": "k", "kwargs": {"n": -(2**63) - 1}},
        refuse=("bad_value", "kwargs.n")),
    job("integer 2^64", {"class": "OrderWorkflow", "key": "k", "kwargs": {"n": 2**64}},
        refuse=("bad_value", "kwargs.n")),
    job("binary value", {"class": "OrderWorkflow", "key": "k", "kwargs": {"blob": {"$bytes": "0001ff"}}},
        refuse=("wrong_type", "kwargs.blob")),
    job("binary value inside an array of maps",
        {"class": "OrderWorkflow", "key": "k",
         "kwargs": {"items": [{"data": "a"}, {"data": "b"}, {"sku": "c", "data": {"$bytes": "00"}}]}},
        refuse=("wrong_type", "kwargs.items[2].data")),
    job("a time object", {"class": "OrderWorkflow", "key": "k", "kwargs": {"at": {"$time": 1700000000}}},
        refuse=("wrong_type", "kwargs.at")),
    job("NUL inside a value", {"class": "OrderWorkflow", "key": "k", "kwargs": {"s": "a\u0000b"}},
        refuse=("bad_value", "kwargs.s")),
    job("value not valid UTF-8", {"class": "OrderWorkflow", "key": "k", "kwargs": {"s": {"$badutf8": "61c328"}}},
        refuse=("bad_utf8", "kwargs.s")),
    job("16 levels of containers below kwargs", {"class": "Deep", "key": "k", "kwargs": {"deep": nest(16)}},
        refuse=("too_deep", DEEP_FIELD)),
    job("maps nested 16 levels below kwargs", {"class": "Deep", "key": "k",
                                               "kwargs": {"m": {"$nestmap": [16, "a", 1]}}},
        refuse=("too_deep", "kwargs.m" + ".a" * 15)),
    job("a refusal below a non-ASCII name", {"class": "OrderWorkflow", "key": "k",
                                             "kwargs": {"名前": {"x": {"$float": "nan"}}}},
        refuse=("bad_value", "kwargs.\\xe5\\x90\\x8d\\xe5\\x89\\x8d.x")),
    job("NUL inside a kwargs name", {"class": "OrderWorkflow", "key": "k", "kwargs": {"a\u0000b": 1}},
        refuse=("bad_value", "kwargs.a\\x00b")),
    job("several problems: the class is reported first",
        {"class": "bad class", "key": "", "queue": "bad queue", "kwargs": {"attempt": 1}},
        refuse=("bad_value", "class")),
    job("several problems: the queue before kwargs",
        {"class": "OrderWorkflow", "key": "k", "queue": "bad queue", "kwargs": {"x": {"$float": "nan"}}},
        refuse=("bad_value", "queue")),
    job("several problems: the first kwarg in order",
        {"class": "OrderWorkflow", "key": "k", "kwargs": {"b": {"$bytes": "00"}, "attempt": 1}},
        refuse=("wrong_type", "kwargs.b")),
    job("envelope over 512 KiB", {"class": "Bulk", "key": "k", "kwargs": {"blob": {"$repeat": ["x", 530000]}}},
        refuse=("too_large", "")),
    job("max_duration with an unknown unit", {"class": "OrderWorkflow", "key": "k",
                                              "options": {"max_duration": "10 parsecs"}},
        refuse=("bad_value", "options.max_duration")),
    job("negative max_duration", {"class": "OrderWorkflow", "key": "k", "options": {"max_duration": -5}},
        refuse=("bad_value", "options.max_duration")),
    job("empty max_duration", {"class": "OrderWorkflow", "key": "k", "options": {"max_duration": ""}},
        refuse=("bad_value", "options.max_duration")),
    job("boolean max_duration", {"class": "OrderWorkflow", "key": "k", "options": {"max_duration": True}},
        refuse=("wrong_type", "options.max_duration")),
    job("options is a string", {"class": "OrderWorkflow", "key": "k", "options": "fast"},
        refuse=("wrong_type", "options")),
]


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def env(**fields):
    """An envelope map with the usual required fields, overridden/extended by fields (None deletes)."""
    e = {"v": 1, "jid": JID, "class": "OrderWorkflow", "key": "order-1", "queue": "default"}
    for k, v in fields.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def raw(name, data, expect=None, refuse=None):
    if isinstance(data, list):  # [bytes | (bytes, count)] -> compact parts
        hexed = [p.hex() if isinstance(p, bytes) else [p[0].hex(), p[1]] for p in data]
    else:
        hexed = data.hex()
    v = {"name": name, "raw_hex": hexed}
    if refuse:
        v["refuse"] = {"code": refuse[0], "field": refuse[1]}
    else:
        v["expect"] = expect
    return v


def s(text):  # msgpack str, minimal form
    return pack(text)


def kw(pairs_bytes, n):
    """An envelope whose kwargs map is n raw entries (hand-made bytes)."""
    base = env()
    body = b"".join(s(k) + pack(v) for k, v in base.items())
    return bytes([0x80 | (len(base) + 1)]) + body + s("kwargs") + bytes([0x80 | n]) + pairs_bytes


BASE_EXPECT = {"v": 1, "jid": JID, "class": "OrderWorkflow", "key": "order-1", "queue": "default",
               "kwargs": {}, "options": {}, "retry_workflow": False}
RAW = [
    raw("valid: the smallest envelope (v, jid, class, key)", pack(env(queue=None)),
        expect={"v": 1, "jid": JID, "class": "OrderWorkflow", "key": "order-1", "kwargs": {}, "options": {},
                "retry_workflow": False, "created_at": None}),
    raw("valid: every field", pack(env(kwargs={"order_id": 42}, created_at=1700000000.25,
                                       options={"max_duration": "30s"}, retry_workflow=True)),
        expect=dict(BASE_EXPECT, kwargs={"order_id": 42}, created_at=1700000000.25,
                    options={"max_duration": "30s"}, retry_workflow=True)),
    raw("valid: unknown top-level keys are ignored", pack(env(future_field={"x": [1]}, priority=5)),
        expect=BASE_EXPECT),
    raw("valid: uint64 encoding of a small integer", kw(s("n") + b"\xcf" + struct.pack(">Q", 5), 1),
        expect=dict(BASE_EXPECT, kwargs={"n": 5})),
    raw("valid: int64 max as uint64", kw(s("n") + b"\xcf" + struct.pack(">Q", 2**63 - 1), 1),
        expect=dict(BASE_EXPECT, kwargs={"n": 2**63 - 1})),
    raw("valid: float32 value", kw(s("f") + b"\xca" + struct.pack(">f", 1.5), 1),
        expect=dict(BASE_EXPECT, kwargs={"f": 1.5})),
    raw("valid: non-minimal str8 and map16 headers",
        b"\xde\x00\x05" + b"".join(b"\xd9" + bytes([len(k)]) + k.encode() + pack(v) for k, v in env().items()),
        expect=BASE_EXPECT),
    raw("empty payload", b"", refuse=("not_msgpack", "")),
    raw("a byte msgpack never uses (0xc1)", b"\xc1", refuse=("not_msgpack", "")),
    raw("truncated: map header promises more entries", pack(env())[:-9], refuse=("not_msgpack", "")),
    raw("an array, not a map", pack(["OrderWorkflow", "order-1"]), refuse=("not_a_map", "")),
    raw("an integer, not a map", pack(1), refuse=("not_a_map", "")),
    raw("trailing byte after the map", pack(env()) + b"\xc0", refuse=("trailing_bytes", "")),
    raw("two envelopes back to back", pack(env()) + pack(env()), refuse=("trailing_bytes", "")),
    raw("duplicate key 'key'", bytes([0x85]) + b"".join(s(k) + pack(v) for k, v in env(queue=None).items())
        + s("key") + s("other"), refuse=("bad_value", "key")),
    raw("missing v", pack(env(v=None)), refuse=("missing_field", "v")),
    raw("missing jid", pack(env(jid=None)), refuse=("missing_field", "jid")),
    raw("missing class", pack(env(**{"class": None})), refuse=("missing_field", "class")),
    raw("missing key", pack(env(key=None)), refuse=("missing_field", "key")),
    raw("version 2", pack(env(v=2)), refuse=("unsupported_version", "v")),
    raw("version as a string", pack(env(v="1")), refuse=("wrong_type", "v")),
    raw("empty jid", pack(env(jid="")), refuse=("bad_value", "jid")),
    raw("jid of 65 bytes", pack(env(jid="j" * 65)), refuse=("bad_value", "jid")),
    raw("integer jid", pack(env(jid=12345)), refuse=("wrong_type", "jid")),
    raw("bin key", pack(env(key=b"order-1")), refuse=("wrong_type", "key")),
    raw("key not valid UTF-8 (str with 0xff)", bytes([0x85])
        + b"".join(s(k) + pack(v) for k, v in env(key=None).items()) + s("key") + b"\xa2k\xff",
        refuse=("bad_utf8", "key")),
    raw("class with a space", pack(env(**{"class": "Order Workflow"})), refuse=("bad_value", "class")),
    raw("queue with a slash", pack(env(queue="a/b")), refuse=("bad_value", "queue")),
    raw("kwargs is an array", pack(env(kwargs=[1])), refuse=("wrong_type", "kwargs")),
    raw("kwargs with an integer key", kw(b"\x01" + pack(1), 1), refuse=("wrong_type", "kwargs.?")),
    raw("kwargs with a bin key", kw(b"\xc4\x01k" + pack(1), 1), refuse=("wrong_type", "kwargs.?")),
    raw("an integer key at the top", bytes([0x86]) + b"".join(s(k) + pack(v) for k, v in env().items())
        + b"\x07\x01", refuse=("wrong_type", "?")),
    raw("duplicate key inside kwargs", kw(s("a") + pack(1) + s("a") + pack(2), 2), refuse=("bad_value", "kwargs.a")),
    raw("kwargs key not valid UTF-8", kw(b"\xa2k\xff" + pack(1), 1), refuse=("bad_utf8", "kwargs.k\\xff")),
    raw("version 0", pack(env(v=0)), refuse=("bad_value", "v")),
    raw("version 2 wins over other problems", pack(env(v=2, jid="", key=None)), refuse=("unsupported_version", "v")),
    raw("NUL inside the jid", pack(env(jid="a\0b")), refuse=("bad_value", "jid")),
    raw("nil queue is not an absent queue", bytes([0x85])
        + b"".join(s(k) + pack(v) for k, v in env(queue=None).items()) + s("queue") + b"\xc0",
        refuse=("wrong_type", "queue")),
    raw("valid: integer created_at", pack(env(created_at=1700000000)),
        expect=dict(BASE_EXPECT, created_at=1700000000.0)),
    raw("negative created_at", pack(env(created_at=-1.0)), refuse=("bad_value", "created_at")),
    raw("too deep below an unknown key", pack(env(future=expand(nest(17)))),
        refuse=("too_deep", "future" + "[0]" * 16)),
    raw("over 512 KiB wins over a malformed tail", [b"\x81\xa1x\xdb" + struct.pack(">I", 600000),
                                                    (b"y", 524288)], refuse=("too_large", "")),
    raw("reserved kwarg attempt", pack(env(kwargs={"attempt": 2})), refuse=("reserved_name", "kwargs.attempt")),
    raw("bin value in kwargs", kw(s("blob") + b"\xc4\x03\x00\x01\xff", 1), refuse=("wrong_type", "kwargs.blob")),
    raw("timestamp ext value in kwargs", kw(s("t") + b"\xd6\xff" + struct.pack(">I", 1700000000), 1),
        refuse=("wrong_type", "kwargs.t")),
    raw("fixext 1 value in kwargs", kw(s("e") + b"\xd4\x05\x00", 1), refuse=("wrong_type", "kwargs.e")),
    raw("float64 NaN", kw(s("x") + b"\xcb" + struct.pack(">d", float("nan")), 1), refuse=("bad_value", "kwargs.x")),
    raw("float32 +Infinity", kw(s("x") + b"\xca" + struct.pack(">f", float("inf")), 1),
        refuse=("bad_value", "kwargs.x")),
    raw("uint64 above int64", kw(s("n") + b"\xcf" + struct.pack(">Q", 2**63), 1), refuse=("bad_value", "kwargs.n")),
    raw("uint64 max", kw(s("n") + b"\xcf" + b"\xff" * 8, 1), refuse=("bad_value", "kwargs.n")),
    raw("NUL inside a kwargs string", pack(env(kwargs={"s": "a\0b"})), refuse=("bad_value", "kwargs.s")),
    raw("array header claiming 2^32-1 elements", kw(s("a") + b"\xdd\xff\xff\xff\xff" + b"\xc0" * 4, 1),
        refuse=("not_msgpack", "")),
    raw("map header claiming 2^32-1 entries", kw(s("m") + b"\xdf\xff\xff\xff\xff" + b"\xc0" * 4, 1),
        refuse=("not_msgpack", "")),
    raw("str header claiming 2^32-1 bytes", kw(s("s") + b"\xdb\xff\xff\xff\xff" + b"abc", 1),
        refuse=("not_msgpack", "")),
    raw("16 levels of containers below kwargs", pack(env(kwargs={"deep": expand(nest(16))})),
        refuse=("too_deep", DEEP_FIELD)),
    raw("arrays nested 10000 levels", kw(s("deep") + b"\x91" * 10000 + b"\xc0", 1),
        refuse=("too_deep", DEEP_FIELD)),
    raw("envelope over 512 KiB", [bytes([0x86]) + b"".join(s(k) + pack(v) for k, v in env().items())
                                  + s("kwargs") + b"\x81" + s("blob") + b"\xdb" + struct.pack(">I", 512 * 1024),
                                  (b"x", 512 * 1024)], refuse=("too_large", "")),
    raw("retry_workflow as a string", pack(env(retry_workflow="yes")), refuse=("wrong_type", "retry_workflow")),
    raw("created_at as a string", pack(env(created_at="2026-11-26T16:20:00Z")),
        refuse=("wrong_type", "created_at")),
    raw("max_duration that is not a duration", pack(env(options={"max_duration": "soon"})),
        refuse=("bad_value", "options.max_duration")),
    raw("options is an array", pack(env(options=["max_duration", 30])), refuse=("wrong_type", "options")),
]


def write(name, vectors):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        for v in vectors:
            f.write(json.dumps(v, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write("valid.jsonl", VALID)
    write("invalid.jsonl", INVALID)
    write("raw.jsonl", RAW)
    print(f"valid {len(VALID)}, invalid {len(INVALID)}, raw {len(RAW)}")
