#!/usr/bin/env bash
# bench/pgbouncer.sh [BUILD_DIR]: what --pg-prepared-statements off and pgbouncer cost
# (docs/scaling.md): N one-step workflows (default 20000) through 2 workers at -c 16, three
# ways: direct with prepared statements (the default), direct with unnamed statements, and
# through Debian's pgbouncer in transaction mode (POOL server connections, default 4) with
# unnamed statements. Throwaway services from deploy/services.sh; prints each span.
# Needs `make MODE=release bin build/release/bench/bench_wf` first.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
bin=$build/chronoforge wf=$build/bench/bench_wf
n=${N:-20000}
dir=$(mktemp -d /tmp/cf-pgbouncer-bench.XXXXXX)
chmod 755 "$dir"
deploy/services.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
bouncer=
cleanup() {
  if [ -n "$bouncer" ]; then
    kill -TERM "$bouncer" 2>/dev/null || true
    wait "$bouncer" || true
  fi
  deploy/services.sh stop "$dir" >/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

run() { # TAG DSN [ENV=VALUE...]: two workers, n workflows, the span from first start to last end
  local tag=$1 dsn=$2 pids=()
  shift 2
  for i in 1 2; do
    env CHRONOFORGE_DATABASE_URL="$dsn" CHRONOFORGE_TEST_WORKFLOWS=1 "$@" \
      "$bin" worker -c 16 >"$dir/worker-$tag-$i.log" 2>&1 &
    pids+=($!)
  done
  "$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser "$tag" "$n" '{"steps":1}' >/dev/null
  echo "$tag: $("$wf" await "$CHRONOFORGE_DATABASE_URL" Exerciser "$tag" "$n" 600)"
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
}

"$bin" migrate >/dev/null
run direct "$CHRONOFORGE_DATABASE_URL"
run direct-unnamed "$CHRONOFORGE_DATABASE_URL" CHRONOFORGE_PG_PREPARED_STATEMENTS=off
pg_port=$(echo "$CHRONOFORGE_DATABASE_URL" | sed -n 's|.*:\([0-9]*\)/.*|\1|p')
cat >"$dir/pgbouncer.ini" <<INI
[databases]
chronoforge = host=127.0.0.1 port=$pg_port dbname=chronoforge user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PGB_PORT:-6439}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = ${POOL:-4}
max_client_conn = 200
server_reset_query =
ignore_startup_parameters = extra_float_digits
INI
chmod 644 "$dir/pgbouncer.ini"
user=()
[ "$(id -u)" = 0 ] && user=(-u postgres) # pgbouncer refuses to run as root
/usr/sbin/pgbouncer "${user[@]}" "$dir/pgbouncer.ini" >"$dir/pgbouncer.log" 2>&1 &
bouncer=$!
pooled="host=127.0.0.1 port=${PGB_PORT:-6439} dbname=chronoforge user=postgres"
for _ in $(seq 100); do psql "$pooled" -Atc 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
run pgbouncer "$pooled" CHRONOFORGE_PG_PREPARED_STATEMENTS=off
