"""signal(...) and cancel(...): control requests over Redis (SPEC §2), against a real Redis
(CF_TEST_REDIS_URL; skipped without it unless CF_TEST_REQUIRE_SERVICES=1). A worker's answer is
played by the test, pushing the reply bytes a worker would."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import msgpack  # noqa: E402

from tests import redis_support  # noqa: E402
from chronoforge import Client, InvalidJob  # noqa: E402


class NoRedis:
    """A Redis stand-in that fails the test if the client talks to it."""

    def _used(self, *args, **kwargs):
        raise AssertionError("the client used Redis before refusing the request")

    pipeline = lpush = brpop = _used


class ControlTest(unittest.TestCase):
    def setUp(self):
        redis_support.connect(self)
        self.client = Client(self.r, self.prefix)

    def answer(self, rid, outcome, code=None, reason=None):
        reply = {"v": 1, "id": rid, "outcome": outcome}
        if code:
            reply.update(code=code, reason=reason)
        self.r.lpush(f"{self.prefix}:reply:{rid}", msgpack.packb(reply, use_bin_type=True))

    def queued(self, queue="default"):
        return [msgpack.unpackb(b, raw=False)
                for b in self.r.lrange(f"{self.prefix}:{{{queue}}}:control", 0, -1)]

    def test_signal_without_a_worker_is_pending_and_stays_queued(self):
        res = self.client.signal("Order", "o-1", "paid", {"amount": 5}, id="sig-1", timeout=0.05,
                                 by="billing")
        self.assertTrue(res.pending)
        self.assertEqual(res.id, "sig-1")
        [req] = self.queued()
        sent_at = req.pop("sent_at")
        self.assertIsInstance(sent_at, float)
        self.assertEqual(req, {"v": 1, "id": "sig-1", "op": "signal", "class": "Order",
                               "key": "o-1", "reply": f"{self.prefix}:reply:sig-1",
                               "by": "billing", "name": "paid", "payload": '{"amount":5}'})

    def test_signal_accepted_and_refused_answers(self):
        self.answer("sig-2", "accepted")
        res = self.client.signal("Order", "o-2", "paid", id="sig-2", queue="orders", timeout=2)
        self.assertTrue(res.accepted)
        self.assertNotIn("payload", self.queued("orders")[0])
        self.answer("sig-3", "refused", "finished", "workflow Order/o-3 is completed")
        res = self.client.signal("Order", "o-3", "paid", json_text="[1,2]", id="sig-3", timeout=2)
        self.assertTrue(res.refused)
        self.assertEqual((res.code, res.reason), ("finished", "workflow Order/o-3 is completed"))
        self.assertEqual(self.r.exists(f"{self.prefix}:reply:sig-3"), 0)  # the reply was taken

    def test_cancel_sends_its_reason(self):
        self.answer("c-1", "accepted")
        res = self.client.cancel("Order", "o-4", reason="customer asked", id="c-1", timeout=2)
        self.assertTrue(res.accepted)
        [req] = self.queued()
        self.assertEqual((req["op"], req["reason"], req["key"]), ("cancel", "customer asked", "o-4"))

    def test_bad_requests_are_refused_before_redis(self):
        client = Client(NoRedis(), self.prefix)
        cases = [
            (dict(name="a$b"), "bad_value", "name"),
            (dict(name=""), "bad_value", "name"),
            (dict(name="go", payload="x" * 70000), "too_large", "payload"),
            (dict(name="go", payload=float("nan")), "wrong_type", "payload"),
            (dict(name="go", id="has space"), "bad_value", "id"),
        ]
        for kwargs, code, field in cases:
            with self.subTest(**{k: str(v)[:20] for k, v in kwargs.items()}):
                with self.assertRaises(InvalidJob) as cm:
                    client.signal("Order", "o-5", **kwargs)
                self.assertEqual((cm.exception.code, cm.exception.field), (code, field))


if __name__ == "__main__":
    unittest.main()
