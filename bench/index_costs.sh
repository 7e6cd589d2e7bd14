#!/usr/bin/env bash
# bench/index_costs.sh: the hot-path cost of each secondary index of the store (docs/indexes.md).
# Sourced by bench/run.sh, which calls `index_costs CF_BIN WF_BIN N CONC` with its services up
# (the variables of deploy/services.sh's env.sh in the environment). For the current schema, the
# version 1 schema rebuilt on it (log FKs, (state, completed_at), full (state, id), fillfactor
# 100), and the current schema with each secondary index dropped in turn, it runs N one-step
# Exerciser workflows on a fresh database with one worker at concurrency CONC, and prints one
# Markdown table (header included) to stdout, one row per variant: workflows/s, WAL bytes per
# workflow (pg_current_wal_lsn delta / N), Postgres CPU µs per workflow (utime+stime of that
# server's processes), HOT updates / updates of chrono_forge_workflows, and the variant's index
# size. Progress goes to stderr. Only the unique indexes that ON CONFLICT needs are never dropped.
# A measurement, never pass/fail: a variant that fails prints "n/a" cells. About 10 runs of N.

# ic_pg_cpu_ms: CPU ms so far of the Postgres server of $CF_SERVICES_DIR (postmaster + children).
ic_pg_cpu_ms() {
  local pm tck
  pm=$(cat "$CF_SERVICES_DIR/pg.pid")
  tck=$(getconf CLK_TCK)
  # /proc/PID/stat: field 4 is the parent pid, 14 and 15 utime and stime (comm has no spaces here).
  # A process that exits between the glob and the read makes cat fail: not an error here (the
  # bench runs under pipefail and set -e).
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v pm="$pm" -v t="$tck" '$1 == pm || $4 == pm {s += $14 + $15} END {printf "%.0f", s * 1000 / t}'
}

# ic_run CF WF N CONC LABEL SQL: one variant on a fresh database (SQL applied after migrate);
# prints its table row. Workflows of $IC_STEPS steps.
ic_run() {
  local cf=$1 wf=$2 n=$3 conc=$4 label=$5 sql=$6 db dsn res span l0 c0 c1 wp stats
  local adm="$CF_TEST_PG_ADMIN_DSN"
  db="cf_ic_$RANDOM$RANDOM"
  dsn="host=$CF_TEST_PG_HOST port=$CF_TEST_PG_PORT user=postgres dbname=$db"
  if ! psql -qAtX "$adm" -c "CREATE DATABASE $db" >/dev/null ||
    ! CHRONOFORGE_DATABASE_URL=$dsn "$cf" migrate >/dev/null ||
    { [ -n "$sql" ] && ! psql -qAtX -v ON_ERROR_STOP=1 "$dsn" -c "$sql" >/dev/null; }; then
    echo "| $label | n/a (setup failed) | | | | |"
    return
  fi
  redis-cli -p "$CF_TEST_REDIS_PORT" -a "$CF_TEST_REDIS_PASSWORD" --no-auth-warning flushall >/dev/null
  "$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser ic "$n" "{\"steps\":$IC_STEPS}" >/dev/null
  psql -qAtX "$dsn" -c "CHECKPOINT" >/dev/null
  l0=$(psql -qAtX "$dsn" -c "SELECT pg_current_wal_lsn()")
  c0=$(ic_pg_cpu_ms)
  CHRONOFORGE_DATABASE_URL=$dsn CHRONOFORGE_TEST_WORKFLOWS=1 CHRONOFORGE_LOG_LEVEL=warn \
    "$cf" worker -c "$conc" >/dev/null 2>&1 &
  wp=$!
  if ! res=$("$wf" await "$dsn" Exerciser ic "$n" 600); then
    kill -TERM "$wp" 2>/dev/null; wait "$wp" 2>/dev/null
    echo "| $label | n/a (await failed) | | | | |"
    return
  fi
  c1=$(ic_pg_cpu_ms)
  kill -TERM "$wp" 2>/dev/null; wait "$wp" 2>/dev/null
  span=${res#*span_s=}; span=${span%% *}
  sleep 1.2 # backends flush their table statistics within a second of going idle
  stats=$(psql -qAtX -F ' ' "$dsn" -c "SELECT
      round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$l0') / $n),
      (SELECT n_tup_hot_upd || ' / ' || n_tup_upd FROM pg_stat_user_tables
       WHERE relname = 'chrono_forge_workflows'),
      (SELECT pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_stat_user_indexes
       WHERE relname LIKE 'chrono_forge_%')")
  echo "$label" "$res" "$stats" >&2
  awk -v l="$label" -v n="$n" -v s="$span" -v a="$c0" -v b="$c1" -v st="$stats" 'BEGIN {
      split(st, f, " ");
      printf "| %s | %.0f | %s | %.0f | %s %s %s | %s %s |\n", l, n / s, f[1], (b - a) * 1000 / n,
             f[2], f[3], f[4], f[5], f[6] }'
  psql -qAtX "$adm" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}

# index_costs CF_BIN WF_BIN N CONC [STEPS]: the table (see the top of this file); STEPS (default
# 1) steps per workflow: with 2 or more, the mid-run updates show how many updates are HOT.
index_costs() {
  local cf=$1 wf=$2 n=${3:-20000} conc=${4:-16} ix
  IC_STEPS=${5:-1}
  local v1="ALTER TABLE chrono_forge_execution_logs ADD FOREIGN KEY (workflow_id)
      REFERENCES chrono_forge_workflows (id) ON DELETE CASCADE;
    ALTER TABLE chrono_forge_error_logs ADD FOREIGN KEY (workflow_id)
      REFERENCES chrono_forge_workflows (id) ON DELETE CASCADE;
    DROP TRIGGER chrono_forge_workflows_delete_logs ON chrono_forge_workflows;
    DROP TRIGGER chrono_forge_workflows_truncate_logs ON chrono_forge_workflows;
    DROP INDEX chrono_forge_workflows_not_completed, chrono_forge_workflows_created_brin;
    CREATE INDEX chrono_forge_workflows_state_completed ON chrono_forge_workflows (state, completed_at);
    CREATE INDEX chrono_forge_workflows_state_id ON chrono_forge_workflows (state, id);
    ALTER TABLE chrono_forge_workflows SET (fillfactor = 100);"
  echo "| schema variant (N=$n $IC_STEPS-step workflows, c=$conc, one worker) | workflows/s | WAL bytes/wf | Postgres CPU µs/wf | HOT / all updates of workflows | index size |"
  echo "|---|---|---|---|---|---|"
  ic_run "$cf" "$wf" "$n" "$conc" "current schema, all indexes" ""
  ic_run "$cf" "$wf" "$n" "$conc" "version 1 schema (log FKs, (state, completed_at), full (state, id), fillfactor 100)" "$v1"
  for ix in chrono_forge_workflows_not_completed chrono_forge_workflows_class_id \
    chrono_forge_workflows_wake chrono_forge_workflows_created_brin chrono_forge_error_logs_wf; do
    ic_run "$cf" "$wf" "$n" "$conc" "without $ix" "DROP INDEX $ix"
  done
  ic_run "$cf" "$wf" "$n" "$conc" "current schema, all indexes (again: the noise)" ""
}
