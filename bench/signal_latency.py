#!/usr/bin/python3
"""bench/signal_latency.py: sends one signal "go" to each workflow TAG-0 .. TAG-(N-1) (class
Exerciser) through the Python client's control requests (SPEC §2), paced at RATE a second, and
prints one line per signal: ``key sent_ms accepted_ms`` (Unix ms, this host's clock), for
bench/sections.sh (sec_signals) to join with the step after the await.

    PYTHONPATH=clients/python /usr/bin/python3 bench/signal_latency.py REDIS_URL PREFIX TAG N RATE
"""

import sys
import time

from chronoforge import Client


def main() -> int:
    url, prefix, tag, n, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    client = Client(url, prefix)
    start = time.monotonic()
    refused = 0
    for i in range(n):
        due = start + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent = time.time_ns() // 1_000_000
        res = client.signal("Exerciser", f"{tag}-{i}", "go", {"i": i}, id=f"{tag}-{i}", timeout=30)
        accepted = time.time_ns() // 1_000_000
        if not res.accepted:
            refused += 1
            print(f"signal_latency: {tag}-{i}: {res.outcome} {res.code or ''}", file=sys.stderr)
            continue
        print(f"{tag}-{i}\t{sent}\t{accepted}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
