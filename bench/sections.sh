# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/sections.sh: the later sections of bench/run.sh (sourced): signal latency, resuming a
# long workflow, a large table, the fleet curve with CPU per process, TCP vs unix sockets, stock
# vs recommended Postgres settings, index costs (bench/index_costs.sh), the tick lateness of many
# concurrent durably_repeats, and a slow fsync. Each sec_NAME writes
# its Markdown with row() and sets the variables the goal table reads.

# ---- 4. resume with 1,000 completed steps
sec_resume() {
  local gate="$dir/gate" c0 c1 queries detail
  fresh_db resume
  rcli flushall >/dev/null
  start_workers 1 1
  "$wf" produce "$redis_url" chronoforge default Exerciser big 1 "{\"steps\":1000,\"gate_file\":\"$gate\"}" >/dev/null
  for _ in $(seq 1 1200); do
    [ "$(q "$dsn" "SELECT count(*) FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = 'big-0' AND w.state = 'idle' AND l.state = 'completed'")" -ge 1000 ] && break
    sleep 0.1
  done
  touch "$gate"
  sleep 0.5
  q "$dsn" "SELECT pg_stat_statements_reset()" >/dev/null
  c0=$(cpu_ms "${wpids[0]}")
  "$wf" produce "$redis_url" chronoforge default Exerciser big 1 '{}' >/dev/null
  "$wf" await "$dsn" Exerciser big 1 120 >/dev/null
  c1=$(cpu_ms "${wpids[0]}")
  stop_workers
  queries=$(q "$dsn" "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat_statements%' AND s.query LIKE '%chrono_forge%' AND s.query NOT LIKE '%count(*)%'")
  detail=$(q "$dsn" "SELECT string_agg(calls || ' x ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 48), '; ') FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat_statements%' AND s.query LIKE '%chrono_forge%' AND s.query NOT LIKE '%count(*)%'")
  row "## 4. Resuming a workflow with 1,000 completed steps"
  row ""
  row "Exerciser \`{\"steps\":1000,\"gate_file\":G}\` runs its 1,000 steps and halts at continue_if \"gate\"; then G is created, pg_stat_statements reset, and the workflow enqueued again (worker \`-c 1\`): the resume replays 1,000 completed steps and completes. Queries = pg_stat_statements calls on chronoforge's tables in that window (the bench's own polling excluded); CPU = the worker's utime+stime delta (/proc/PID/stat; includes its idle threads)."
  row ""
  row "| queries | worker CPU ms | statements |"
  row "|---|---|---|"
  row "| $queries | $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.0f", b - a}') | ${detail//|/\\|} |"
  row ""
  log "resume: $queries queries, cpu $(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}') ms"
}

# ---- signal latency (issue 13): client send -> the step after the await starts
sec_signals() {
  local n=${CF_BENCH_SIGNALS_N:-2000} rate=${CF_BENCH_SIGNALS_RATE:-200} waiting=0
  fresh_db signals
  rcli flushall >/dev/null
  start_workers 1 16
  "$wf" produce "$redis_url" chronoforge default Exerciser sig "$n" '{"steps":2,"await_signal":"go","signal_timeout_ms":0}' >/dev/null
  for _ in $(seq 1 1200); do
    waiting=$(q "$dsn" "SELECT count(*) FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w ON w.id = l.workflow_id WHERE l.step_name = 'await_signal\$signal_1' AND l.state = 'pending' AND w.state = 'idle'")
    [ "$waiting" -ge "$n" ] && break
    sleep 0.1
  done
  PYTHONPATH="$root/clients/python" /usr/bin/python3 "$root/bench/signal_latency.py" "$redis_url" chronoforge sig "$n" "$rate" >"$dir/signals.tsv"
  "$wf" await "$dsn" Exerciser sig "$n" 600 >/dev/null
  stop_workers
  q "$dsn" "CREATE TABLE bench_signal_sends (key text PRIMARY KEY, sent_ms bigint, accepted_ms bigint)" >/dev/null
  psql -qAtX "$dsn" -c "\\copy bench_signal_sends FROM '$dir/signals.tsv'" >/dev/null
  sig_lat=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT extract(epoch FROM l.started_at) * 1000 - b.sent_ms AS d FROM bench_signal_sends b JOIN chrono_forge_workflows w ON w.key = b.key AND w.job_class = 'Exerciser' JOIN chrono_forge_execution_logs l ON l.workflow_id = w.id AND l.step_name = 'durably_execute\$step_2') t")
  sig_ack=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT accepted_ms - sent_ms AS d FROM bench_signal_sends) t")
  sig_rate=$rate
  row "## Signal latency"
  row ""
  row "$n workflows \`{\"steps\":2,\"await_signal\":\"go\",\"signal_timeout_ms\":0}\` wait in their await (worker \`-c 16\`, $transport_label); then \`bench/signal_latency.py\` sends each one signal through the Python client (a control request on \`P:{default}:control\`, applied by the worker's control loop: Postgres first, then the wake), one at a time at $rate/s, each call waiting for its answer. Latency = step_2's started_at - the client's time before the call (ms; same host clock); answer = the call's own duration (accepted)."
  row ""
  row "| signals | offered load | send -> step after the await, p50 / p99 ms | send -> accepted answer, p50 / p99 ms |"
  row "|---|---|---|---|"
  row "| $n | $rate/s | $sig_lat | $sig_ack |"
  row ""
  log "signal latency at $rate/s: $sig_lat ms (answer $sig_ack ms)"
}

# ---- 6. 1,000,000 workflows and 3,000,000 execution-log rows already present
sec_bigtable() {
  local t0 t_fill rows wfs ecpw
  fresh_db bigtable
  throughput 1 16 empty
  empty_tp=$tp; ecpw=$cpw
  t0=$(date +%s)
  # One statement: 1,000,000 completed workflows, 3 completed step rows each.
  q "$dsn" "WITH w AS (INSERT INTO chrono_forge_workflows (job_class, key, state, fence, started_at, completed_at) SELECT 'Exerciser', 'old-' || g, 'completed', 1, now(), now() FROM generate_series(1, 1000000) g RETURNING id) INSERT INTO chrono_forge_execution_logs (workflow_id, step_name, state, attempts, metadata, started_at, last_executed_at, completed_at) SELECT w.id, 'durably_execute\$step_' || s, 'completed', 1, '{}', now(), now(), now() FROM w, generate_series(1, 3) s" >/dev/null
  q "$dsn" "VACUUM ANALYZE" >/dev/null
  t_fill=$(($(date +%s) - t0))
  rows=$(q "$dsn" "SELECT count(*) FROM chrono_forge_execution_logs")
  wfs=$(q "$dsn" "SELECT count(*) FROM chrono_forge_workflows")
  log "filled $wfs workflows, $rows log rows in $t_fill s"
  throughput 1 16 big
  big_tp=$tp
  big_pct=$(awk -v a="$big_tp" -v b="$empty_tp" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.0f%%", a / b * 100; else print "n/a"}')
  row "## 6. Throughput with 1,000,000 workflows and 3,000,000 execution-log rows already present (c=16)"
  row ""
  row "One database: a c=16 run on empty tables, then one SQL statement inserts 1,000,000 completed workflows with 3 completed step rows each (generate_series; $t_fill s with VACUUM ANALYZE), then the same c=16 run again. $transport_label. The bench's completion poll is an index range on (key, job_class), so it does not scan the old rows."
  row ""
  row "| tables before the run | wf/s | commits/wf |"
  row "|---|---|---|"
  row "| empty | $empty_tp | $ecpw |"
  row "| $wfs workflows, $rows execution-log rows (+ the empty run's $N) | $big_tp | $cpw |"
  row "| ratio | **$big_pct** | |"
  row ""
}

# ---- 7. fleet curve with CPU per process
sec_fleet() {
  local p tps=()
  row "## 7. Fleet: 1, 2, 4, 8 worker processes (\`-c 16\` each)"
  row ""
  row "$transport_label. CPU µs per workflow = the utime+stime delta (/proc/PID/stat) over the run / N, by process group: the worker processes (from their start), redis-server, and every Postgres process (the postmaster and its children alive at the end: the backends serving the workers, the WAL writer, checkpointer, autovacuum). % of a core = that CPU over the run's wall time (workers started to all completed). Commits/wf = the database's xact_commit delta / N (read-only transactions and the bench's completion polls included); durable commits/wf = write transactions (the server's transaction-id delta / N). Saturates: a single schedulable unit at >= 90% of a core (redis-server's command thread, one Postgres process, one worker thread), else \"none: the cores are shared\" when the machine as a whole (every process, other engineers' too: /proc/stat) is >= 90% busy."
  row ""
  row "| processes | wf/s | commits/wf | durable commits/wf | Redis cmds/wf | Redis round trips/wf | CPU µs/wf worker(s) / redis / postgres | % of a core worker(s) / redis / postgres | machine busy (all processes) | busiest units | saturates |"
  row "|---|---|---|---|---|---|---|---|---|---|---|"
  for p in 1 2 4 8; do
    fresh_db "fleet$p"
    throughput "$p" 16 "fleet$p"
    tps+=("$tp")
    row "| $p | $tp | $cpw | $dcw | $rpw | $rtw | $cpu_w / $cpu_r / $cpu_p | $util_w / $util_r / $util_p | $busy_all% | $hot | $sat |"
  done
  row ""
  fleet_tp=$(IFS=/; echo "${tps[*]}")
  fleet_sat=$sat
  fleet_cpu="$cpu_w/$cpu_r/$cpu_p"
}

# ---- TCP loopback vs unix sockets, back to back
sec_transport() {
  local t keep=$transport
  row "## Transport: TCP loopback vs unix sockets (c=16, back to back)"
  row ""
  row "The same c=16 run three times in a row, each on a fresh database: chronoforge (worker, producer, completion poll) over TCP 127.0.0.1, over the unix sockets, over TCP again (the machine's noise shows in the two TCP rows)."
  row ""
  row "| transport | wf/s | CPU µs/wf worker / redis / postgres | machine busy |"
  row "|---|---|---|---|"
  for t in tcp unix tcp; do
    set_transport "$t"
    fresh_db "tr_$t"
    throughput 1 16 "tr$t"
    row "| $t | $tp | $cpu_w / $cpu_r / $cpu_p | $busy_all% |"
  done
  set_transport "$keep"
  row ""
}

# ---- stock vs recommended Postgres settings
# restart_pg SETTINGS [PRELOAD]: Postgres restarted with recommended|stock settings.
restart_pg() {
  "$root/deploy/services.sh" stop-pg "$dir"
  CF_SERVICES_PG_SETTINGS=$1 CF_SERVICES_PG_PRELOAD=${2:-} "$root/deploy/services.sh" start-pg "$dir"
}
sec_pgsettings() {
  local s
  row "## Postgres settings: initdb's defaults vs the README's recommendation (c=16, back to back)"
  row ""
  row "Postgres restarted with \`CF_SERVICES_PG_SETTINGS=stock\` (shared_buffers 128MB, max_wal_size 1GB, checkpoint_timeout 5min, no wal_compression), then with deploy/postgres/chronoforge.conf, then stock again; a fresh database each, $transport_label. WAL bytes/wf = the server's pg_current_wal_lsn delta over the run / N (full-page images after a checkpoint are most of the difference wal_compression makes)."
  row ""
  row "| settings | wf/s | commits/wf | WAL bytes/wf | CPU µs/wf worker / redis / postgres | machine busy |"
  row "|---|---|---|---|---|---|"
  for s in stock recommended stock; do
    restart_pg "$s"
    fresh_db "pgs_$s"
    throughput 1 16 "pgs$s"
    row "| $s | $tp | $cpw | $walw | $cpu_w / $cpu_r / $cpu_p | $busy_all% |"
  done
  restart_pg recommended
  row ""
}

# ---- the hot-path cost of each index (bench/index_costs.sh, when present)
sec_indexes() {
  # shellcheck disable=SC1091
  [ -f "$root/bench/index_costs.sh" ] && . "$root/bench/index_costs.sh"
  if command -v index_costs >/dev/null; then
    row "## Hot-path cost of each index (docs/indexes.md)"
    row ""
    row "\`index_costs\` (bench/index_costs.sh): N=$N one-step workflows at c=16 per schema variant, each on a fresh database, back to back; the last row repeats the first to show the noise."
    row ""
    index_costs "$cf" "$wf" "$N" 16 >>"$body"
    row ""
  else
    row "## Hot-path cost of each index"
    row ""
    row "n/a (bench/index_costs.sh is not in this tree)"
    row ""
  fi
}

# ---- 8. a slow fsync: Postgres restarted with bench/fsync_delay.c preloaded
sec_slowfsync() {
  local delay=${CF_FSYNC_DELAY_US:-2000} pgbin="" d slow_fd fast_commit slow_commit c
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
    row "This host's fsync is fast because a host cache absorbs it (pg_test_fsync, one 8 kB write + fdatasync: **$fast_fd µs**), so section 1 is far above what a real disk gives. Here Postgres is restarted with \`LD_PRELOAD=DIR/fsync_delay.so CF_FSYNC_DELAY_US=$delay\` (a copy of \`$(rel "$shim")\`; \`CF_SERVICES_PG_PRELOAD=... deploy/services.sh start-pg DIR\`), which sleeps $delay µs after every fsync/fdatasync (the same pg_test_fsync line with the shim: $slow_fd µs). A single-row INSERT commit from psql, round trip: $fast_commit µs before, $slow_commit µs with the shim. Then the section-1 chronoforge runs again (fresh database, N=$N, $transport_label)."
    row ""
    row "| concurrency | fast fsync wf/s (section 1) | slow fsync wf/s | slow / fast | commits/wf (slow) |"
    row "|---|---|---|---|---|"
    for c in 16 32; do
      row "| $c | ${R[cf,$c]:-$NR} | ${S[$c]} | $(ratio "${S[$c]}" "${R[cf,$c]:-}") | ${S[commits,$c]} |"
    done
    log "slow fsync: c=16 ${S[16]} wf/s, c=32 ${S[32]} wf/s (fast ${R[cf,16]:-?} / ${R[cf,32]:-?})"
    # The fleet with the slow fsync: several writers' commits share Postgres's WAL flushes.
    row ""
    row "The fleet with the same slow fsync: P worker processes at \`-c 16\` (a fresh database each, N=$N, as in section 7; each process has its own store writer, so P commits can wait on one WAL flush together)."
    row ""
    row "| processes | wf/s | durable commits/wf | durable commits/s | CPU µs/wf worker(s) / redis / postgres | machine busy |"
    row "|---|---|---|---|---|---|"
    for c in 1 2 4 8; do
      fresh_db "slow_p$c"
      throughput "$c" 16 "slowp$c"
      row "| $c | $tp | $dcw | $(awk -v t="$tp" -v d="$dcw" 'BEGIN {if (t + 0 > 0) printf "%.0f", t * d; else print "n/a"}') | $cpu_w / $cpu_r / $cpu_p | $busy_all% |"
      S[fleet,$c]=$tp
    done
    slow_fleet="${S[fleet,1]}/${S[fleet,2]}/${S[fleet,4]}/${S[fleet,8]}"
    log "slow fsync fleet 1/2/4/8: $slow_fleet wf/s"
  else
    row "n/a: Postgres did not load the shim (fsync_delay.so not in its memory map; see its log)."
    log "slow fsync: the shim was not loaded"
  fi
  row ""
}

# ---- 9. tick lateness of many concurrent one-second repeats
sec_repeat() {
  local sizes=${CF_BENCH_REPEATS:-200 1000} ticks=10 m late n where
  where="w.key LIKE 'rep%' AND l.step_name LIKE 'durably\\_repeat\$tick\$%' AND (l.metadata->>'index')::int >= 1 AND l.state = 'completed'"
  row "## 9. Tick lateness of concurrent one-second repeats"
  row ""
  row "For M in ($sizes): \`\$W produce \$REDIS chronoforge default Exerciser repM M '{\"steps\":1,\"repeat_ticks\":$ticks,\"repeat_every_ms\":1000}' 1000\` (first runs spread over 1 s; each workflow then runs a durably_repeat of $ticks one-second ticks: M passes a second), a fresh database, worker \`-c 16\`, $transport_label; lateness = a tick row's metadata.late_ms (when its execution started - its scheduled time), over ticks 1..$((ticks - 1)) of every repeat (tick 0 is the anchor, run on arrival)."
  row ""
  row "| repeats | ticks measured | p50 / p99 / max ms late |"
  row "|---|---|---|"
  for m in $sizes; do
    fresh_db "repeat$m"
    rcli flushall >/dev/null
    "$wf" produce "$redis_url" chronoforge default Exerciser "rep$m" "$m" "{\"steps\":1,\"repeat_ticks\":$ticks,\"repeat_every_ms\":1000}" 1000 >/dev/null
    start_workers 1 16
    "$wf" await "$dsn" Exerciser "rep$m" "$m" 600 >/dev/null || log "repeat: not every workflow completed"
    stop_workers
    late=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || max(d) FROM (SELECT (l.metadata->>'late_ms')::bigint AS d FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs l ON l.workflow_id = w.id WHERE $where) t")
    n=$(q "$dsn" "SELECT count(*) FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs l ON l.workflow_id = w.id WHERE $where")
    [ "$m" = 1000 ] && repeat_late=$late
    row "| $m x 1 s | $n | $late |"
    log "repeat tick lateness, $m repeats: $late ms over $n ticks"
  done
  row ""
}
