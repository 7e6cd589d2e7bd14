#!/usr/bin/env bash
# bench/run-queue.sh: queue throughput next to Redis's own numbers. Starts throwaway services
# (deploy/services.sh) in a temp dir, runs redis-benchmark (LPUSH/RPOP, 200,000 requests) and
# bench_queue (fetch+ack with 1 and 4 consumers, 100,000 jobs) against the same Redis, prints
# both, stops the services.
#   bench/run-queue.sh [BUILD_DIR]     (default build/release; build it with
#                                       make MODE=release build/release/bench/bench_queue)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
bin="$build/bench/bench_queue"
[ -x "$bin" ] || { echo "run-queue: $bin not built (make MODE=release $bin)" >&2; exit 1; }
dir=$(mktemp -d /tmp/chronoforge-bench.XXXXXX)
cleanup() { "$root/deploy/services.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
"$root/deploy/services.sh" start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
echo "== redis-benchmark -t lpush,rpop -n 200000 -q (50 clients, TCP)"
redis-benchmark -h 127.0.0.1 -p "$CF_TEST_REDIS_PORT" -a "$CF_TEST_REDIS_PASSWORD" \
  -t lpush,rpop -n 200000 -q 2>/dev/null | tr '\r' '\n' | grep -E '^(LPUSH|RPOP): [0-9]' | sed 's/^/  /'
echo "== bench_queue: LMOVE/BLMOVE into in-flight + LREM ack, 100000 jobs, 80-byte payloads"
"$bin" "$CF_TEST_REDIS_URL" 100000 1 4 | sed 's/^/  /'
