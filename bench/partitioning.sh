#!/usr/bin/env bash
# bench/partitioning.sh [BUILD_DIR]: tries what docs/scaling.md says about partitioning the
# execution-log table, on throwaway services (deploy/services.sh), and prints what it saw:
#  1. partitioned by a time column (created_at), the store's unique key (workflow_id, step_name)
#     cannot exist: Postgres refuses it;
#  2. partitioned by range of workflow_id (primary key (workflow_id, id), an index on id), with
#     chronoforge's table comment: `chronoforge migrate` accepts it, a workload of three-step
#     workflows and of repeats whose old tick rows are pruned completes, every step once;
#  3. after `chronoforge cleanup` has deleted the first range's workflows, that range's partition
#     is empty and can be dropped; workflows created afterwards (in the next range) still run.
# Needs `make MODE=release bin build/release/bench/bench_wf` first. Not a test: the schema is
# ours, a partitioned one is the operator's (docs/scaling.md, "Partitioning the log tables").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
cf=$build/chronoforge wf=$build/bench/bench_wf
if [ ! -x "$cf" ] || [ ! -x "$wf" ]; then echo "partitioning.sh: build first (see the header)" >&2; exit 2; fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/cf-partitioning.XXXXXX")
pids=()
cleanup() {  # set before the services start, so a failed start leaves nothing behind
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  deploy/services.sh stop "$dir" >/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
chmod 755 "$dir"
deploy/services.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
dsn=$CF_TEST_PG_DSN
q() { psql -qAtX -v ON_ERROR_STOP=1 "$dsn" -c "$1"; }
export CHRONOFORGE_DATABASE_URL=$dsn CHRONOFORGE_REDIS_URL CHRONOFORGE_TEST_WORKFLOWS=1 CHRONOFORGE_LOG_LEVEL=warn
"$cf" migrate >/dev/null

echo "1. by created_at, with the store's unique key:"
q "CREATE TABLE t_by_time (LIKE chrono_forge_execution_logs INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)"
if out=$(q "ALTER TABLE t_by_time ADD CONSTRAINT t_by_time_wf_step UNIQUE (workflow_id, step_name)" 2>&1); then
  echo "   accepted: Postgres took the unique key after all; docs/scaling.md is out of date" >&2
  exit 1
fi
while IFS= read -r line; do echo "   $line"; done <<<"$out"
q "DROP TABLE t_by_time"

echo "2. by range of workflow_id:"
# One transaction: the plain table becomes a partitioned one with the same columns, defaults,
# checks, keys and comment; its rows (none yet) move over; the id sequence changes owner.
psql -qAtX -v ON_ERROR_STOP=1 "$dsn" <<'SQL'
BEGIN;
ALTER TABLE chrono_forge_execution_logs RENAME TO chrono_forge_execution_logs_plain;
CREATE TABLE chrono_forge_execution_logs
  (LIKE chrono_forge_execution_logs_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (workflow_id);
ALTER TABLE chrono_forge_execution_logs
  ADD CONSTRAINT chrono_forge_execution_logs_pkey2 PRIMARY KEY (workflow_id, id),
  ADD CONSTRAINT chrono_forge_execution_logs_wf_step2 UNIQUE (workflow_id, step_name);
CREATE INDEX chrono_forge_execution_logs_id ON chrono_forge_execution_logs (id);
COMMENT ON TABLE chrono_forge_execution_logs IS 'chronoforge schema: execution logs';
CREATE TABLE chrono_forge_execution_logs_r0 PARTITION OF chrono_forge_execution_logs
  FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE chrono_forge_execution_logs_r1 PARTITION OF chrono_forge_execution_logs
  FOR VALUES FROM (1000) TO (MAXVALUE);
INSERT INTO chrono_forge_execution_logs SELECT * FROM chrono_forge_execution_logs_plain;
ALTER SEQUENCE chrono_forge_execution_logs_id_seq OWNED BY chrono_forge_execution_logs.id;
DROP TABLE chrono_forge_execution_logs_plain;
COMMIT;
SQL
echo "   migrate: $("$cf" migrate 2>&1 | tail -1)"
for _ in 1 2; do
  "$cf" worker -c 8 --repeat-keep-ticks 2 >>"$dir/worker.log" 2>&1 &
  pids+=($!)
done
"$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser a 300 '{"steps":3}' >/dev/null
"$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser r 20 '{"steps":1,"repeat_ticks":6,"repeat_every_ms":200}' >/dev/null
echo "   3-step workflows: $("$wf" await "$dsn" Exerciser a 300 120)"
echo "   repeats:          $("$wf" await "$dsn" Exerciser r 20 120)"
echo "   step rows: $(q "SELECT count(*) FILTER (WHERE step_name LIKE 'durably_execute%') || ' step rows for 300 x 3 + 20 x 1 steps, ' || count(*) FILTER (WHERE step_name LIKE 'durably\_repeat%') || ' repeat rows left of 20 repeats of 6 ticks (--repeat-keep-ticks 2 pruned the older ticks)' FROM chrono_forge_execution_logs")"
echo "   rows per partition: $(q "SELECT string_agg(tableoid::regclass || '=' || n, ' ') FROM (SELECT tableoid, count(*) n FROM chrono_forge_execution_logs GROUP BY 1 ORDER BY 1) t")"
echo "   attempts of the durably_execute steps (1 = each ran once): $(q "SELECT string_agg(DISTINCT attempts::text, ',') FROM chrono_forge_execution_logs WHERE step_name LIKE 'durably_execute%'")"

echo "3. cleanup, then drop the emptied range:"
q "SELECT setval('chrono_forge_workflows_id_seq', greatest(1000, (SELECT max(id) FROM chrono_forge_workflows)))" >/dev/null
sleep 2
"$cf" cleanup --older-than 1s --duty 100 2>&1 | tail -1 | sed 's/^/   cleanup: /'
echo "   rows left in r0: $(q "SELECT count(*) FROM chrono_forge_execution_logs_r0")"
q "DROP TABLE chrono_forge_execution_logs_r0"
"$wf" produce "$CHRONOFORGE_REDIS_URL" chronoforge default Exerciser b 100 '{"steps":3}' >/dev/null
echo "   after DROP TABLE ..._r0, 3-step workflows: $("$wf" await "$dsn" Exerciser b 100 120)"
echo "   rows per partition: $(q "SELECT string_agg(tableoid::regclass || '=' || n, ' ') FROM (SELECT tableoid, count(*) n FROM chrono_forge_execution_logs GROUP BY 1 ORDER BY 1) t")"
echo "   migrate again: $("$cf" migrate 2>&1 | tail -1)"
