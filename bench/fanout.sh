# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads)
# bench/fanout.sh: the branches section of bench/run.sh: one parent fanning out to
# CF_BENCH_CHILDREN (default 100,000) Exerciser children (children created and published per
# second), then 20 parents of 200 children each (the last child's completion -> the parent's
# merge, p50 / p99).

# await_parents TAG N TIMEOUT_S: until the N parents TAG-0.. are completed (bench_wf await would
# count their children too: the children's keys extend the parents'), over the key index.
await_parents() {
  local _
  for _ in $(seq 1 $(($3 * 10))); do
    [ "$(q "$dsn" "SELECT count(*) FROM chrono_forge_workflows WHERE key >= '$1-' AND key < '$1.' AND parent_id IS NULL AND state = 'completed'")" -ge "$2" ] && return 0
    sleep 0.1
  done
  log "fanout: parents not completed within $3 s"
}

sec_fanout() {
  local n=${CF_BENCH_CHILDREN:-100000} rate disp_ms lat1 lats
  fresh_db fanout
  rcli flushall >/dev/null
  start_workers 1 16
  "$wf" produce "$redis_url" chronoforge default Exerciser fan 1 "{\"steps\":1,\"children\":$n,\"spawn_batch\":1000}" >/dev/null
  await_parents fan 1 1800
  # dispatch: from the first batch's note to the seal (branch$kids completed), every batch
  # committed and its children published within it
  disp_ms=$(q "$dsn" "SELECT round(extract(epoch FROM (l.completed_at - l.started_at)) * 1000) FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = 'fan-0' AND l.step_name = 'branch\$kids'")
  rate=$(awk -v n="$n" -v ms="$disp_ms" 'BEGIN {if (ms > 0) printf "%.0f", n / ms * 1000; else print "n/a"}')
  lat1=$(q "$dsn" "SELECT round(extract(epoch FROM (m.completed_at - (SELECT max(c.completed_at) FROM chrono_forge_workflows c WHERE c.parent_id = w.id))) * 1000) FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs m ON m.workflow_id = w.id AND m.step_name = 'merge\$kids' WHERE w.key = 'fan-0'")
  stop_workers
  fresh_db fanout2
  rcli flushall >/dev/null
  start_workers 1 16
  "$wf" produce "$redis_url" chronoforge default Exerciser par 20 '{"steps":1,"children":200,"spawn_batch":200}' >/dev/null
  await_parents par 20 600
  lats=$(q "$dsn" "WITH l AS (SELECT extract(epoch FROM (m.completed_at - (SELECT max(c.completed_at) FROM chrono_forge_workflows c WHERE c.parent_id = w.id))) * 1000 AS ms FROM chrono_forge_workflows w JOIN chrono_forge_execution_logs m ON m.workflow_id = w.id AND m.step_name = 'merge\$kids' WHERE w.parent_id IS NULL) SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) || ' / ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) || ' ms (' || count(*) || ' parents)' FROM l")
  stop_workers
  fanout_rate=$rate
  fanout_lat=$lats
  row "## Branches: fan-out and merge"
  row ""
  row "One parent (\`Exerciser {\"children\":$n,\"spawn_batch\":1000}\`, one worker \`-c 16\`) dispatches $n children: each batch of 1,000 is one commit (children rows + cursor + branch counters) followed by one pipelined publish of their first envelopes. Rate = children / (the branch step's first note -> its seal), the children running meanwhile on the same worker. Latency = the parent's \`merge\$kids\` completion - the last child's completed_at (the child's commit wakes the parent)."
  row ""
  row "| children | dispatch ms | created + published / s | last child -> parent's merge |"
  row "|---|---|---|---|"
  row "| $n | ${disp_ms:-n/a} | ${rate:-n/a} | ${lat1:-n/a} ms |"
  row ""
  row "20 parents of 200 children each, at once (same worker): last child -> parent's merge, p50 / p99: ${lats:-n/a}."
  row ""
  log "fanout: $rate children/s, merge latency $lat1 ms; 20 parents: $lats"
}
