# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/growth.sh: how Postgres grows per workflow (docs/scaling.md): N workflows of k steps run
# on a fresh database, then pg_relation_size / pg_indexes_size of the workflows, execution-log
# and error-log tables, less what the empty tables held, divided by N; with each run's CPU,
# commits and Redis commands per workflow (what a step costs, next to what a workflow costs). Sets growth_1 (total
# bytes per one-step workflow) and growth_step (bytes per extra step).

# rel_sizes: "table heap other indexes" (bytes) for each chronoforge table that holds per-workflow
# rows; other = TOAST, free-space and visibility maps.
rel_sizes() {
  q "$dsn" "SELECT t, pg_relation_size(t), pg_total_relation_size(t) - pg_relation_size(t) - pg_indexes_size(t), pg_indexes_size(t) FROM unnest(ARRAY['chrono_forge_workflows', 'chrono_forge_execution_logs', 'chrono_forge_error_logs']::regclass[]) t" | tr '|' ' '
}

sec_growth() {
  local n=${CF_BENCH_GROWTH_N:-10000} k t h o i total t0 rows
  declare -A B G
  row "## Postgres growth per workflow"
  row ""
  row "For k in 1, 5, 20: a fresh database, \`\$W produce \$REDIS chronoforge default Exerciser gK $n '{\"steps\":K}'\`, one worker \`-c 16\` until all $n are completed (\`\$W await\`; bench/lib.sh's \`throughput 1 16\`, whose rate, durable commits, Redis commands and CPU per workflow are in the table too), then each table's \`pg_relation_size\` (heap), \`pg_indexes_size\` (indexes) and the rest of \`pg_total_relation_size\` (TOAST, free-space and visibility maps), less the same figures of the empty, migrated tables, / $n. Measured right after the run, before any VACUUM: the workflow rows' dead versions (each commit of a run updates its row) are in the heap figure, as they are between autovacuum passes. Exerciser's kwargs are \`{\"steps\":K}\`, each step's result a small integer: real workflows' kwargs, context and step results add their own JSON size on top. Errors: none (the error-log table stays empty)."
  row ""
  row "| steps k | workflows heap / indexes | execution logs heap / indexes | other (TOAST, maps) | total bytes per workflow | log rows per workflow | wf/s | durable commits/wf | WAL bytes/wf | Redis cmds/wf | CPU µs/wf worker / redis / postgres |"
  row "|---|---|---|---|---|---|---|---|---|---|---|"
  for k in 1 5 20; do
    fresh_db "growth$k"
    while read -r t h o i; do B[$t,h]=$h; B[$t,o]=$o; B[$t,i]=$i; done < <(rel_sizes)
    t0=$(date +%s)
    throughput 1 16 "g$k" "$n" "{\"steps\":$k}"
    if ! [[ $tp =~ ^[0-9]+$ ]]; then
      row "| $k | $tp | | | | | | | | | |"
      continue
    fi
    while read -r t h o i; do
      G[$t,h]=$((h - B[$t,h])); G[$t,o]=$((o - B[$t,o])); G[$t,i]=$((i - B[$t,i]))
    done < <(rel_sizes)
    per() { awk -v b="$1" -v n="$n" 'BEGIN {printf "%.0f", b / n}'; }
    total=0
    for t in chrono_forge_workflows chrono_forge_execution_logs chrono_forge_error_logs; do
      total=$((total + G[$t,h] + G[$t,o] + G[$t,i]))
    done
    rows=$(q "$dsn" "SELECT round(count(*)::numeric / $n, 2) FROM chrono_forge_execution_logs")
    row "| $k | $(per "${G[chrono_forge_workflows,h]}") / $(per "${G[chrono_forge_workflows,i]}") | $(per "${G[chrono_forge_execution_logs,h]}") / $(per "${G[chrono_forge_execution_logs,i]}") | $(per $((G[chrono_forge_workflows,o] + G[chrono_forge_execution_logs,o] + G[chrono_forge_error_logs,o] + G[chrono_forge_error_logs,h] + G[chrono_forge_error_logs,i]))) | **$(per "$total")** | $rows | $tp | $dcw | $walw | $rpw | $cpu_w / $cpu_r / $cpu_p |"
    per_k[$k]=$(per "$total")
    log "growth k=$k: $(per "$total") bytes/wf ($(($(date +%s) - t0)) s)"
  done
  row ""
  if [[ ${per_k[1]:-} =~ ^[0-9]+$ && ${per_k[20]:-} =~ ^[0-9]+$ ]]; then
    growth_1=${per_k[1]}
    growth_step=$(awk -v a="${per_k[1]}" -v b="${per_k[20]}" 'BEGIN {printf "%.0f", (b - a) / 19}')
    row "So about **$growth_1 bytes for a one-step workflow and $growth_step bytes per further step** ((k=20 - k=1) / 19) in these three tables, before the workflows' own JSON."
    row ""
  fi
}
declare -A per_k
