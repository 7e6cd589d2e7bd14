"""What the tests that need Redis share: the connection from CF_TEST_REDIS_URL (skipped without
it, failed when CF_TEST_REQUIRE_SERVICES=1; under tests/run.sh --cluster a redis+cluster:// URL,
so every such test runs on the cluster), a key prefix of its own and the cleanup."""

import os
import secrets
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from chronoforge import redis_url  # noqa: E402


def on_cluster():
    return os.environ.get("CF_TEST_REDIS_CLUSTER") == "1"


def connect(test: unittest.TestCase):
    """Sets test.url, test.r (a Redis or RedisCluster) and test.prefix; deletes the prefix's
    keys when the test ends."""
    test.url = os.environ.get("CF_TEST_REDIS_URL", "")
    if not test.url:
        if os.environ.get("CF_TEST_REQUIRE_SERVICES") == "1":
            test.fail("CF_TEST_REDIS_URL is not set and CF_TEST_REQUIRE_SERVICES=1")
        test.skipTest("CF_TEST_REDIS_URL is not set")
    test.r = redis_url.connect(test.url)
    test.prefix = f"cf:test:py:{os.getpid()}:{secrets.token_hex(4)}"

    def cleanup():
        for k in list(test.r.scan_iter(match=f"{test.prefix}:*")):
            test.r.delete(k)  # one at a time: on a cluster they hash to different slots
        test.r.close()
    test.addCleanup(cleanup)
