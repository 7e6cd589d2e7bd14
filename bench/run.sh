#!/usr/bin/env bash
# bench/run.sh: `make bench`. Starts its own throwaway Redis and Postgres (fsync on, the README's
# recommended Postgres settings, unix sockets), runs every workflow benchmark against them and
# writes a dated Markdown report to bench/results/DATE.md: issue 11's goal table first (every
# row measured in this run), then each section with the command that produced its figures.
# Benchmarks are measurements, never pass/fail: a figure that could not be taken is written as
# "n/a (reason)".
#   bench/run.sh [BUILD_DIR]          (default build/release; `make bench` builds it)
# Environment: CF_BENCH_N (workflows per throughput run, default 20000), CF_BENCH_N_C1 (the c=1
# commits run, default 2000), CF_BENCH_OUT (file), CF_BENCH_TRANSPORT (unix (default) or tcp),
# CF_BENCH_ONLY (space-separated section names to run, e.g. "fleet bigtable": for developing one
# section with a small N; the others print "n/a (not run)"), CF_FSYNC_DELAY_US (the slow-fsync
# section's added delay per fsync/fdatasync, default 2000).
# Sections: throughput commits latency wake signals resume bigtable fleet rediscost
# (bench/redis_cost.sh: Redis commands per workflow by command) cluster (bench/cluster.sh:
# the fleet curve against one Redis and a 3-master Redis Cluster, `deploy/services.sh start DIR
# --redis-cluster`) transport pgsettings indexes retention growth (bench/growth.sh: Postgres bytes
# per workflow; CF_BENCH_GROWTH_N, default 10000) dashboard (CF_BENCH_DASH_ROWS, default 10000000) repeat fanout
# (bench/fanout.sh; CF_BENCH_CHILDREN, default 100000) slowfsync
# (slowfsync last: it restarts Postgres with a slow fsync). CF_BENCH_REPEATS: the repeat section's
# numbers of concurrent repeats (default "200 1000"). Helpers: bench/lib.sh (runs, CPU, round trips), bench/peers.sh (the peers), and
# bench/index_costs.sh when present (the hot-path cost of each index). The npm peers are installed
# from their lockfiles by deploy/install-deps.sh --bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build="$root/$build" ;; esac
cf="$build/chronoforge"
wf="$build/bench/bench_wf"
shim="$build/bench/fsync_delay.so"
if [ ! -x "$cf" ] || [ ! -x "$wf" ] || [ ! -f "$shim" ]; then echo "run.sh: build first (make bench)" >&2; exit 2; fi
N=${CF_BENCH_N:-20000}
N1=${CF_BENCH_N_C1:-2000}
out=${CF_BENCH_OUT:-$root/bench/results/$(date +%F).md}
mkdir -p "$(dirname "$out")"
dir=$(mktemp -d /tmp/chronoforge-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ ! -d "$dir/cluster" ] || "$root/deploy/services.sh" stop "$dir/cluster" >/dev/null 2>&1 || true
  "$root/deploy/services.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# Redis with AOF everysec, as production runs it (the peers' durability column depends on it).
CF_SERVICES_AOF=yes "$root/deploy/services.sh" start "$dir" --fsync on >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
export CHRONOFORGE_TEST_WORKFLOWS=1 CHRONOFORGE_LOG_LEVEL=warn
log() { echo "bench: $*" >&2; }
body="$dir/body.md"
: >"$body"
row() { echo "$*" >>"$body"; }
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
# shellcheck source=bench/peers.sh
. "$root/bench/peers.sh"
set_transport "${CF_BENCH_TRANSPORT:-unix}"
main_transport=$transport
only=${CF_BENCH_ONLY:-}
wants() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
NR="n/a (not run)"
W=$(rel "$wf"); CF=$(rel "$cf")

# ---- 1. throughput at concurrency 16 / 32, with the peers
declare -A R # R[system,c] = jobs/s; R[system-commits,c] = commits/job
sec_throughput() {
  local c sc redis_dur pg_dur sk_ver
  sc=$(q "$admin" "SHOW synchronous_commit")
  if [ "$(rcli config get appendonly | tail -1)" = yes ]; then redis_dur="Redis AOF $(rcli config get appendfsync | tail -1)"
  else redis_dur="none (Redis without AOF)"; fi
  pg_dur="Postgres commit per job (fsync=$fsync, synchronous_commit=$sc)"
  for c in 16 32; do
    fresh_db "tp_c$c"
    throughput 1 "$c" "tp$c"
    [ "$c" = 16 ] && { tp16=$tp; hwm16=$hwm; rtw16=$rtw; }
    R[cf,$c]=$tp; R[cf-commits,$c]=$cpw; R[cf-redis,$c]=$rpw; R[cf-trips,$c]=$rtw
    pg_peer dbos "$c"; R[dbos,$c]=$pr; R[dbos-commits,$c]=$pc
    pg_peer graphile-worker "$c"; R[gw,$c]=$pr; R[gw-commits,$c]=$pc
    bullmq "$c"; R[bq,$c]=$bq
    sidekiq "$c"; R[sk,$c]=$sk
  done
  sk_ver=$(/usr/bin/ruby -e 'require "sidekiq"; print Sidekiq::VERSION' 2>/dev/null || echo "?")
  local pgt="TCP" rdt="TCP"
  [ "$transport" = unix ] && { pgt="unix socket"; rdt="unix socket"; }
  row "## 1. Throughput, one worker process per system, same Redis and Postgres"
  row ""
  row "Every system runs against the same servers: Postgres fsync=$fsync, synchronous_commit=$sc; Redis appendonly=$(rcli config get appendonly | tail -1), appendfsync=$(rcli config get appendfsync | tail -1). Each run enqueues N=$N jobs first, then starts one worker process at concurrency C and times it from the first job's start to the last job's completion."
  row ""
  row "- chronoforge ($transport_label): a fresh database; \`\$W produce \$REDIS chronoforge default Exerciser TAG $N '{\"steps\":1}'\` (pipelined LPUSH of real envelopes), then \`\$CF worker -c C --metrics-listen ADDR\`, timed by \`\$W await \$DSN Exerciser TAG $N\` (N / (last completed_at - first started_at) in Postgres). Redis commands per workflow (INFO commandstats delta / N): c=16 ${R[cf-redis,16]}, c=32 ${R[cf-redis,32]}; Redis round trips per workflow (the worker's \`chronoforge_redis_round_trips_total\` scraped just before it stops / N; includes its start-up and housekeeping): c=16 ${R[cf-trips,16]}, c=32 ${R[cf-trips,32]}."
  row "- DBOS Transact $(peer_version dbos @dbos-inc/dbos-sdk) (Postgres over $pgt): \`node bench/peers/dbos/bench.js URL $N C\`: a workflow with exactly one no-op step (DBOS.runStep), on its own database; N enqueued first with a DBOSClient (no bulk API: 64 enqueues in flight) onto a queue registered with workerConcurrency=C and **minPollingIntervalMs=1 ms** (the default, 1000 ms, caps a process at about C workflows/s), systemDatabasePoolSize C+2; then DBOS.launch() in the same process; rate from workflow_status (first started_at_epoch_ms to last SUCCESS updated_at)."
  row "- graphile-worker $(peer_version graphile-worker graphile-worker) (Postgres over $pgt): \`node bench/peers/graphile-worker/bench.js URL $N C\`: a no-op task on its own database, N added first with addJobs (1,000 per call), then run() with concurrency C and maxPoolSize C+2 (its own warning asks for a pool at least C), other settings default; on Node $(node --version 2>/dev/null) although it declares Node >= 22.18; rate from the first job:start to the jobs table being empty."
  row "- BullMQ $(peer_version bullmq bullmq) (ioredis $(peer_version bullmq ioredis); Redis over $rdt): \`node bench/peers/bullmq/bench.js PORT|SOCKET PW $N C\`: no-op jobs, addBulk first, then one Worker. Sidekiq $sk_ver (Redis over TCP: redis-rb 4.8 drops a unix URL's password): \`ruby bench/peers/sidekiq/enqueue.rb $N\` then \`sidekiq -r ./worker.rb -c C -q cfbench\` (rate from the first and last job's wall time)."
  row "- Commits/job = the system's database's pg_stat_database.xact_commit delta over the processing phase / N (read-only transactions count too: DBOS's 1 ms queue polls are in its figure; so are the bench's own completion polls, 5 a second)."
  row ""
  row "| system | one job is | durability | commits/job c=16 / c=32 | jobs/s c=16 | jobs/s c=32 | chronoforge / this, c=16 | c=32 |"
  row "|---|---|---|---|---|---|---|---|"
  row "| chronoforge | durable one-step workflow | Postgres commit per job (group commit: one commit can carry several workflows; fsync=$fsync, synchronous_commit=$sc); queue: $redis_dur | ${R[cf-commits,16]} / ${R[cf-commits,32]} | ${R[cf,16]} | ${R[cf,32]} | 1.00 | 1.00 |"
  row "| DBOS Transact | durable workflow, one no-op step; minPollingIntervalMs 1 ms | $pg_dur | ${R[dbos-commits,16]} / ${R[dbos-commits,32]} | ${R[dbos,16]} | ${R[dbos,32]} | $(ratio "${R[cf,16]}" "${R[dbos,16]}") | $(ratio "${R[cf,32]}" "${R[dbos,32]}") |"
  row "| graphile-worker | no-op job | $pg_dur | ${R[gw-commits,16]} / ${R[gw-commits,32]} | ${R[gw,16]} | ${R[gw,32]} | $(ratio "${R[cf,16]}" "${R[gw,16]}") | $(ratio "${R[cf,32]}" "${R[gw,32]}") |"
  row "| BullMQ | no-op job | $redis_dur | 0 (no Postgres) | ${R[bq,16]} | ${R[bq,32]} | $(ratio "${R[cf,16]}" "${R[bq,16]}") | $(ratio "${R[cf,32]}" "${R[bq,32]}") |"
  row "| Sidekiq | no-op job | $redis_dur | 0 (no Postgres) | ${R[sk,16]} | ${R[sk,32]} | $(ratio "${R[cf,16]}" "${R[sk,16]}") | $(ratio "${R[cf,32]}" "${R[sk,32]}") |"
  row ""
  row "Worker peak RSS at c=16: VmHWM of the \`-c 16\` worker above, read from /proc/PID/status just before it was stopped: **${hwm16} kB**."
  row ""
}

# ---- commits per workflow at c=1
sec_commits() {
  fresh_db commits_c1
  throughput 1 1 c1 "$N1"
  cpw1=$cpw; dcw1=$dcw; tp1=$tp
  row "## Commits per one-step workflow at concurrency 1"
  row ""
  row "N=$N1 one-step workflows (a smaller N than the throughput runs: at c=1 the group commit carries one workflow, so the figure does not depend on N), one worker \`-c 1\`, $transport_label ($tp1 wf/s; CPU µs/wf worker / redis / postgres $cpu_w / $cpu_r / $cpu_p; Redis round trips/wf $rtw). Durable commits (write transactions: the server's transaction-id delta / N; only a transaction that writes is given an id) = **$dcw1**. All transactions (pg_stat_database.xact_commit delta / N) = $cpw1: that count includes the read-only ones, i.e. a lazy begin's read of the workflow (docs/healing.md, the lazy window), the worker's start-up and housekeeping reads and the bench's completion polls (5 a second)."
  row ""
}

# ---- 2. latency at half the maximum
sec_latency() {
  if [ -z "${tp16:-}" ] || ! [[ $tp16 =~ ^[0-9]+$ ]]; then fresh_db lat_max; throughput 1 16 latmax; tp16=$tp; fi
  local rate lat_n
  rate=$((tp16 / 2))
  [ "$rate" -ge 50 ] || rate=50
  lat_n=$((rate * 8))
  fresh_db lat
  rcli flushall >/dev/null
  start_workers 1 16
  sleep 1
  "$wf" paced "$redis_url" chronoforge default Exerciser lat "$lat_n" "$rate" '{"steps":1}' >"$dir/paced.txt"
  "$wf" await "$dsn" Exerciser lat "$lat_n" 600 >/dev/null
  stop_workers
  lat=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT extract(epoch FROM l.started_at) * 1000 - (w.kwargs->>'enq_ms')::bigint AS d FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs l ON l.workflow_id = w.id AND l.step_name = 'durably_execute\$step_1' WHERE w.key LIKE 'lat-%') t")
  lat_rate=$rate
  row "## 2. Enqueue to first step start, at a fixed offered load"
  row ""
  row "Offered load $rate workflows/s (half of the concurrency-16 maximum above) for 8 s ($(cat "$dir/paced.txt")), worker \`-c 16\`, $transport_label: \`\$W paced \$REDIS chronoforge default Exerciser lat $lat_n $rate '{\"steps\":1}'\` stamps each envelope's kwargs with \`enq_ms\`; latency = the step_1 row's started_at - kwargs.enq_ms (ms resolution; same host clock)."
  row ""
  row "| offered load | p50 / p99 ms |"
  row "|---|---|"
  row "| $rate wf/s | $lat |"
  row ""
  log "latency at $rate/s: $lat ms"
}

# ---- 3. wake-up lateness
sec_wake() {
  fresh_db wake
  rcli flushall >/dev/null
  "$wf" produce "$redis_url" chronoforge default Exerciser wake 10000 '{"steps":2,"wait_ms":1000}' 10000 >/dev/null
  start_workers 1 16
  "$wf" await "$dsn" Exerciser wake 10000 600 >/dev/null
  stop_workers
  wake=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT extract(epoch FROM s2.started_at) * 1000 - (p.metadata->>'wait_until_ms')::bigint AS d FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs p ON p.workflow_id = w.id AND p.step_name = 'wait\$pause' JOIN chrono_forge_execution_logs s2 ON s2.workflow_id = w.id AND s2.step_name = 'durably_execute\$step_2' WHERE w.key LIKE 'wake-%') t")
  row "## 3. Wake-up lateness of 10,000 one-second waits"
  row ""
  row "\`\$W produce \$REDIS chronoforge default Exerciser wake 10000 '{\"steps\":2,\"wait_ms\":1000}' 10000\` (first runs scheduled evenly over 10 s), worker \`-c 16\`, $transport_label; lateness = step_2's started_at - the wait row's metadata.wait_until_ms."
  row ""
  row "| waits | p50 / p99 ms late |"
  row "|---|---|"
  row "| 10,000 x 1 s over 10 s | $wake |"
  row ""
  log "wake lateness: $wake ms"
}

# shellcheck source=bench/sections.sh
. "$root/bench/sections.sh"
# shellcheck source=bench/retention.sh
. "$root/bench/retention.sh"
# shellcheck source=bench/fanout.sh
. "$root/bench/fanout.sh"
# shellcheck source=bench/cluster.sh
. "$root/bench/cluster.sh"
# shellcheck source=bench/growth.sh
. "$root/bench/growth.sh"
# shellcheck source=bench/redis_cost.sh
. "$root/bench/redis_cost.sh"

fsync=$(q "$admin" "SHOW fsync")
for s in throughput commits latency wake signals resume bigtable fleet rediscost cluster transport pgsettings indexes retention growth dashboard repeat fanout slowfsync; do
  if wants "$s"; then
    s0=$(date +%s)
    "sec_$s"
    log "section $s took $(($(date +%s) - s0)) s"
  fi
done
set_transport "$main_transport"
t_total=$(($(date +%s) - t_start))

# ---- the report: header, the goal table, the sections
v() { if [ -n "${1:-}" ]; then echo "$1"; else echo "$NR"; fi; }
cell() { if [ -n "${1:-}" ]; then echo "$1$2"; else echo "$NR"; fi; } # VALUE SUFFIX
head="$dir/head.md"
tp_cell=$(cell "${R[cf,16]:-}" " / ${R[cf,32]:-}; BullMQ ${R[bq,16]:-} / ${R[bq,32]:-}: **$(ratio "${R[cf,16]:-}" "${R[bq,16]:-}")x / $(ratio "${R[cf,32]:-}" "${R[bq,32]:-}")x** the BullMQ rate")
{
  echo "# chronoforge benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo ""
  echo "Machine: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), load average at start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg). bench/run.sh took **$t_total s** (N=$N${only:+; sections: $only})."
  echo "Postgres $(q "$admin" "SHOW server_version"), fsync=$fsync, synchronous_commit=$(q "$admin" "SHOW synchronous_commit"), the README's recommended settings (deploy/postgres/chronoforge.conf: shared_buffers=$(q "$admin" "SHOW shared_buffers"), wal_compression=$(q "$admin" "SHOW wal_compression"), max_wal_size=$(q "$admin" "SHOW max_wal_size"), checkpoint_timeout=$(q "$admin" "SHOW checkpoint_timeout")); Redis $(rcli info server | sed -n 's/^redis_version:\(.*\)\r*$/\1/p' | tr -d '\r') with AOF everysec; both throwaway, started by bench/run.sh (deploy/services.sh). chronoforge reaches them over $transport_label unless a row says otherwise."
  echo "fsync on this host is fast (a host cache absorbs it; ~54 µs on a quiet machine, $(cell "${fast_fd:-}" " µs in this run (pg_test_fsync)")): durability-bound figures are far above what real disks give. The slow-fsync section repeats the chronoforge runs with 2 ms added to each Postgres fsync/fdatasync."
  echo "The machine is shared (2 cores; other engineers' builds and fuzzers run at the same time): expect ±30% or worse between runs."
  echo "Commands: \`W=$W\`, \`CF=$CF\`; N=$N."
  echo ""
  echo "## Goals of issue 11, measured in this run"
  echo ""
  echo "| measure | goal | issue's \"now\" | this run |"
  echo "|---|---|---|---|"
  echo "| durable one-step workflows/s, one worker process, c=16 / c=32 | >= 10k, and >= 1.0x BullMQ in the same run | 4.4k / 5.5k | $tp_cell |"
  echo "| commits per one-step workflow at c=1 | <= 1.0 | 2.0 | $(cell "${dcw1:-}" " durable (write transactions / N; ${cpw1:-} with read-only ones, xact_commit), N=$N1") |"
  echo "| Redis round trips per workflow at c=16 | <= 1 | 3 | $(cell "${rtw16:-}" " (the worker's chronoforge_redis_round_trips_total / N)") |"
  echo "| enqueue -> first step start at 50% of the measured maximum, p50 / p99 | <= 1 ms / <= 5 ms | 3.0 / 68 ms | $(cell "${lat:-}" " ms at ${lat_rate:-} wf/s") |"
  echo "| lateness of 10,000 one-second waits over 10 s, p50 / p99 | p99 <= 50 ms | 91 / 1,277 ms | $(cell "${wake:-}" " ms") |"
  echo "| signal latency (client send -> the step after the await starts) at moderate load, p50 / p99 | p99 <= 10 ms | n/a | $(cell "${sig_lat:-}" " ms at ${sig_rate:-} signals/s") |"
  echo "| throughput with 1M workflows and 3M execution-log rows vs empty tables | >= 90% | 62% | $(cell "${big_pct:-}" " (${big_tp:-} vs ${empty_tp:-} wf/s, back to back)") |"
  echo "| fleet, 1/2/4/8 worker processes (c=16 each) | CPU µs per workflow by process, naming what saturates | 3.5k/4.5k/4.8k/4.9k | $(cell "${fleet_tp:-}" " wf/s; at 8 processes CPU µs/wf worker/redis/postgres ${fleet_cpu:-}, saturates: ${fleet_sat:-}") |"
  echo "| fleet against a 3-master Redis Cluster (issue 15), 1/2/4/8 processes (c=16 each) | the curve next to one Redis's, CPU per process kind | n/a | $(cell "${cluster_tp:-}" " wf/s on one queue, ${cluster_q_tp:-} on one queue per master (one Redis in the same section: ${cluster_single_tp:-}; $(nproc) cores shared by the 6 redis-servers)") |"
  echo "| worker peak RSS at c=16 | <= 16 MB (keep) | 10.3 MB | $(if [ -n "${hwm16:-}" ] && [[ $hwm16 =~ ^[0-9]+$ ]]; then awk -v k="$hwm16" 'BEGIN {printf "%.1f MB", k / 1024}'; else v "${hwm16:-}"; fi) |"
  echo ""
} >"$head"
{
  cat "$head" "$body"
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). bench/run.sh took $t_total s (N=$N)."
} >"$out.tmp"
mv "$out.tmp" "$out"
log "wrote $(rel "$out") in $t_total s"
