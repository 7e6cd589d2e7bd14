"""The producer on a Redis Cluster (tests/run.sh --cluster): what a worker relies on (the
envelope in P:{Q}:ready / scheduled, the queue in P:queues) with the queues set and the queues'
slots on different masters, and during a slot migration (ASK). Skipped on one Redis."""

import os
import secrets
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import msgpack  # noqa: E402
import redis  # noqa: E402
from redis.cluster import RedisCluster  # noqa: E402

from tests import redis_support  # noqa: E402
from chronoforge import Client, Job, redis_url  # noqa: E402


class ClusterUrlTest(unittest.TestCase):
    def test_cluster_urls_are_parsed_and_checked(self):
        self.assertEqual(([("h1", 7000), ("h2", 7001)], {"username": "u", "password": "p@ss"}),
                         redis_url.parse_cluster("redis+cluster://u:p%40ss@h1:7000,h2:7001/0"))
        self.assertEqual(([("h1", 7000)], {}), redis_url.parse_cluster("redis+cluster://h1:7000"))
        for bad in ("redis+cluster://h1:7000/3", "redis+cluster://h1,h2:7001", "redis+cluster://",
                    "redis://h1:7000"):
            with self.assertRaises(ValueError, msg=bad):
                redis_url.parse_cluster(bad)


@unittest.skipUnless(redis_support.on_cluster(), "CF_TEST_REDIS_CLUSTER is not 1 (not a Redis Cluster)")
class ClusterTest(unittest.TestCase):
    def setUp(self):
        redis_support.connect(self)
        self.client = Client(self.r, self.prefix)

    def node(self, port):
        r = redis.Redis(host="127.0.0.1", port=port, password=os.environ["CF_TEST_REDIS_PASSWORD"])
        self.addCleanup(r.close)
        return r

    def masters(self):
        """{port: (node id, [(lo, hi), ...])} of the masters serving slots."""
        out = {}
        seed = int(os.environ["CF_TEST_REDIS_CLUSTER_PORTS"].split()[0])
        # "CLUSTER", "NODES" apart: redis-py keeps the text (its "CLUSTER NODES" callback parses it).
        for line in self.node(seed).execute_command("CLUSTER", "NODES").decode().splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
                ranges = [tuple(int(x) for x in (r.split("-") * 2)[:2]) for r in f[8:] if not r.startswith("[")]
                out[int(f[1].split("@")[0].rsplit(":", 1)[1])] = (f[0], ranges)
        return out

    def master_of(self, key):
        slot = self.r.keyslot(key)
        return next(p for p, (_, ranges) in self.masters().items()
                    if any(lo <= slot <= hi for lo, hi in ranges))

    def queue_on_another_master(self, *avoid):
        for i in range(1, 1000):
            if self.master_of(self.client.ready_key(f"q{i}")) not in avoid:
                return f"q{i}"
        self.fail(f"no queue name lands on a master outside {avoid}")

    def jids(self, items):
        return [msgpack.unpackb(b)["jid"] for b in items]

    def test_a_cluster_url_gives_a_cluster_client(self):
        client = Client(self.url, self.prefix)
        self.assertIsInstance(client.redis, RedisCluster)
        self.assertTrue(client.cluster)
        client.redis.close()

    def test_enqueue_many_into_queues_on_two_other_masters(self):
        home = self.master_of(self.client.queues_key)
        qa = self.queue_on_another_master(home)
        qb = self.queue_on_another_master(home, self.master_of(self.client.ready_key(qa)))
        jobs = [Job("OrderWorkflow", "a-1", {"n": 1}, queue=qa), Job("OrderWorkflow", "b-1", queue=qb),
                Job("OrderWorkflow", "a-2", queue=qa, at=1_900_000_000), Job("OrderWorkflow", "a-3", queue=qa)]
        jids = self.client.enqueue_many(jobs)
        ready_a = list(reversed(self.r.lrange(self.client.ready_key(qa), 0, -1)))
        self.assertEqual([jids[0], jids[3]], self.jids(ready_a))
        # What build_envelope makes, but for the jid and created_at each call draws.
        fresh = {"jid": None, "created_at": None}
        built = [msgpack.unpackb(self.client.build_envelope(j.workflow_class, j.key, j.kwargs, queue=j.queue)[1])
                 for j in (jobs[0], jobs[3])]
        self.assertEqual([{**e, **fresh} for e in built], [{**msgpack.unpackb(b), **fresh} for b in ready_a])
        sched = self.r.zrange(self.client.scheduled_key(qa), 0, -1, withscores=True)
        self.assertEqual([(jids[2], 1_900_000_000_000.0)], [(msgpack.unpackb(b)["jid"], s) for b, s in sched])
        self.assertEqual([jids[1]], self.jids(self.r.lrange(self.client.ready_key(qb), 0, -1)))
        self.assertEqual({qa.encode(), qb.encode()}, self.r.smembers(self.client.queues_key))

    def test_enqueue_while_the_queue_slot_migrates(self):
        """A queue's slot half-moved (MIGRATING on its master, IMPORTING on another, as redis-cli
        --cluster reshard leaves it between steps): a new ready list is created on the importing
        node through ASK; after the move (SETSLOT NODE) MOVED sends the next enqueue there too."""
        queue = f"mig-{secrets.token_hex(3)}"
        key = self.client.ready_key(queue)
        slot = self.r.keyslot(key)
        masters = self.masters()
        src_port = self.master_of(key)
        dst_port = next(p for p in masters if p != src_port)
        src_id, dst_id = masters[src_port][0], masters[dst_port][0]
        src, dst = self.node(src_port), self.node(dst_port)
        try:
            dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
            # redis-py logs each redirect it follows (logger redis.cluster): proof of the ASK.
            with self.assertLogs("redis.cluster", "ERROR") as logs:
                jid1 = self.client.enqueue("OrderWorkflow", "m-1", queue=queue)
            self.assertIn("AskError", "\n".join(logs.output))
            self.assertEqual(0, src.execute_command("CLUSTER COUNTKEYSINSLOT", slot),
                             "the list was created on the importing node")
            moved = src.execute_command("CLUSTER GETKEYSINSLOT", slot, 1000)
            if moved:
                src.execute_command("MIGRATE", "127.0.0.1", dst_port, "", 0, 5000,
                                    "AUTH", os.environ["CF_TEST_REDIS_PASSWORD"], "KEYS", *moved)
        finally:
            # Finish the move on both nodes (the others learn it from them): the cluster stays whole.
            for n in (dst, src):
                n.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        with self.assertLogs("redis.cluster", "ERROR") as logs:
            jid2 = self.client.enqueue("OrderWorkflow", "m-2", queue=queue)
        self.assertIn("MovedError", "\n".join(logs.output))
        self.assertEqual([jid1, jid2], self.jids(reversed(self.r.lrange(key, 0, -1))))
        self.assertEqual([key], dst.execute_command("CLUSTER GETKEYSINSLOT", slot, 10))
        self.assertIn(queue.encode(), self.r.smembers(self.client.queues_key))


if __name__ == "__main__":
    unittest.main()
