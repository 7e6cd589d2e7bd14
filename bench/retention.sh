# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/retention.sh: what deleting 1,000,000 finished workflows (3,000,000 log rows) costs a
# running fleet whose workers run with `--retention 30d` (worker/retention.c: batches of 1,000 for
# at most a tenth of each sweep interval), at half its maximum (completion rate and latency, a
# paced producer) and at its maximum (c=16 throughput), each against the same fleet without
# retention. Also `chronoforge cleanup --duty 100` (as fast as it can) for the deletion rate.
# Sets ret_paced_pct, ret_max_pct, ret_rate. Also the dashboard's reads on a large table
# (sec_dashboard): both are what an operator's tools cost on a big store.

# fill_old: 1,000,000 completed workflows with 3 step rows each, finished 40 days ago.
fill_old() {
  q "$dsn" "WITH w AS (INSERT INTO chrono_forge_workflows (job_class, key, state, fence, created_at, updated_at, started_at, completed_at) SELECT 'Exerciser', 'old-' || g, 'completed', 1, now() - interval '40 days', now() - interval '40 days', now() - interval '40 days', now() - interval '40 days' FROM generate_series(1, 1000000) g RETURNING id) INSERT INTO chrono_forge_execution_logs (workflow_id, step_name, state, attempts, metadata, started_at, last_executed_at, completed_at) SELECT w.id, 'durably_execute\$step_' || s, 'completed', 1, '{}', now(), now(), now() FROM w, generate_series(1, 3) s" >/dev/null
  q "$dsn" "VACUUM ANALYZE" >/dev/null
}
old_rows() { q "$dsn" "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE 'old-%'"; }

# paced_run TAG RATE SECONDS: the running fleet fed RATE wf/s for SECONDS; sets pr_rate
# (completed per second, first step start .. last completion) and pr_lat (p50 / p99 ms, enqueue
# -> first step).
paced_run() {
  local n=$(($2 * $3)) res span
  "$wf" paced "$redis_url" chronoforge default Exerciser "$1" "$n" "$2" '{"steps":1}' >/dev/null
  res=$("$wf" await "$dsn" Exerciser "$1" "$n" 600)
  span=${res#*span_s=}
  pr_rate=$(awk -v n="$n" -v s="$span" 'BEGIN {printf "%.0f", n / s}')
  pr_lat=$(q "$dsn" "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT extract(epoch FROM l.started_at) * 1000 - (w.kwargs->>'enq_ms')::bigint AS d FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs l ON l.workflow_id = w.id AND l.step_name = 'durably_execute\$step_1' WHERE w.key LIKE '$1-%') t")
}

# with_retention CMD...: runs CMD with the workers started by it running `--retention 30d`.
with_retention() {
  local keep=("${worker_args[@]}")
  worker_args=(--retention 30d --sweep-interval 5s)
  "$@"
  worker_args=("${keep[@]}")
}

sec_retention() {
  local rate secs=15 base_rate base_lat max_no max_with r0 r1 t0 fast_s
  fresh_db retention
  fill_old
  throughput 1 16 retmax
  max_no=$tp
  rate=$((max_no / 2))
  [ "$rate" -ge 50 ] || rate=50
  rcli flushall >/dev/null
  start_workers 1 16
  sleep 1
  paced_run ret_a "$rate" "$secs"
  base_rate=$pr_rate; base_lat=$pr_lat
  stop_workers
  r0=$(old_rows); t0=$(date +%s%N)
  with_retention start_workers 1 16
  sleep 1
  paced_run ret_b "$rate" "$secs"
  stop_workers
  r1=$(old_rows)
  local del_paced=$((r0 - r1)) del_s
  del_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
  ret_paced_pct=$(awk -v a="$pr_rate" -v b="$base_rate" 'BEGIN {if (b > 0) printf "%.0f%%", a / b * 100; else print "n/a"}')
  log "retention paced: $base_rate -> $pr_rate wf/s, latency $base_lat -> $pr_lat ms; retention deleted $del_paced in $del_s s"
  # back to back: without, with, without again (the two without rows show the machine's noise)
  throughput 1 16 retmax1
  local max_a=$tp
  r0=$(old_rows)
  with_retention throughput 1 16 retmax2
  max_with=$tp
  r1=$(old_rows)
  throughput 1 16 retmax3
  local max_b=$tp
  local max_mean; max_mean=$(awk -v a="$max_a" -v b="$max_b" 'BEGIN {printf "%.0f", (a + b) / 2}')
  ret_max_pct=$(awk -v a="$max_with" -v b="$max_mean" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.0f%%", a / b * 100; else print "n/a"}')
  log "retention at max: $max_a / $max_b without, $max_with with ($ret_max_pct), deleted $((r0 - r1))"
  # the deletion rate flat out, nothing else running
  t0=$(date +%s%N)
  CHRONOFORGE_DATABASE_URL=$dsn "$cf" cleanup --older-than 30d --duty 100 >"$dir/cleanup.out" 2>&1
  fast_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
  local fast_n; fast_n=$(sed -n 's/^deleted \([0-9]*\) [a-z,]* workflows.*/\1/p' "$dir/cleanup.out")
  ret_rate=$(awk -v n="${fast_n:-0}" -v s="$fast_s" 'BEGIN {if (s > 0) printf "%.0f", n / s; else print "n/a"}')
  row "## Retention: deleting 1,000,000 finished workflows beside a running fleet"
  row ""
  row "A database holding 1,000,000 completed workflows with 3 step rows each, finished 40 days ago (one INSERT ... generate_series, then VACUUM ANALYZE). The fleet is one worker \`-c 16\`; with retention it runs \`--retention 30d --sweep-interval 5s\`: the healing lease's holder deletes batches of 1,000 (SKIP LOCKED, logs by the delete trigger in the same statement) for at most a tenth of each sweep interval. (a) fed at half the c=16 maximum ($max_no wf/s) by \`\$W paced\` for $secs s; (b) the section-1 c=16 run, without, with, and again without retention, back to back. Completed per second = N / (first step start .. last completion); latency = enqueue -> first step start. $transport_label."
  row ""
  row "| | offered wf/s | completed wf/s | latency p50 / p99 ms | old workflows deleted meanwhile |"
  row "|---|---|---|---|---|"
  row "| (a) no retention | $rate | $base_rate | $base_lat | 0 |"
  row "| (a) \`--retention 30d\` | $rate | $pr_rate (**$ret_paced_pct**) | $pr_lat | $del_paced in $del_s s |"
  row "| (b) no retention | max | $max_a | | 0 |"
  row "| (b) \`--retention 30d\` | max | $max_with (**$ret_max_pct** of the mean of the two runs without) | | $((r0 - r1)) |"
  row "| (b) no retention, again | max | $max_b | | 0 |"
  row ""
  row "Flat out, nothing else running: \`\$CF cleanup --older-than 30d --duty 100\` deleted the remaining ${fast_n:-?} in $fast_s s (**$ret_rate workflows/s**, with their 3 log rows each). The default \`--duty 10\` paces it to about a tenth of that."
  row ""
}

# ---- the dashboard's reads on a large table (bench/bench_dashboard.c)
sec_dashboard() {
  local rows=${CF_BENCH_DASH_ROWS:-10000000}
  fresh_db dashboard
  if ! "$build/bench/bench_dashboard" "$dsn" "$rows" >"$dir/dashboard.txt" 2>&1; then
    row "## Dashboard reads on $rows workflows"
    row ""
    row "n/a: bench_dashboard failed ($(tail -1 "$dir/dashboard.txt"))"
    row ""
    return
  fi
  row "## Dashboard reads on $rows workflows"
  row ""
  row "\`$(rel "$build/bench/bench_dashboard") DSN $rows\`: fills the workflows table (90% completed, then idle, running, stalled and failed ones with errors; 20 classes), analyses it, then for representative filter combinations of the workflows page the generic plan's verdict (EXPLAIN: index, or a sequential or bitmap read of the table) and the first and second page's time (median of 5); then the home page's counts and throughput. test_store_dashboard checks the plan of every filter combination the page offers on 30,000 analysed rows."
  row ""
  row '```'
  while IFS= read -r l; do row "$l"; done <"$dir/dashboard.txt"
  row '```'
  row ""
  log "dashboard: $(grep -c . "$dir/dashboard.txt") lines"
}
