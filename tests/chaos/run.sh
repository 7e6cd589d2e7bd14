#!/usr/bin/env bash
# tests/chaos/run.sh BIN: the chaos run behind `make chaos` (not part of `make test`).
# A throwaway Redis (AOF everysec) and Postgres; 4 worker processes of BIN; 5,000 Exerciser
# workflows (5 steps, a ledger, sleep_ms 5; every 5th fails each step's first attempt, every 7th
# has a 300 ms durable wait). Every 2 s one random worker is stopped, its in-flight envelopes
# counted, then SIGKILLed and restarted. Once, Redis is SIGKILLed and restarted; by default
# (CHAOS_REDIS=rollback) its AOF is also rolled back by a second, as a power loss under everysec
# would do (a SIGKILL alone loses nothing). Once, Postgres is stopped with -m immediate and
# restarted. At the end it checks: every workflow completed; ledger attempts beyond the expected
# ones are at most the envelopes in flight at the kills and outages; every expected attempt ran;
# no dead letters; the ready, scheduled and in-flight lists, the locks and the held sets are
# empty; the workers drain and exit 0 with no sanitizer report. Exits 1 on any violation,
# keeping the scratch dir.
# Knobs: CHAOS_WORKFLOWS (5000), CHAOS_WORKERS (4), CHAOS_CONCURRENCY (8), CHAOS_KILL_EVERY (2),
# CHAOS_DEADLINE (seconds for the workflows to complete, 360), CHAOS_REDIS (rollback|kill|restart),
# CHAOS_REDIS_AT and CHAOS_PG_AT (percent completed when the fault strikes, 30 and 60).
# CHAOS_OLD_BIN: a rolling upgrade under chaos (tests/upgrade/run.sh): the workers start from this
# older binary on its own schema, BIN migrates while they run (the documented upgrade order:
# migrate, then roll; an old worker never restarts on the new schema), and the first
# W faults (one a second) each replace one old worker by a BIN worker, alternately by SIGTERM (a graceful drain)
# and SIGKILL (recovered by the new fleet); later faults are the usual random SIGKILLs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BIN" >&2; exit 2; }
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "chaos: $bin is not executable" >&2; exit 2; }
N=${CHAOS_WORKFLOWS:-5000}
W=${CHAOS_WORKERS:-4}
CONC=${CHAOS_CONCURRENCY:-8}
KILL_EVERY=${CHAOS_KILL_EVERY:-2}
DEADLINE=${CHAOS_DEADLINE:-360}
REDIS_FAULT=${CHAOS_REDIS:-rollback}
REDIS_AT=${CHAOS_REDIS_AT:-30}
PG_AT=${CHAOS_PG_AT:-60}
OLD_BIN=${CHAOS_OLD_BIN:-}
if [ -n "$OLD_BIN" ]; then
  OLD_BIN=$(cd "$(dirname "$OLD_BIN")" && pwd)/$(basename "$OLD_BIN")
  [ -x "$OLD_BIN" ] || { echo "chaos: CHAOS_OLD_BIN $OLD_BIN is not executable" >&2; exit 2; }
fi
helper=$here/chaos.py
services=$root/deploy/services.sh

dir=$(mktemp -d /tmp/chronoforge-chaos.XXXXXX)
pids=()
ok=0
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  "$services" stop "$dir" >/dev/null 2>&1 || true
  if [ $ok = 1 ]; then rm -rf "$dir"; else echo "chaos: scratch dir kept: $dir" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[chaos %4ds] %s\n' "$SECONDS" "$*"; }
sql() { psql -qAtX "$CF_TEST_PG_DSN" -c "$1" 2>/dev/null; }
completed() { sql "SELECT count(*) FROM chrono_forge_workflows WHERE state = 'completed'" || echo -1; }

export CF_SERVICES_AOF=yes # every start of Redis, the restart included, must load the AOF
"$services" start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
export CHRONOFORGE_PREFIX=chaos CHRONOFORGE_TEST_WORKFLOWS=1 CHRONOFORGE_LEASE=2s \
  CHRONOFORGE_HEARTBEAT=300ms CHRONOFORGE_PROMOTE_INTERVAL=20ms CHRONOFORGE_BUSY_RECHECK=200ms \
  CHRONOFORGE_MAX_DURATION=30s CHRONOFORGE_SHUTDOWN_GRACE=10s CHRONOFORGE_SWEEP_GRACE=3s CHRONOFORGE_CONCURRENCY=$CONC
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/support/lsan.supp:print_suppressions=0}
# A rolling upgrade migrates while the old fleet runs (SPEC §3, "Which binaries run on a
# schema": binaries older than a migration's runs_from refuse to start on it, running ones keep
# going): the old binary makes its schema and starts its fleet, then BIN migrates.
"${OLD_BIN:-$bin}" migrate >"$dir/migrate.log" 2>&1
ledger=$dir/ledger
: >"$ledger"
expected=$("$helper" enqueue "$N" "$ledger")
log "enqueued $N workflows ($expected step attempts expected); scratch $dir"
# An envelope no worker ever took may be lost with Redis (SPEC §2): let AOF everysec make the
# enqueue durable before anything can crash.
sleep 2

start_worker() {  # slot [binary]
  "${2:-$bin}" worker >>"$dir/worker-$1.log" 2>&1 &
  pids[$1]=$!
}
for i in $(seq 0 $((W - 1))); do start_worker "$i" "${OLD_BIN:-$bin}"; done
if [ -n "$OLD_BIN" ]; then
  sleep 1 # the old workers are up, on their own schema
  "$bin" migrate >>"$dir/migrate.log" 2>&1
  log "upgrade: migrated by $bin while the old fleet runs"
fi
upgraded=0 # with CHAOS_OLD_BIN: slots 0..upgraded-1 run BIN

kills=0 kill_inflight=0 redis_inflight=0 pg_inflight=0 redis_done=0 pg_done=0
last_kill=$SECONDS start=$SECONDS done_count=0
while :; do
  sleep 0.5
  c=$(completed)
  [ "$c" -ge 0 ] && done_count=$c
  [ "$done_count" -ge "$N" ] && break
  if [ $((SECONDS - start)) -ge "$DEADLINE" ]; then
    log "deadline: $done_count of $N completed after ${DEADLINE}s"
    break
  fi
  if [ $redis_done = 0 ] && [ "$done_count" -ge $((N * REDIS_AT / 100)) ]; then
    n=$("$helper" inflight)
    case $REDIS_FAULT in
      kill | restart)
        if [ "$REDIS_FAULT" = kill ]; then "$services" kill-redis "$dir"; else "$services" stop-redis "$dir"; fi
        sleep 1
        ;;
      rollback)
        # SIGKILL alone loses nothing (the AOF is written before replies, only fsync waits):
        # emulate a power loss by restoring the AOF as it was a second before the crash.
        rm -rf "$dir/aof-snapshot"
        cp -a "$dir/redis/appendonlydir" "$dir/aof-snapshot"
        sleep 1
        n=$((n + $("$helper" inflight)))
        "$services" kill-redis "$dir"
        rm -rf "$dir/redis/appendonlydir"
        mv "$dir/aof-snapshot" "$dir/redis/appendonlydir"
        ;;
      *) echo "chaos: CHAOS_REDIS must be kill, restart or rollback" >&2; exit 2 ;;
    esac
    redis_inflight=$n
    "$services" start-redis "$dir"
    redis_done=1
    log "Redis fault ($REDIS_FAULT), restarted at $done_count completed ($n envelopes in flight)"
    continue
  fi
  if [ $pg_done = 0 ] && [ "$done_count" -ge $((N * PG_AT / 100)) ]; then
    pg_inflight=$("$helper" inflight)
    "$services" stop-pg "$dir" immediate
    sleep 2
    "$services" start-pg "$dir"
    pg_done=1
    log "Postgres stopped (immediate) and restarted at $done_count completed ($pg_inflight in flight)"
    continue
  fi
  every=$KILL_EVERY
  [ -n "$OLD_BIN" ] && [ $upgraded -lt "$W" ] && every=1 # the roll itself goes at 1 s a worker
  if [ $((SECONDS - last_kill)) -ge "$every" ]; then
    if [ -n "$OLD_BIN" ] && [ $upgraded -lt "$W" ] && [ $((upgraded % 2)) = 0 ]; then
      # Rolling upgrade, graceful half: the old worker drains and leaves; a new one replaces it.
      slot=$upgraded pid=${pids[$upgraded]}
      kill -TERM "$pid"
      wait "$pid" || log "old worker $slot exited $? on SIGTERM"
      start_worker "$slot"
      upgraded=$((upgraded + 1)) last_kill=$SECONDS
      log "upgrade: slot $slot drained and restarted on the new binary"
      continue
    fi
    slot=$((RANDOM % W))
    [ -n "$OLD_BIN" ] && [ $upgraded -lt "$W" ] && slot=$upgraded
    pid=${pids[$slot]}
    kill -STOP "$pid"
    n=$("$helper" inflight "$pid")
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    start_worker "$slot"
    kills=$((kills + 1)) kill_inflight=$((kill_inflight + n)) last_kill=$SECONDS
    if [ -n "$OLD_BIN" ] && [ $upgraded -lt "$W" ]; then
      upgraded=$((upgraded + 1))
      log "upgrade: slot $slot SIGKILLed ($n in flight) and restarted on the new binary"
    fi
  fi
done
elapsed=$((SECONDS - start))
log "chaos over after ${elapsed}s: $done_count of $N completed, $kills kills"

# After a rollback, live workers hold stale in-flight entries and locks from the old AOF that
# only their graceful exit returns (cf_recovery_leave): restart them one by one, as a deploy would.
if [ "$REDIS_FAULT" = rollback ] && [ $redis_done = 1 ]; then
  for i in "${!pids[@]}"; do
    kill -TERM "${pids[$i]}"
    wait "${pids[$i]}" || log "worker $i exited $? on the rolling restart"
    start_worker "$i"
  done
  log "rolling restart done"
fi

# Quiet phase: no more faults. Dead workers are recovered within a lease; wait until the queue
# is idle and only the live workers are registered.
state=
for _ in $(seq 1 120); do
  state=$("$helper" redis-state)
  if /usr/bin/python3 -c 'import json,sys; s=json.loads(sys.argv[1]); n=int(sys.argv[2]);
sys.exit(0 if all(s[k]==0 for k in ("ready","scheduled","inflight","locks","held")) and s["workers"]==n else 1)' \
    "$state" "$W"; then break; fi
  sleep 0.5
done
log "quiet: $state"

# Drain: SIGTERM every worker; each must exit 0.
worker_fail=0
for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}"; done
for i in "${!pids[@]}"; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  [ $rc = 0 ] || { log "worker $i exited $rc"; worker_fail=1; }
done
pids=()
final=$("$helper" redis-state)
san=$(grep -lE 'ERROR: (Address|Leak|Undefined)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$dir"/worker-*.log || true)
by_state=$(sql "SELECT state || '=' || count(*) FROM chrono_forge_workflows GROUP BY state ORDER BY 1" | tr '\n' ' ')
total=$(sql "SELECT count(*) FROM chrono_forge_workflows")
stranded_wake=$(sql "SELECT count(*) FROM chrono_forge_workflows WHERE state = 'idle' AND next_wake_at < now()")
crashloop=$(sql "SELECT count(DISTINCT workflow_id) FROM chrono_forge_error_logs WHERE error_class = 'Worker.CrashLoop'")
ledger_json=$("$helper" ledger "$N" "$ledger")
bound=$((kill_inflight + redis_inflight + pg_inflight))

read -r reruns dups missing < <(/usr/bin/python3 -c 'import json,sys; l=json.loads(sys.argv[1]);
print(l["reruns"], l["duplicate_attempts"], l["missing"])' "$ledger_json")
read -r f_ready f_sched f_infl f_locks f_held f_dead < <(/usr/bin/python3 -c 'import json,sys;
s=json.loads(sys.argv[1]); print(s["ready"], s["scheduled"], s["inflight"], s["locks"], s["held"], s["dead"])' "$final")

echo "=== chaos summary"
[ -z "$OLD_BIN" ] || echo "upgrade:       started on $OLD_BIN; $upgraded of $W slots moved to $bin during the run"
echo "workflows:     $N enqueued, $total in the store: $by_state"
echo "faults:        $kills SIGKILLs (every ${KILL_EVERY}s, $W workers x $CONC), Redis $REDIS_FAULT x$redis_done, Postgres immediate stop x$pg_done; ${elapsed}s"
echo "in flight:     $kill_inflight at the kills, $redis_inflight at the Redis fault, $pg_inflight at the Postgres stop (bound $bound)"
echo "ledger:        $ledger_json"
echo "redis at end:  $final"
echo "stranded idle with next_wake_at in the past: $stranded_wake; CrashLoop stalls: $crashloop"
violations=()
final_completed=$(completed)
[ "$final_completed" = "$N" ] || violations+=("not every workflow completed ($by_state)")
[ "$missing" = 0 ] || violations+=("$missing expected step attempts never ran")
[ "$reruns" -le "$bound" ] || violations+=("re-runs $reruns exceed the steps in flight at the faults ($bound)")
[ "$dups" -le "$bound" ] || violations+=("duplicate attempts $dups exceed the steps in flight at the faults ($bound)")
[ "$f_dead" = 0 ] || violations+=("$f_dead dead letters")
[ "$f_ready$f_sched$f_infl" = 000 ] || violations+=("queue not empty: ready $f_ready, scheduled $f_sched, in flight $f_infl")
[ "$f_locks$f_held" = 00 ] || violations+=("$f_locks locks and $f_held held sets left")
[ -z "$OLD_BIN" ] || [ "$upgraded" = "$W" ] || violations+=("only $upgraded of $W workers were upgraded (the run ended first)")
[ $worker_fail = 0 ] || violations+=("a worker did not drain with exit 0")
[ -z "$san" ] || violations+=("sanitizer report in $san")
if [ ${#violations[@]} -gt 0 ]; then
  for v in "${violations[@]}"; do echo "VIOLATION: $v"; done
  if [ "$stranded_wake" -gt 0 ]; then
    echo "stranded (idle, wake in the past; the sweeper's job):"
    psql -qAtX "$CF_TEST_PG_DSN" -c "SELECT key, next_wake_at, updated_at FROM chrono_forge_workflows WHERE state = 'idle' AND next_wake_at < now() ORDER BY id LIMIT 10" || true
  fi
  echo "not completed (first 10):"
  psql -qAtX "$CF_TEST_PG_DSN" -c "SELECT key, state, next_wake_at, locked_by, crash_count FROM chrono_forge_workflows WHERE state <> 'completed' ORDER BY id LIMIT 10" || true
  echo "chaos: FAILED"
  exit 1
fi
echo "chaos: OK"
ok=1
