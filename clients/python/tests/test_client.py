"""The client against a real Redis (CF_TEST_REDIS_URL; skipped without it unless
CF_TEST_REQUIRE_SERVICES=1)."""

import datetime
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import msgpack  # noqa: E402

from tests import redis_support  # noqa: E402
from chronoforge import Client, InvalidJob, Job  # noqa: E402


def now_ms():
    return time.time_ns() // 1_000_000


class RecordingRedis:
    """Forwards to a Redis and records the methods the client called on it."""

    def __init__(self, r):
        self._r = r
        self.calls = []

    @property
    def __class__(self):  # isinstance() sees the wrapped client's class: a cluster stays one
        return type(self._r)

    def __getattr__(self, name):
        target = getattr(self._r, name)

        def call(*args, **kwargs):
            self.calls.append(name)
            return target(*args, **kwargs)
        return call


class ClientTest(unittest.TestCase):
    def setUp(self):
        redis_support.connect(self)
        self.client = Client(self.r, self.prefix)

    def key(self, suffix):
        return f"{self.prefix}:{suffix}"

    def jids(self, items):
        return [msgpack.unpackb(b)["jid"] for b in items]

    def test_enqueue_pushes_to_the_ready_list_and_registers_the_queue(self):
        jid = self.client.enqueue("OrderWorkflow", "order-1", {"order_id": 1, "queue": "a kwarg"})
        items = self.r.lrange(self.key("{default}:ready"), 0, -1)
        self.assertEqual(1, len(items))
        env = msgpack.unpackb(items[0])
        self.assertEqual(jid, env["jid"])
        self.assertEqual({"order_id": 1, "queue": "a kwarg"}, env["kwargs"])
        self.assertEqual("default", env["queue"])
        self.assertEqual({b"default"}, self.r.smembers(self.key("queues")))

    def test_named_queue_goes_to_its_own_list(self):
        self.client.enqueue("OrderWorkflow", "order-2", queue="orders")
        self.assertEqual(0, self.r.llen(self.key("{default}:ready")))
        self.assertEqual(1, self.r.llen(self.key("{orders}:ready")))
        self.assertEqual({b"orders"}, self.r.smembers(self.key("queues")))

    def test_a_client_from_a_url_with_password(self):
        client = Client(self.url, self.prefix)
        client.enqueue("OrderWorkflow", "order-3")
        self.assertEqual(1, self.r.llen(self.key("{default}:ready")))
        client.redis.close()

    def test_ready_list_is_fifo_for_a_worker_taking_from_the_right(self):
        jids = [self.client.enqueue("OrderWorkflow", f"order-{i}") for i in range(3)]
        taken = [msgpack.unpackb(self.r.rpop(self.key("{default}:ready")))["jid"] for _ in range(3)]
        self.assertEqual(jids, taken)

    def test_delay_schedules_the_first_run(self):
        before = now_ms()
        jid = self.client.enqueue("OrderWorkflow", "order-4", delay=30)
        after = now_ms()
        self.assertEqual(0, self.r.llen(self.key("{default}:ready")))
        entries = self.r.zrange(self.key("{default}:scheduled"), 0, -1, withscores=True)
        self.assertEqual(1, len(entries))
        self.assertEqual(jid, msgpack.unpackb(entries[0][0])["jid"])
        self.assertTrue(before + 30_000 <= entries[0][1] <= after + 30_000)
        self.assertEqual({b"default"}, self.r.smembers(self.key("queues")))

    def test_at_schedules_at_that_time(self):
        utc = datetime.timezone.utc
        self.client.enqueue("OrderWorkflow", "order-5", queue="later",
                            at=datetime.datetime(2030, 3, 17, 17, 46, 40, 125000, utc))
        self.client.enqueue("OrderWorkflow", "order-6", queue="later", at="2030-01-01T00:00:00Z")
        scores = [s for _, s in self.r.zrange(self.key("{later}:scheduled"), 0, -1, withscores=True)]
        self.assertEqual([1_893_456_000_000.0, 1_900_000_000_125.0], scores)

    def test_delay_and_at_together_are_refused(self):
        with self.assertRaises(InvalidJob) as cm:
            self.client.enqueue("OrderWorkflow", "k", delay=1, at=time.time())
        self.assertIn("not both", str(cm.exception))

    def test_enqueue_many_is_one_round_trip_and_keeps_order(self):
        """One pipeline on a single Redis; on a cluster SADD, then one command per queue and kind."""
        recording = RecordingRedis(self.r)
        client = Client(recording, self.prefix)
        jids = client.enqueue_many([
            Job("OrderWorkflow", "o-1", {"n": 1}),
            Job("OrderWorkflow", "o-2", queue="orders"),
            {"workflow_class": "Billing::Charge", "key": "i-1", "delay": "10m"},
            Job("OrderWorkflow", "o-3"),
        ])
        expected = ["sadd", "lpush", "lpush", "zadd"] if redis_support.on_cluster() else ["pipeline"]
        self.assertEqual(expected, recording.calls)
        self.assertEqual(4, len(set(jids)))
        ready = self.jids(reversed(self.r.lrange(self.key("{default}:ready"), 0, -1)))
        self.assertEqual([jids[0], jids[3]], ready)
        self.assertEqual([jids[1]], self.jids(self.r.lrange(self.key("{orders}:ready"), 0, -1)))
        self.assertEqual([jids[2]], self.jids(self.r.zrange(self.key("{default}:scheduled"), 0, -1)))
        self.assertEqual({b"default", b"orders"}, self.r.smembers(self.key("queues")))

    def test_enqueue_many_sends_nothing_when_one_job_is_invalid(self):
        with self.assertRaises(InvalidJob) as cm:
            self.client.enqueue_many([Job("OrderWorkflow", "ok"), Job("OrderWorkflow", "")])
        self.assertEqual(("bad_value", "key"), (cm.exception.code, cm.exception.field))
        self.assertIn("jobs[1]", str(cm.exception))
        self.assertEqual([], list(self.r.scan_iter(match=f"{self.prefix}:*")))

    def test_enqueue_many_rejects_unknown_fields_and_accepts_nothing(self):
        with self.assertRaises(TypeError):
            self.client.enqueue_many([{"workflow_class": "OrderWorkflow", "key": "k", "dealy": 5}])
        recording = RecordingRedis(self.r)
        self.assertEqual([], Client(recording, self.prefix).enqueue_many([]))
        self.assertEqual([], recording.calls)

    def test_retry_later_pushes_a_retry_envelope(self):
        jid = self.client.retry_later("OrderWorkflow", "order-7", queue="orders")
        env = msgpack.unpackb(self.r.lrange(self.key("{orders}:ready"), 0, -1)[0])
        self.assertEqual((jid, True, "order-7"), (env["jid"], env["retry_workflow"], env["key"]))
        self.assertNotIn("kwargs", env)

    def test_constructor_checks_its_arguments(self):
        with self.assertRaises(ValueError):
            Client(self.r, "")
        with self.assertRaises(ValueError):
            Client(self.r, "a{b}")
        with self.assertRaises(ValueError):
            Client(self.r, "p" * 129)
        with self.assertRaises(TypeError):
            Client(42)


if __name__ == "__main__":
    unittest.main()
