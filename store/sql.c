// SPDX-License-Identifier: MIT
/* store/sql.c: the text of every statement the store prepares (see store/sql.h for the
 * parameters and column positions). Write statements are single statements built from CTEs so
 * that a stale fence writes nothing and needs no savepoint. */
#include "store/sql.h"

#define WF  "chrono_forge_workflows"
#define LOG "chrono_forge_execution_logs"
#define ERR "chrono_forge_error_logs"

/* Unix milliseconds of a timestamptz expression; NULL stays NULL. */
#define MS(x) "(extract(epoch FROM " x ") * 1000)::bigint"

/* The workflow columns of a row named a, in the order store/sql.h documents. */
#define WF_COLS(a)                                                                                 \
    a ".id, " a ".fence, " a ".job_class, " a ".key, " a ".state, " a ".queue, " a ".attempt, " a  \
      ".crash_count, " a ".kwargs::text, " a ".options::text, " a ".context::text, " a             \
      ".retry_counts::text, coalesce(" a                                                           \
      ".locked_by, ''), " MS(a ".created_at") ", " MS(a ".started_at") ", " MS(                    \
          a                                                                                        \
          ".completed_at") ", " MS(a ".updated_at") ", " MS(a                                      \
                                                            ".locked_at") ", " MS(a                \
                                                                                  ".next_wake_at")

#define STEP_COLS                                                                                  \
    "l.id, l.step_name, l.state, l.attempts, l.metadata::text, " MS("l.started_at") ", " MS(       \
        "l.last_executed_at") ", " MS("l.completed_at") ", l.error_class, l.error_message"

/* Repetition rows are `durably_repeat$<name>$<ms>`: two separators. */
#define NOT_REPETITION "l.step_name NOT LIKE 'durably\\_repeat$%$%'"

/* Find-or-create and lock, for every run begin of a batch in one statement ($1: a JSON array
 * of {i, c: class, k: key, q: queue, kw: kwargs, op: options, l: lock value, rt: retry}, whose
 * (class, key) pairs are distinct; $2: the batch's write token). SELECT first: the INSERT runs
 * only for rows that do not exist, so replays burn no sequence values. A lost creation race
 * returns no row for that request, and the caller runs it again, which then finds the winner's
 * row. Rows are locked in id order. Every returned row ends with the request index i.
 * A request with me (must exist) true never INSERTs: a continuation has no kwargs. */
#define BEGIN_REQS                                                                                 \
    "r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(i int, c text, k text, q text,"        \
    " kw jsonb, op jsonb, l text, rt bool, me bool))"
#define SQL_RUN_BEGINS                                                                             \
    "WITH " BEGIN_REQS ","                                                                         \
    " cur AS (SELECT w.id, w.state, w.locked_by, r.i FROM " WF " w JOIN r"                         \
    " ON w.job_class = r.c AND w.key = r.k ORDER BY w.id FOR UPDATE OF w),"                        \
    " ins AS (INSERT INTO " WF " AS w (job_class, key, queue, kwargs, options, state, fence,"      \
    " locked_by, locked_at, started_at, write_token)"                                              \
    " SELECT r.c, r.k, r.q, r.kw, r.op, 'running', 1, r.l, now(), now(), $2 FROM r"                \
    " WHERE r.me IS NOT TRUE AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.i = r.i)"                 \
    " ORDER BY r.i"                                                                                \
    " ON CONFLICT (job_class, key) DO NOTHING RETURNING w.*),"                                     \
    " upd AS (UPDATE " WF " AS w SET state = 'running', fence = w.fence + 1, locked_by = r.l,"     \
    " locked_at = now(), started_at = coalesce(w.started_at, now()), next_wake_at = NULL,"         \
    " crash_count = w.crash_count + (w.locked_by IS NOT NULL)::int,"                               \
    " retry_counts = CASE WHEN cur.state IN ('stalled', 'failed') THEN '{}'::jsonb"                \
    " ELSE w.retry_counts END, write_token = $2, updated_at = now()"                               \
    " FROM cur JOIN r ON r.i = cur.i WHERE w.id = cur.id AND (cur.state IN ('idle', 'running')"    \
    " OR (r.rt AND cur.state IN ('stalled', 'failed')))"                                           \
    " RETURNING w.*, cur.state IN ('stalled', 'failed') AS was_retry, cur.i),"                     \
    " rst AS (UPDATE " LOG " AS l SET metadata = l.metadata - 'retry_counts', updated_at = now()"  \
    " FROM upd WHERE upd.was_retry AND l.workflow_id = upd.id AND l.state = 'failed'"              \
    " AND l.metadata ? 'retry_counts')"                                                            \
    " SELECT " WF_COLS("ins") ", 'begun', true, false, r.i FROM ins JOIN r"                        \
                              " ON ins.job_class = r.c AND ins.key = r.k"                          \
                              " UNION ALL SELECT " WF_COLS(                                        \
                                  "upd") ", 'begun', false, upd.was_retry, upd.i FROM upd"         \
                                         " UNION ALL SELECT " WF_COLS(                             \
                                             "w") ", 'refused', false, false, cur.i FROM " WF      \
                                                  " w JOIN cur"                                    \
                                                  " ON w.id = cur.id WHERE NOT EXISTS (SELECT 1 "  \
                                                  "FROM upd WHERE upd.i = cur.i)"

/* The steps of the runs CF_SQL_RUN_BEGINS began (the same $1), after it in the same
 * transaction: request index i, then the step columns; ordered by i, then creation. */
#define SQL_STEPS_OF_BEGINS                                                                        \
    "SELECT r.i, " STEP_COLS " FROM jsonb_to_recordset($1::jsonb) AS r(i int, c text, k text)"     \
    " JOIN " WF " w ON w.job_class = r.c AND w.key = r.k JOIN " LOG " l ON l.workflow_id = w.id"   \
    " WHERE " NOT_REPETITION " ORDER BY r.i, l.id"

#define SQL_STEPS_BY_KEY                                                                           \
    "SELECT " STEP_COLS " FROM " LOG " l JOIN " WF " w ON w.id = l.workflow_id"                    \
    " WHERE w.job_class = $1 AND w.key = $2 AND " NOT_REPETITION " ORDER BY l.id"

#define SQL_STEPS_BY_ID                                                                            \
    "SELECT " STEP_COLS " FROM " LOG " l WHERE l.workflow_id = $1 AND " NOT_REPETITION             \
    " ORDER BY l.id"

#define SQL_STEPS_ALL_BY_ID                                                                        \
    "SELECT " STEP_COLS " FROM " LOG " l WHERE l.workflow_id = $1 ORDER BY l.id"

/* Epoch ms (JSON numbers, 0 = none) to timestamptz. */
#define TS(x) "CASE WHEN coalesce(" x ", 0) > 0 THEN to_timestamp(" x " / 1000.0) END"

/* The error-log snapshot of the stored context when the caller gave none: entries in key order
 * while the running size stays within 64 KiB, the rest replaced by the omitted marker. */
#define STORED_SNAPSHOT                                                                            \
    "(SELECT coalesce(jsonb_object_agg(k, CASE WHEN run <= 65000 THEN v"                           \
    " ELSE '\"<<omitted>>\"'::jsonb END), '{}'::jsonb) FROM (SELECT k, v,"                         \
    " sum(octet_length(v::text) + octet_length(k) + 20) OVER (ORDER BY k) AS run"                  \
    " FROM jsonb_each(w.context) AS e(k, v)) t)"

/* The write sets of a batch, in one statement ($1: a JSON array of {i, id, f: fence, ctx:
 * context, o: outcome, wk: wake ms, a: attempt, rc: retry_counts, st: steps, er: errors}, whose
 * workflow ids are distinct; $2: the write token). w: the fenced workflow updates (no row for
 * a write set whose fence moved or whose run no longer holds it); s, e, m join w, so a stale
 * write set writes nothing at all. Returns the request index of every applied write set. */
#define SQL_WRITE_SETS                                                                             \
    "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(i int, id bigint, f bigint,"      \
    " ctx jsonb, o text, wk bigint, a int, rc jsonb, st jsonb, er jsonb)),"                        \
    " w AS (UPDATE " WF " AS w SET context = coalesce(r.ctx, w.context),"                          \
    " state = CASE r.o WHEN 'continue' THEN 'running' WHEN 'halt' THEN 'idle'"                     \
    " WHEN 'complete' THEN 'completed' WHEN 'stall' THEN 'stalled' ELSE 'failed' END,"             \
    " locked_by = CASE WHEN r.o = 'continue' THEN w.locked_by END,"                                \
    " locked_at = CASE WHEN r.o = 'continue' THEN w.locked_at END,"                                \
    " crash_count = CASE WHEN r.o = 'continue' THEN w.crash_count ELSE 0 END,"                     \
    " next_wake_at = CASE WHEN r.o = 'halt' AND r.wk > 0 THEN to_timestamp(r.wk / 1000.0) END,"    \
    " completed_at = CASE WHEN r.o = 'complete' THEN now() ELSE w.completed_at END,"               \
    " attempt = CASE WHEN r.a >= 0 THEN r.a ELSE w.attempt END,"                                   \
    " retry_counts = coalesce(r.rc, w.retry_counts), write_token = $2, updated_at = now()"         \
    " FROM r WHERE w.id = r.id AND w.fence = r.f AND w.state = 'running'"                          \
    " RETURNING w.id, w.context, r.i, r.o, r.st, r.er),"                                           \
    " s AS (INSERT INTO " LOG " AS l (workflow_id, step_name, state, attempts, metadata,"          \
    " started_at, last_executed_at, completed_at, error_class, error_message)"                     \
    " SELECT w.id, x.name, x.state, x.attempts, x.metadata, " TS("x.started_ms") ", " TS(          \
        "x.last_ms") ", " TS("x.completed_ms") ", x.error_class, x.error_message"                  \
                                               " FROM w, jsonb_to_recordset(w.st) AS x(name "      \
                                               "text, state text, attempts int,"                   \
                                               " metadata jsonb, started_ms bigint, last_ms "      \
                                               "bigint, completed_ms bigint,"                      \
                                               " error_class text, error_message text)"            \
                                               " ON CONFLICT (workflow_id, step_name) DO UPDATE "  \
                                               "SET state = excluded.state,"                       \
                                               " attempts = excluded.attempts, metadata = "        \
                                               "excluded.metadata,"                                \
                                               " started_at = coalesce(excluded.started_at, "      \
                                               "l.started_at),"                                    \
                                               " last_executed_at = excluded.last_executed_at, "   \
                                               "completed_at = excluded.completed_at,"             \
                                               " error_class = excluded.error_class, "             \
                                               "error_message = excluded.error_message,"           \
                                               " updated_at = now() RETURNING 1),"                 \
                                               " e AS (INSERT INTO " ERR                           \
                                               " (workflow_id, step_name, attempt, error_class, "  \
                                               "error_message,"                                    \
                                               " backtrace, context)"                              \
                                               " SELECT w.id, x.step_name, x.attempt, "            \
                                               "x.error_class, x.message, x.backtrace,"            \
                                               " coalesce(x.context, " STORED_SNAPSHOT ")"         \
                                               " FROM w, jsonb_to_recordset(w.er) AS x(step_name " \
                                               "text, attempt int,"                                \
                                               " error_class text, message text, backtrace text, " \
                                               "context jsonb)"                                    \
                                               " WHERE w.er IS NOT NULL RETURNING id, "            \
                                               "workflow_id),"                                     \
                                               " m AS (INSERT INTO " LOG                           \
                                               " AS l (workflow_id, step_name, state, attempts, "  \
                                               "metadata,"                                         \
                                               " started_at, last_executed_at, completed_at)"      \
                                               " SELECT w.id, CASE WHEN w.o = 'complete' THEN "    \
                                               "'$workflow_completion$'"                           \
                                               " ELSE '$workflow_failure$' || (SELECT max(e.id) "  \
                                               "FROM e WHERE e.workflow_id = w.id) END,"           \
                                               " 'completed', 1, CASE WHEN w.o = 'fail' THEN "     \
                                               "jsonb_build_object('error_log_id',"                \
                                               " (SELECT max(e.id) FROM e WHERE e.workflow_id = "  \
                                               "w.id)) END, now(), now(), now()"                   \
                                               " FROM w WHERE w.o IN ('complete', 'fail')"         \
                                               " ON CONFLICT (workflow_id, step_name) DO UPDATE "  \
                                               "SET state = 'completed',"                          \
                                               " attempts = l.attempts + 1, last_executed_at = "   \
                                               "now(), completed_at = now(),"                      \
                                               " updated_at = now() RETURNING 1)"                  \
                                               " SELECT w.i FROM w"

/* Which of a batch's workflows carry its token (an unknown COMMIT outcome). */
#define SQL_RESOLVE                                                                                \
    "SELECT w.id, w.job_class, w.key FROM " WF " w WHERE w.write_token = $1 AND w.id IN"           \
    " (SELECT (r->>'id')::bigint FROM jsonb_array_elements($2::jsonb) r WHERE r ? 'id')"           \
    " UNION ALL SELECT w.id, w.job_class, w.key FROM " WF " w"                                     \
    " JOIN jsonb_to_recordset($2::jsonb) AS r(c text, k text)"                                     \
    " ON w.job_class = r.c AND w.key = r.k WHERE w.write_token = $1"

#define SQL_WF_BY_CLASS_KEY                                                                        \
    "SELECT " WF_COLS("w") " FROM " WF " w WHERE w.job_class = $1 AND w.key = $2"
#define SQL_WF_BY_KEY "SELECT " WF_COLS("w") " FROM " WF " w WHERE w.key = $1 ORDER BY w.id LIMIT 2"
#define SQL_WF_BY_ID  "SELECT " WF_COLS("w") " FROM " WF " w WHERE w.id = $1"

#define SQL_WF_INSERT_IDLE                                                                         \
    "INSERT INTO " WF " AS w (job_class, key, queue, kwargs, options)"                             \
    " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)"                                                   \
    " ON CONFLICT (job_class, key) DO NOTHING RETURNING " WF_COLS("w")

#define SQL_ERRORS_BY_ID                                                                           \
    "SELECT * FROM (SELECT e.id, e.step_name, e.attempt, e.error_class, e.error_message,"          \
    " e.backtrace, e.context::text, " MS(                                                          \
        "e.created_at") " FROM " ERR " e"                                                          \
                        " WHERE e.workflow_id = $1 ORDER BY e.id DESC LIMIT $2) t ORDER BY id"

/* Listing, one statement per filter combination so that each has an index with a generic
 * plan: the primary key, (state, id), or the partial (job_class, id) index, whose predicate
 * `state IS NOT NULL` (true of every row) keeps it out of the (class, key) lookups of the run
 * path, where an empty table's tie would otherwise make the planner pick it over the unique
 * (key, job_class) index. */
#define SQL_LIST_ALL "SELECT " WF_COLS("w") " FROM " WF " w WHERE w.id > $1 ORDER BY w.id LIMIT $2"
#define SQL_LIST_STATE                                                                             \
    "SELECT " WF_COLS("w") " FROM " WF " w WHERE w.state = $1 AND w.id > $2 ORDER BY w.id LIMIT "  \
                           "$3"
#define SQL_LIST_CLASS                                                                             \
    "SELECT " WF_COLS("w") " FROM " WF " w WHERE w.job_class = $1 AND w.state IS NOT NULL"         \
                           " AND w.id > $2 ORDER BY w.id LIMIT $3"
#define SQL_LIST_STATE_CLASS                                                                       \
    "SELECT " WF_COLS("w") " FROM " WF " w WHERE w.state = $1 AND w.job_class = $2"                \
                           " AND w.id > $3 ORDER BY w.id LIMIT $4"

#define SQL_COUNTS_ALL "SELECT state, count(*) FROM " WF " GROUP BY state"
#define SQL_COUNTS_CLASS                                                                           \
    "SELECT state, count(*) FROM " WF " WHERE job_class = $1 AND state IS NOT NULL GROUP BY state"

#define REF_COLS                                                                                   \
    "w.id, w.fence, w.job_class, w.key, w.queue, w.locked_by, " MS("w.next_wake_at") ", " MS(      \
        "w.locked_at")

#define SQL_SWEEP_OVERDUE                                                                          \
    "SELECT " REF_COLS " FROM " WF " w WHERE w.state = 'idle' AND w.next_wake_at IS NOT NULL"      \
    " AND w.next_wake_at < now() - $1::bigint * interval '1 millisecond'"                          \
    " ORDER BY w.next_wake_at LIMIT $2"

#define SQL_SWEEP_RUNNING                                                                          \
    "SELECT " REF_COLS " FROM " WF " w WHERE w.state = 'running' AND w.id > $1"                    \
    " ORDER BY w.id LIMIT $2"

const cf_sql_stmt cf_sql_stmts[CF_SQL_COUNT_] = {
    [CF_SQL_RUN_BEGINS] = {"cf_run_begins", SQL_RUN_BEGINS, 2},
    [CF_SQL_STEPS_OF_BEGINS] = {"cf_steps_of_begins", SQL_STEPS_OF_BEGINS, 1},
    [CF_SQL_STEPS_BY_KEY] = {"cf_steps_by_key", SQL_STEPS_BY_KEY, 2},
    [CF_SQL_STEPS_BY_ID] = {"cf_steps_by_id", SQL_STEPS_BY_ID, 1},
    [CF_SQL_STEPS_ALL_BY_ID] = {"cf_steps_all_by_id", SQL_STEPS_ALL_BY_ID, 1},
    [CF_SQL_WRITE_SETS] = {"cf_write_sets", SQL_WRITE_SETS, 2},
    [CF_SQL_RESOLVE] = {"cf_resolve", SQL_RESOLVE, 2},
    [CF_SQL_WF_BY_CLASS_KEY] = {"cf_wf_by_class_key", SQL_WF_BY_CLASS_KEY, 2},
    [CF_SQL_WF_BY_KEY] = {"cf_wf_by_key", SQL_WF_BY_KEY, 1},
    [CF_SQL_WF_BY_ID] = {"cf_wf_by_id", SQL_WF_BY_ID, 1},
    [CF_SQL_WF_INSERT_IDLE] = {"cf_wf_insert_idle", SQL_WF_INSERT_IDLE, 5},
    [CF_SQL_ERRORS_BY_ID] = {"cf_errors_by_id", SQL_ERRORS_BY_ID, 2},
    [CF_SQL_LIST_ALL] = {"cf_list_all", SQL_LIST_ALL, 2},
    [CF_SQL_LIST_STATE] = {"cf_list_state", SQL_LIST_STATE, 3},
    [CF_SQL_LIST_CLASS] = {"cf_list_class", SQL_LIST_CLASS, 3},
    [CF_SQL_LIST_STATE_CLASS] = {"cf_list_state_class", SQL_LIST_STATE_CLASS, 4},
    [CF_SQL_COUNTS_ALL] = {"cf_counts_all", SQL_COUNTS_ALL, 0},
    [CF_SQL_COUNTS_CLASS] = {"cf_counts_class", SQL_COUNTS_CLASS, 1},
    [CF_SQL_SWEEP_OVERDUE] = {"cf_sweep_overdue", SQL_SWEEP_OVERDUE, 2},
    [CF_SQL_SWEEP_RUNNING] = {"cf_sweep_running", SQL_SWEEP_RUNNING, 2},
};
