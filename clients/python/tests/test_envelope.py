"""Envelope building and local refusals (no Redis needed)."""

import datetime
import decimal
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import msgpack  # noqa: E402

from chronoforge import Client, InvalidJob, InvalidJobType, envelope  # noqa: E402


class Charge:
    pass


class EnvelopeTest(unittest.TestCase):
    def build(self, kwargs=None, **opts):
        return envelope.build(opts.pop("cls", "OrderWorkflow"), opts.pop("key", "order-1"), kwargs, **opts)

    def assertRefused(self, code, field, fn, *args, **kwargs):
        with self.assertRaises(InvalidJob) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertEqual((code, field), (e.code, e.field), str(e))
        self.assertIn(f"[{code}]", str(e))
        self.assertIsInstance(e, ValueError)
        self.assertEqual(isinstance(e, TypeError), code == "wrong_type")
        return e

    def test_envelope_has_the_v1_fields_and_only_them(self):
        before = time.time()
        jid, data = self.build({"order_id": 42}, queue="orders", options={"max_duration": "10m"})
        after = time.time()
        env = msgpack.unpackb(data)
        self.assertEqual(["v", "jid", "class", "key", "queue", "created_at", "kwargs", "options"], list(env))
        self.assertEqual(1, env["v"])
        self.assertEqual(jid, env["jid"])
        self.assertRegex(jid, r"\A[0-9a-f]{24}\Z")
        self.assertEqual(("OrderWorkflow", "order-1", {"order_id": 42}, "orders", {"max_duration": "10m"}),
                         (env["class"], env["key"], env["kwargs"], env["queue"], env["options"]))
        self.assertIsInstance(env["created_at"], float)
        self.assertTrue(before <= env["created_at"] <= after)

    def test_jids_differ(self):
        self.assertEqual(50, len({self.build()[0] for _ in range(50)}))

    def test_strings_travel_as_str_and_tuples_as_arrays(self):
        _, data = self.build({"name": "héllo", "pair": ("a", 1)})
        # raw=False: msgpack str comes back as str, a bin value would come back as bytes. (Looking
        # for a bin8 header byte in the raw envelope is no test: created_at's float bytes may hold it.)
        env = msgpack.unpackb(data, raw=False)
        self.assertEqual(["a", 1], env["kwargs"]["pair"])
        self.assertEqual("héllo", env["kwargs"]["name"])
        self.assertIsInstance(env["kwargs"]["name"], str)
        self.assertIsInstance(env["kwargs"]["pair"][0], str)

    def test_bool_stays_bool_and_int_subclasses_are_ints(self):
        _, data = self.build({"t": True, "n": 3})
        self.assertIs(True, msgpack.unpackb(data)["kwargs"]["t"])

    def test_class_objects_give_their_name(self):
        _, data = envelope.build(Charge, "inv-1")
        self.assertEqual("Charge", msgpack.unpackb(data)["class"])

    def test_non_str_dict_keys_are_refused_at_the_dict(self):
        self.assertRefused("wrong_type", "kwargs.items[0].?", self.build, {"items": [{1: "x"}]})

    def test_datetimes_are_refused_with_advice(self):
        e = self.assertRefused("wrong_type", "kwargs.due", self.build,
                               {"due": datetime.datetime.now(datetime.timezone.utc)})
        self.assertIn("ISO-8601", str(e))
        self.assertIn("epoch", str(e))
        self.assertRefused("wrong_type", "kwargs.day", self.build, {"day": datetime.date.today()})

    def test_other_objects_are_refused(self):
        self.assertRefused("wrong_type", "kwargs.d", self.build, {"d": decimal.Decimal("1.5")})
        self.assertRefused("wrong_type", "kwargs.s", self.build, {"s": {1, 2}})
        self.assertRefused("wrong_type", "kwargs.b", self.build, {"b": bytearray(b"x")})

    def test_paths_name_the_offending_value(self):
        self.assertRefused("bad_value", "kwargs.items[2].sku", self.build,
                           {"items": [{}, {}, {"sku": float("nan")}]})

    def test_dicts_nest_fifteen_levels_below_kwargs_and_no_more(self):
        def deep(n):
            v = 1
            for _ in range(n):
                v = {"a": v}
            return v
        self.build({"m": deep(15)})
        self.assertRefused("too_deep", "kwargs.m" + ".a" * 15, self.build, {"m": deep(16)})

    def test_a_cycle_is_refused_not_a_recursion_error(self):
        a = []
        a.append(a)
        self.assertRefused("too_deep", "kwargs.a" + "[0]" * 15, self.build, {"a": a})

    def test_envelope_size_limit_is_a_setting(self):
        client = Client(redis=type("NoRedis", (), {"pipeline": lambda self: None})(), max_envelope_bytes=200)
        client.build_envelope("OrderWorkflow", "k", {"s": "x" * 50})
        self.assertRefused("too_large", "", client.build_envelope, "OrderWorkflow", "k", {"s": "x" * 200})

    def test_no_kwargs_means_empty_and_empty_options_are_left_out(self):
        env = msgpack.unpackb(envelope.build("OrderWorkflow", "k", None, options={})[1])
        self.assertEqual({}, env["kwargs"])
        self.assertNotIn("options", env)

    def test_retry_envelope(self):
        env = msgpack.unpackb(envelope.build("OrderWorkflow", "k", retry_workflow=True)[1])
        self.assertIs(True, env["retry_workflow"])
        self.assertNotIn("kwargs", env)
        self.assertRefused("bad_value", "kwargs", envelope.build, "OrderWorkflow", "k", {"a": 1},
                           retry_workflow=True)

    def test_retry_envelope_names_who_and_why(self):
        env = msgpack.unpackb(envelope.build("OrderWorkflow", "k", retry_workflow=True,
                                             requested_by="ops-dashboard", reason="fixed")[1])
        self.assertEqual("ops-dashboard", env["requested_by"])
        self.assertEqual("fixed", env["reason"])
        self.assertEqual(["v", "jid", "class", "key", "queue", "created_at", "retry_workflow",
                          "requested_by", "reason"], list(env))
        env = msgpack.unpackb(envelope.build("OrderWorkflow", "k", retry_workflow=True, reason="")[1])
        self.assertNotIn("reason", env)
        self.assertNotIn("requested_by", env)
        self.assertRefused("bad_value", "requested_by", envelope.build, "OrderWorkflow", "k",
                           retry_workflow=True, requested_by="")
        self.assertRefused("bad_value", "reason", envelope.build, "OrderWorkflow", "k",
                           retry_workflow=True, reason="x" * 1025)
        self.assertRefused("wrong_type", "requested_by", envelope.build, "OrderWorkflow", "k",
                           retry_workflow=True, requested_by=7)
        self.assertRefused("bad_value", "requested_by", envelope.build, "OrderWorkflow", "k",
                           requested_by="ops")

    def test_max_duration_forms(self):
        for d in (0, 30, 0.5, "2", "1500ms", "30s", "10m", "2h", "1d", "1.5min"):
            env = msgpack.unpackb(self.build(options={"max_duration": d})[1])
            self.assertEqual(d, env["options"]["max_duration"])
        env = msgpack.unpackb(self.build(options={"max_duration": datetime.timedelta(minutes=2)})[1])
        self.assertEqual(120.0, env["options"]["max_duration"])
        for d in (-1, -0.5, "0x10", "1 h", "36600d", "-1"):
            self.assertRefused("bad_value", "options.max_duration", self.build, options={"max_duration": d})

    def test_delay_and_at_parsing(self):
        self.assertEqual(30.0, envelope.delay_seconds("30s"))
        self.assertEqual(1.5, envelope.delay_seconds("1500ms"))
        self.assertEqual(7.0, envelope.delay_seconds(7))
        self.assertEqual(90.0, envelope.delay_seconds(datetime.timedelta(seconds=90)))
        self.assertRefused("bad_value", "delay", envelope.delay_seconds, -1)
        self.assertRefused("bad_value", "delay", envelope.delay_seconds, float("nan"))
        self.assertRefused("bad_value", "delay", envelope.delay_seconds, "soon")
        self.assertRefused("wrong_type", "delay", envelope.delay_seconds, True)
        utc = datetime.timezone.utc
        self.assertEqual(1_700_000_000_250, envelope.at_ms(datetime.datetime(2023, 11, 14, 22, 13, 20, 250000, utc)))
        self.assertEqual(1_700_000_000_500, envelope.at_ms(1_700_000_000.5))
        self.assertEqual(1_795_705_200_000, envelope.at_ms("2026-11-26T15:00:00Z"))
        self.assertEqual(1_795_705_200_000, envelope.at_ms("2026-11-26T16:00:00+01:00"))
        self.assertRefused("bad_value", "at", envelope.at_ms, "tomorrow")
        self.assertRefused("bad_value", "at", envelope.at_ms, datetime.datetime(2030, 1, 1))
        self.assertRefused("wrong_type", "at", envelope.at_ms, [])

    def test_fields_are_spelled_as_the_worker_spells_them(self):
        e = self.assertRefused("bad_value", "kwargs.caf\\xc3\\xa9.x", self.build, {"café": {"x": float("inf")}})
        self.assertIn("kwargs.café.x:", str(e))
        self.assertRefused("bad_value", "kwargs.a\\x00b", self.build, {"a\0b": 1})
        e = self.assertRefused("bad_value", "kwargs." + "n" * 120, self.build, {"n" * 200: float("nan")})
        self.assertEqual(127, len(e.field))

    def test_wrong_type_errors_are_type_errors(self):
        with self.assertRaises(TypeError):
            self.build({"b": b"bytes"})
        with self.assertRaises(InvalidJobType):
            envelope.build("OrderWorkflow", 42)


if __name__ == "__main__":
    unittest.main()
