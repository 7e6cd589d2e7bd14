#!/usr/bin/env bash
# bench/run.sh: `make bench`. Starts its own throwaway Redis and Postgres (fsync on), runs every
# workflow benchmark against them and writes a dated Markdown table to bench/results/DATE.md
# (each figure beside the command that produced it). Benchmarks are measurements, never
# pass/fail: a figure that could not be taken is written as "n/a" with the reason.
#   bench/run.sh [BUILD_DIR]          (default build/release; `make bench` builds it)
# Environment: CF_BENCH_N (workflows per throughput run, default 20000), CF_BENCH_OUT (file),
# CF_FSYNC_DELAY_US (the slow-fsync section's added delay per fsync/fdatasync, default 2000).
# Peers (bench/peers/*: BullMQ, Sidekiq, DBOS Transact, graphile-worker) run against the same
# servers; the npm ones are installed from their lockfiles by deploy/install-deps.sh --bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build="$root/$build" ;; esac
cf="$build/chronoforge"
wf="$build/bench/bench_wf"
shim="$build/bench/fsync_delay.so"
if [ ! -x "$cf" ] || [ ! -x "$wf" ] || [ ! -f "$shim" ]; then echo "run.sh: build first (make bench)" >&2; exit 2; fi
N=${CF_BENCH_N:-20000}
out=${CF_BENCH_OUT:-$root/bench/results/$(date +%F).md}
mkdir -p "$(dirname "$out")"
dir=$(mktemp -d /tmp/chronoforge-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  "$root/deploy/services.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
t_start=$(date +%s)
# Redis with AOF everysec, as production runs it (the peers' durability column depends on it).
CF_SERVICES_AOF=yes "$root/deploy/services.sh" start "$dir" --fsync on >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
export CHRONOFORGE_TEST_WORKFLOWS=1 CHRONOFORGE_LOG_LEVEL=warn
admin=$CF_TEST_PG_ADMIN_DSN
rport=$CF_TEST_REDIS_PORT
rcli() { redis-cli -p "$rport" -a "$CF_TEST_REDIS_PASSWORD" --no-auth-warning "$@"; }
q() { psql -qAtX "$1" -c "$2"; }

log() { echo "bench: $*" >&2; }
row() { echo "$*" >>"$out.tmp"; }

# fresh_db NAME: an empty, migrated database; sets $dsn.
fresh_db() {
  q "$admin" "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
  q "$admin" "CREATE DATABASE $1" >/dev/null
  dsn="host=127.0.0.1 port=$CF_TEST_PG_PORT user=postgres dbname=$1"
  q "$dsn" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  CHRONOFORGE_DATABASE_URL=$dsn "$cf" migrate >/dev/null
}
xact() { sleep 1.2; q "$dsn" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
redis_calls() { rcli info commandstats | sed -n 's/.*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'; }
start_workers() { # COUNT CONCURRENCY: starts them; their PIDs in $wpids
  wpids=()
  for _ in $(seq 1 "$1"); do
    CHRONOFORGE_DATABASE_URL=$dsn "$cf" worker -c "$2" >>"$dir/worker.log" 2>&1 &
    wpids+=($!); pids+=($!)
  done
}
stop_workers() { local p; for p in "${wpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${wpids[@]}"; do wait "$p" 2>/dev/null || true; done; }
cpu_ms() { awk '{print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat"; }

# throughput PROCS CONC TAG: N one-step Exerciser workflows enqueued first, then the workers
# started and timed until all are completed. Sets tp (workflows/s over the store's span from
# the first run begin to the last completion), cpw (commits/workflow), rpw (Redis
# commands/workflow), hwm (VmHWM of the first worker, kB).
throughput() {
  rcli flushall >/dev/null
  "$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser "$3" "$N" '{"steps":1}' >/dev/null
  local x0 r0 res span
  x0=$(xact); r0=$(redis_calls)
  start_workers "$1" "$2"
  res=$("$wf" await "$dsn" Exerciser "$3" "$N" 600)
  hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/${wpids[0]}/status")
  stop_workers
  span=${res#*span_s=}
  tp=$(awk -v n="$N" -v s="$span" 'BEGIN {printf "%.0f", n / s}')
  cpw=$(awk -v a="$x0" -v b="$(xact)" -v n="$N" 'BEGIN {printf "%.3f", (b - a) / n}')
  rpw=$(awk -v a="$r0" -v b="$(redis_calls)" -v n="$N" 'BEGIN {printf "%.2f", (b - a) / n}')
  log "throughput procs=$1 c=$2: $tp workflows/s ($res) commits/wf=$cpw redis/wf=$rpw"
}

# The peers. Each runs against the same Redis / Postgres; a figure that could not be taken is
# "n/a (reason)", and the peer's stderr is shown in the log.
peer_ready() { [ -f "$root/bench/peers/$1/node_modules/.cf-installed-lock" ]; }
peer_version() { node -p "require('$root/bench/peers/$1/node_modules/$2/package.json').version" 2>/dev/null || echo "?"; }
peer_failed() { # NAME CONC: logs the tail of its stderr; prints the table cell
  log "$1 c=$2 failed: $(tail -5 "$dir/$1.err")"
  echo "n/a (failed: $(tail -1 "$dir/$1.err" | tr -d '|' | cut -c1-80))"
}
field() { sed -n "s/.*$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

bullmq() { # CONC: sets bq
  local res
  peer_ready bullmq || { bq="n/a (not installed: deploy/install-deps.sh --bench)"; return; }
  rcli flushall >/dev/null
  if ! res=$(node "$root/bench/peers/bullmq/bench.js" "$rport" "$CF_TEST_REDIS_PASSWORD" "$N" "$1" 2>"$dir/bullmq.err"); then
    bq=$(peer_failed bullmq "$1"); return
  fi
  bq=$(field jobs_per_s "$res")
  log "bullmq c=$1: $bq jobs/s"
}

# pg_peer NAME CONC: bench/peers/NAME/bench.js on a fresh database of its own on the same
# Postgres server; sets pr (jobs/s) and pc (commits/job over its processing phase).
pg_peer() {
  local db="${1//-/_}_c$2" res
  pc="n/a"
  peer_ready "$1" || { pr="n/a (not installed: deploy/install-deps.sh --bench)"; return; }
  q "$admin" "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  q "$admin" "CREATE DATABASE $db" >/dev/null
  if ! res=$(node "$root/bench/peers/$1/bench.js" "postgresql://postgres@127.0.0.1:$CF_TEST_PG_PORT/$db" "$N" "$2" 2>"$dir/$1.err"); then
    pr=$(peer_failed "$1" "$2"); return
  fi
  pr=$(field jobs_per_s "$res"); pc=$(field commits_per_job "$res")
  log "$1 c=$2: $pr jobs/s, $pc commits/job"
}

sidekiq() { # CONC: sets sk
  local d="$root/bench/peers/sidekiq" t0 t1 sp
  command -v sidekiq >/dev/null || { sk="n/a (ruby-sidekiq not installed)"; return; }
  rcli flushall >/dev/null
  export REDIS_URL="redis://:$CF_TEST_REDIS_PASSWORD@127.0.0.1:$rport/0"
  /usr/bin/ruby "$d/enqueue.rb" "$N"
  (cd "$d" && exec sidekiq -r ./worker.rb -c "$1" -q cfbench) >"$dir/sidekiq.log" 2>&1 &
  sp=$!; pids+=("$sp")
  for _ in $(seq 1 1200); do [ -n "$(rcli get "cfbench:t:$((N - 1))")" ] && break; sleep 0.1; done
  t0=$(rcli get cfbench:t:0); t1=$(rcli get "cfbench:t:$((N - 1))")
  kill -TERM "$sp"; wait "$sp" 2>/dev/null || true
  if [ -n "$t1" ]; then sk=$(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN {printf "%.0f", (n - 1) / (b - a)}')
  else sk="n/a (timeout)"; fi
  log "sidekiq c=$1: $sk jobs/s"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0) printf "%.2f", a / b; else print "n/a"}'; }

: >"$out.tmp"
fsync=$(q "$admin" "SHOW fsync")
row "# chronoforge benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
row ""
row "Machine: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
row "Postgres $(q "$admin" "SHOW server_version"), fsync=$fsync, synchronous_commit=$(q "$admin" "SHOW synchronous_commit"); Redis $(rcli info server | sed -n 's/^redis_version:\(.*\)\r*$/\1/p' | tr -d '\r'); both throwaway, started by bench/run.sh."
row "fsync on this host is fast (~54 µs; a host cache absorbs it): durability-bound figures are far above what real disks give. Section 8 measures it in this run and repeats the chronoforge runs with 2 ms added to each Postgres fsync/fdatasync."
row "The machine is shared (2 cores; other engineers' builds and fuzzers run at the same time): expect ±30% or worse between runs."
row "Commands: \`W=$build/bench/bench_wf\`, \`CF=$build/chronoforge\`; N=$N."
row ""

# ---- 1. throughput at concurrency 16 / 32, with the peers
sc=$(q "$admin" "SHOW synchronous_commit")
if [ "$(rcli config get appendonly | tail -1)" = yes ]; then redis_dur="Redis AOF $(rcli config get appendfsync | tail -1)"
else redis_dur="none (Redis without AOF)"; fi
pg_dur="Postgres commit per job (fsync=$fsync, synchronous_commit=$sc)"
declare -A R # R[system,c] = jobs/s; R[system-commits,c] = commits/job
for c in 16 32; do
  fresh_db "tp_c$c"
  throughput 1 "$c" "tp$c"
  [ "$c" = 16 ] && { tp16=$tp; hwm16=$hwm; }
  R[cf,$c]=$tp; R[cf-commits,$c]=$cpw; R[cf-redis,$c]=$rpw
  pg_peer dbos "$c"; R[dbos,$c]=$pr; R[dbos-commits,$c]=$pc
  pg_peer graphile-worker "$c"; R[gw,$c]=$pr; R[gw-commits,$c]=$pc
  bullmq "$c"; R[bq,$c]=$bq
  sidekiq "$c"; R[sk,$c]=$sk
done
sk_ver=$(/usr/bin/ruby -e 'require "sidekiq"; print Sidekiq::VERSION' 2>/dev/null || echo "?")
row "## 1. Throughput, one worker process per system, same Redis and Postgres"
row ""
row "Every system runs against the same servers: Postgres fsync=$fsync, synchronous_commit=$sc; Redis appendonly=$(rcli config get appendonly | tail -1), appendfsync=$(rcli config get appendfsync | tail -1). Each run enqueues N=$N jobs first, then starts one worker process at concurrency C and times it from the first job's start to the last job's completion."
row ""
row "- chronoforge: a fresh database; \`\$W produce \$REDIS chronoforge default Exerciser TAG $N '{\"steps\":1}'\` (pipelined LPUSH of real envelopes), then \`\$CF worker -c C\`, timed by \`\$W await \$DSN Exerciser TAG $N\` (N / (last completed_at - first started_at) in Postgres). Redis commands per workflow (INFO commandstats delta / N): c=16 ${R[cf-redis,16]}, c=32 ${R[cf-redis,32]}."
row "- DBOS Transact $(peer_version dbos @dbos-inc/dbos-sdk): \`node bench/peers/dbos/bench.js URL $N C\`: a workflow with exactly one no-op step (DBOS.runStep), on its own database; N enqueued first with a DBOSClient (no bulk API: 64 enqueues in flight) onto a queue registered with workerConcurrency=C and **minPollingIntervalMs=1 ms** (the default, 1000 ms, caps a process at about C workflows/s), systemDatabasePoolSize C+2; then DBOS.launch() in the same process; rate from workflow_status (first started_at_epoch_ms to last SUCCESS updated_at)."
row "- graphile-worker $(peer_version graphile-worker graphile-worker): \`node bench/peers/graphile-worker/bench.js URL $N C\`: a no-op task on its own database, N added first with addJobs (1,000 per call), then run() with concurrency C and maxPoolSize C+2 (its own warning asks for a pool at least C), other settings default; on Node $(node --version 2>/dev/null) although it declares Node >= 22.18; rate from the first job:start to the jobs table being empty."
row "- BullMQ $(peer_version bullmq bullmq) (ioredis $(peer_version bullmq ioredis)): \`node bench/peers/bullmq/bench.js PORT PW $N C\`: no-op jobs, addBulk first, then one Worker. Sidekiq $sk_ver: \`ruby bench/peers/sidekiq/enqueue.rb $N\` then \`sidekiq -r ./worker.rb -c C -q cfbench\` (rate from the first and last job's wall time)."
row "- Commits/job = the system's database's pg_stat_database.xact_commit delta over the processing phase / N (read-only transactions count too: DBOS's 1 ms queue polls are in its figure)."
row ""
row "| system | one job is | durability | commits/job c=16 / c=32 | jobs/s c=16 | jobs/s c=32 | chronoforge / this, c=16 | c=32 |"
row "|---|---|---|---|---|---|---|---|"
row "| chronoforge | durable one-step workflow | Postgres commit per job (group commit: one commit can carry several workflows; fsync=$fsync, synchronous_commit=$sc); queue: $redis_dur | ${R[cf-commits,16]} / ${R[cf-commits,32]} | ${R[cf,16]} | ${R[cf,32]} | 1.00 | 1.00 |"
row "| DBOS Transact | durable workflow, one no-op step; minPollingIntervalMs 1 ms | $pg_dur | ${R[dbos-commits,16]} / ${R[dbos-commits,32]} | ${R[dbos,16]} | ${R[dbos,32]} | $(ratio "${R[cf,16]}" "${R[dbos,16]}") | $(ratio "${R[cf,32]}" "${R[dbos,32]}") |"
row "| graphile-worker | no-op job | $pg_dur | ${R[gw-commits,16]} / ${R[gw-commits,32]} | ${R[gw,16]} | ${R[gw,32]} | $(ratio "${R[cf,16]}" "${R[gw,16]}") | $(ratio "${R[cf,32]}" "${R[gw,32]}") |"
row "| BullMQ | no-op job | $redis_dur | 0 (no Postgres) | ${R[bq,16]} | ${R[bq,32]} | $(ratio "${R[cf,16]}" "${R[bq,16]}") | $(ratio "${R[cf,32]}" "${R[bq,32]}") |"
row "| Sidekiq | no-op job | $redis_dur | 0 (no Postgres) | ${R[sk,16]} | ${R[sk,32]} | $(ratio "${R[cf,16]}" "${R[sk,16]}") | $(ratio "${R[cf,32]}" "${R[sk,32]}") |"
row ""

# ---- 2. latency at half the maximum
rate=$((tp16 / 2))
[ "$rate" -ge 50 ] || rate=50
lat_n=$((rate * 8))
row "## 2. Enqueue to first step start, at a fixed offered load"
row ""
fresh_db lat
rcli flushall >/dev/null
start_workers 1 16
sleep 1
"$wf" paced "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser lat "$lat_n" "$rate" '{"steps":1}' >"$dir/paced.txt"
"$wf" await "$dsn" Exerciser lat "$lat_n" 600 >/dev/null
stop_workers
lat=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT extract(epoch FROM l.started_at) * 1000 - (w.kwargs->>'enq_ms')::bigint AS d FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs l ON l.workflow_id = w.id AND l.step_name = 'durably_execute\$step_1' WHERE w.key LIKE 'lat-%') t")
row "Offered load $rate workflows/s (half of the concurrency-16 maximum above) for 8 s ($(cat "$dir/paced.txt")), worker \`-c 16\`: \`\$W paced \$REDIS chronoforge default Exerciser lat $lat_n $rate '{\"steps\":1}'\` stamps each envelope's kwargs with \`enq_ms\`; latency = the step_1 row's started_at - kwargs.enq_ms (ms resolution; same host clock)."
row ""
row "| offered load | p50 / p99 ms |"
row "|---|---|"
row "| $rate wf/s | $lat |"
row ""
log "latency at $rate/s: $lat ms"

# ---- 3. wake-up lateness
row "## 3. Wake-up lateness of 10,000 one-second waits"
row ""
fresh_db wake
rcli flushall >/dev/null
"$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser wake 10000 '{"steps":2,"wait_ms":1000}' 10000 >/dev/null
start_workers 1 16
"$wf" await "$dsn" Exerciser wake 10000 600 >/dev/null
stop_workers
wake=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT extract(epoch FROM s2.started_at) * 1000 - (p.metadata->>'wait_until_ms')::bigint AS d FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs p ON p.workflow_id = w.id AND p.step_name = 'wait\$pause' JOIN chrono_forge_execution_logs s2 ON s2.workflow_id = w.id AND s2.step_name = 'durably_execute\$step_2' WHERE w.key LIKE 'wake-%') t")
row "\`\$W produce \$REDIS chronoforge default Exerciser wake 10000 '{\"steps\":2,\"wait_ms\":1000}' 10000\` (first runs scheduled evenly over 10 s), worker \`-c 16\`; lateness = step_2's started_at - the wait row's metadata.wait_until_ms."
row ""
row "| waits | p50 / p99 ms late |"
row "|---|---|"
row "| 10,000 x 1 s over 10 s | $wake |"
row ""
log "wake lateness: $wake ms"

# ---- 4. resume with 1,000 completed steps
row "## 4. Resuming a workflow with 1,000 completed steps"
row ""
fresh_db resume
rcli flushall >/dev/null
gate="$dir/gate"
start_workers 1 1
"$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser big 1 "{\"steps\":1000,\"gate_file\":\"$gate\"}" >/dev/null
for _ in $(seq 1 1200); do
  [ "$(q "$dsn" "SELECT count(*) FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = 'big-0' AND w.state = 'idle' AND l.state = 'completed'")" -ge 1000 ] && break
  sleep 0.1
done
touch "$gate"
sleep 0.5
q "$dsn" "SELECT pg_stat_statements_reset()" >/dev/null
c0=$(cpu_ms "${wpids[0]}")
"$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser big 1 '{}' >/dev/null
"$wf" await "$dsn" Exerciser big 1 120 >/dev/null
c1=$(cpu_ms "${wpids[0]}")
stop_workers
queries=$(q "$dsn" "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat_statements%' AND s.query LIKE '%chrono_forge%' AND s.query NOT LIKE '%count(*)%'")
detail=$(q "$dsn" "SELECT string_agg(calls || ' x ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 48), '; ') FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat_statements%' AND s.query LIKE '%chrono_forge%' AND s.query NOT LIKE '%count(*)%'")
row "Exerciser \`{\"steps\":1000,\"gate_file\":G}\` runs its 1,000 steps and halts at continue_if \"gate\"; then G is created, pg_stat_statements reset, and the workflow enqueued again (worker \`-c 1\`): the resume replays 1,000 completed steps and completes. Queries = pg_stat_statements calls on chronoforge's tables in that window (the bench's own polling excluded); CPU = the worker's utime+stime delta (/proc/PID/stat; includes its idle threads)."
row ""
row "| queries | worker CPU ms | statements |"
row "|---|---|---|"
row "| $queries | $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.0f", b - a}') | ${detail//|/\\|} |"
row ""
log "resume: $queries queries, cpu $(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}') ms"

# ---- 5. RSS
row "## 5. Worker peak RSS at concurrency 16"
row ""
row "VmHWM of the \`-c 16\` worker of section 1, read from /proc/PID/status just before it was stopped: **${hwm16} kB**."
row ""

# ---- 6. 1,000,000 rows already in the execution logs
row "## 6. Throughput with 1,000,000 execution-log rows already present (concurrency 16)"
row ""
fresh_db bigtable
t0=$(date +%s)
q "$dsn" "INSERT INTO chrono_forge_workflows (job_class, key, state, fence, started_at, completed_at) SELECT 'Exerciser', 'old-' || g, 'completed', 1, now(), now() FROM generate_series(1, 100000) g" >/dev/null
q "$dsn" "INSERT INTO chrono_forge_execution_logs (workflow_id, step_name, state, attempts, metadata, started_at, last_executed_at, completed_at) SELECT w.id, 'durably_execute\$step_' || s, 'completed', 1, '{}', now(), now(), now() FROM chrono_forge_workflows w, generate_series(1, 10) s" >/dev/null
q "$dsn" "VACUUM ANALYZE" >/dev/null
rows=$(q "$dsn" "SELECT count(*) FROM chrono_forge_execution_logs")
log "filled $rows rows in $(($(date +%s) - t0)) s"
throughput 1 16 big
row "100,000 completed workflows x 10 step rows inserted with generate_series, then VACUUM ANALYZE ($rows rows); then the section-1 run at \`-c 16\`."
row ""
row "| execution-log rows before | wf/s | commits/wf |"
row "|---|---|---|"
row "| 0 (section 1, c=16) | $tp16 | see above |"
row "| $rows | $tp | $cpw |"
row ""

# ---- 7. fleet curve
row "## 7. Fleet: 1, 2, 4, 8 worker processes (\`-c 16\` each)"
row ""
row "| processes | wf/s | commits/wf | Redis cmds/wf |"
row "|---|---|---|---|"
for p in 1 2 4 8; do
  fresh_db "fleet$p"
  throughput "$p" 16 "fleet$p"
  row "| $p | $tp | $cpw | $rpw |"
done
row ""
# ---- 8. a slow fsync: Postgres restarted with bench/fsync_delay.c preloaded
delay=${CF_FSYNC_DELAY_US:-2000}
pgbin=
for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin; do
  [ -n "$d" ] && [ -x "$d/pg_test_fsync" ] && { pgbin=$d; break; }
done
fdatasync_us() { # [PRELOAD]: pg_test_fsync's "one 8kB write + fdatasync" figure, µs
  [ -n "$pgbin" ] || { echo "n/a (no pg_test_fsync)"; return; }
  { env ${1:+"LD_PRELOAD=$1"} CF_FSYNC_DELAY_US="$delay" "$pgbin/pg_test_fsync" -s 1 -f "$dir/fsync.probe" 2>/dev/null || true; } |
    awk '/one 8kB write/ {on = 1} on && $1 == "fdatasync" {print $(NF - 1); exit}'
}
{ echo "SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS cf_commit_probe (x int);"; for i in $(seq 1 200); do echo "INSERT INTO cf_commit_probe VALUES ($i);"; done; } >"$dir/probe.sql"
commit_us() { # mean round trip of 200 single-row INSERT commits in one psql session, µs
  local t0 t1
  t0=$(date +%s%N); psql -qX "$admin" -f "$dir/probe.sql" >/dev/null; t1=$(date +%s%N)
  echo $(((t1 - t0) / 200000))
}
fast_fd=$(fdatasync_us); slow_fd=$(fdatasync_us "$shim")
fast_commit=$(commit_us)
# The shim must be readable by the postgres user: a copy in the services directory.
install -m 644 "$shim" "$dir/fsync_delay.so"
"$root/deploy/services.sh" stop-pg "$dir"
CF_SERVICES_PG_PRELOAD="$dir/fsync_delay.so" CF_FSYNC_DELAY_US=$delay "$root/deploy/services.sh" start-pg "$dir"
row "## 8. chronoforge with a slow fsync (+$delay µs per Postgres fsync/fdatasync)"
row ""
if grep -q fsync_delay.so "/proc/$(cat "$dir/pg.pid")/maps"; then
  slow_commit=$(commit_us)
  declare -A S
  for c in 16 32; do
    fresh_db "slow_c$c"
    throughput 1 "$c" "slow$c"
    S[$c]=$tp; S[commits,$c]=$cpw
  done
  row "This host's fsync is fast because a host cache absorbs it (pg_test_fsync, one 8 kB write + fdatasync: **$fast_fd µs**), so section 1 is far above what a real disk gives. Here Postgres is restarted with \`LD_PRELOAD=\$DIR/fsync_delay.so CF_FSYNC_DELAY_US=$delay\` (a copy of $build/bench/fsync_delay.so) (\`CF_SERVICES_PG_PRELOAD=... deploy/services.sh start-pg DIR\`), which sleeps $delay µs after every fsync/fdatasync (the same pg_test_fsync line with the shim: $slow_fd µs). A single-row INSERT commit from psql, round trip: $fast_commit µs before, $slow_commit µs with the shim. Then the section-1 chronoforge runs again (fresh database, N=$N)."
  row ""
  row "| concurrency | fast fsync wf/s (section 1) | slow fsync wf/s | slow / fast | commits/wf (slow) |"
  row "|---|---|---|---|---|"
  for c in 16 32; do
    row "| $c | ${R[cf,$c]} | ${S[$c]} | $(ratio "${S[$c]}" "${R[cf,$c]}") | ${S[commits,$c]} |"
  done
  log "slow fsync: c=16 ${S[16]} wf/s, c=32 ${S[32]} wf/s (fast ${R[cf,16]} / ${R[cf,32]})"
else
  row "n/a: Postgres did not load the shim ($dir/fsync_delay.so not in its memory map; see its log)."
  log "slow fsync: the shim was not loaded"
fi
row ""
row "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). bench/run.sh took $(($(date +%s) - t_start)) s (N=$N)."
mv "$out.tmp" "$out"
log "wrote $out"
