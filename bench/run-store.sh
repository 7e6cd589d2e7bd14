#!/usr/bin/env bash
# bench/run-store.sh: the store write-path benchmark with fsync on. Starts a throwaway Postgres
# (deploy/services.sh --fsync on), measures pgbench's one-INSERT transaction with 1 and 8
# clients as the reference, then bench_store with 1, 8 and 64 submitters, and stops it.
#   bench/run-store.sh [BUILD_DIR] [SECONDS]      (default build/release, 10 s per run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
secs=${2:-10}
bin="$root/$build/bench/bench_store"
[ -x "$bin" ] || { echo "build it first: make MODE=release $build/bench/bench_store" >&2; exit 2; }
dir=$(mktemp -d /tmp/chronoforge-bench.XXXXXX)
cleanup() { "$root/deploy/services.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
"$root/deploy/services.sh" start "$dir" --fsync on >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
psql -q "$CF_TEST_PG_ADMIN_DSN" -c "CREATE DATABASE cf_bench" >/dev/null
dsn="host=$CF_TEST_PG_HOST port=$CF_TEST_PG_PORT user=postgres dbname=cf_bench"
psql -q "$dsn" -c "SHOW fsync" -At | sed 's/^/fsync=/'
psql -q "$dsn" -c "CREATE TABLE pgb (id bigserial PRIMARY KEY, k text NOT NULL, v jsonb)" >/dev/null
printf 'INSERT INTO pgb (k, v) VALUES (:client_id || \x27-\x27 || random(), \x27{"a":1}\x27);\n' >"$dir/ins.sql"
for c in 1 8; do
  tps=$(pgbench -n -f "$dir/ins.sql" -c $c -j 2 -T "$secs" "$dsn" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  echo "pgbench one-INSERT transaction clients=$c tps=$tps"
done
for n in 1 8 64; do
  "$bin" "$dsn" "$n" "$secs"
done
