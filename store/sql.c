// SPDX-License-Identifier: MIT
/* store/sql.c: the text of every statement the store prepares (see store/sql.h for the
 * parameters and column positions), laid out as SQL, one clause per line, each with what it
 * guarantees. Write statements are single statements built from CTEs so that a stale fence
 * writes nothing and needs no savepoint. Every value is a parameter ($n); the only text spliced
 * in is the fixed table names and column lists below. */
#include "store/sql.h"

/* clang-format would pack the SQL into a right-hand column of string fragments. */
// clang-format off

#define WF  "chrono_forge_workflows"
#define LOG "chrono_forge_execution_logs"
#define ERR "chrono_forge_error_logs"
#define SIG "chrono_forge_signals"
#define CTL "chrono_forge_control_requests"

/* Unix milliseconds of a timestamptz expression; NULL stays NULL. */
#define MS(x) "(extract(epoch FROM " x ") * 1000)::bigint"

/* Epoch ms (JSON numbers, 0 or absent = none) to timestamptz. */
#define TS(x) "CASE WHEN coalesce(" x ", 0) > 0 THEN to_timestamp(" x " / 1000.0) END"

/* The workflow columns of a row named a, in the order store/sql.h documents. */
#define WF_COLS(a)                                                                          \
    a ".id, " a ".fence, " a ".job_class, " a ".key, " a ".state, " a ".queue, "            \
    a ".attempt, " a ".crash_count, "                                                       \
    a ".kwargs::text, " a ".options::text, " a ".context::text, " a ".retry_counts::text, " \
    "coalesce(" a ".locked_by, ''), "                                                       \
    MS(a ".created_at") ", " MS(a ".started_at") ", " MS(a ".completed_at") ", "            \
    MS(a ".updated_at") ", " MS(a ".locked_at") ", " MS(a ".next_wake_at")

/* The step columns of execution-log row l. */
#define STEP_COLS                                                                    \
    "l.id, l.step_name, l.state, l.attempts, l.metadata::text, "                     \
    MS("l.started_at") ", " MS("l.last_executed_at") ", " MS("l.completed_at") ", " \
    "l.error_class, l.error_message"

/* The sweeper's columns of workflow row w. */
#define REF_COLS \
    "w.id, w.fence, w.job_class, w.key, w.queue, w.locked_by, " \
    MS("w.next_wake_at") ", " MS("w.locked_at")

/* Repetition rows are `durably_repeat$<name>$<ms>`: two separators. */
#define NOT_REPETITION "l.step_name NOT LIKE 'durably\\_repeat$%$%'"

/* ---- The writer's batch statements (store/writer.c) ---- */

/* Find-or-create and lock every run begin of a batch, in one statement.
 * $1: a JSON array of {i, c: class, k: key, q: queue, kw: kwargs, op: options, l: lock value,
 *     me: must exist, cr: a crash in a lazy window was seen} whose (class, key) pairs are
 *     distinct; $2: the batch's write token.
 * Guarantees: existing rows are locked (FOR UPDATE, in id order, so concurrent batches cannot
 * deadlock) before they are judged; SELECT first, so the INSERT runs only for rows that do not
 * exist and replays burn no sequence values; a request that must exist (a continuation, which
 * carries no kwargs) never creates a row; a created row is born running and locked, so no
 * reader ever sees it otherwise; only an idle or running row begins (stalled and failed rows
 * are resumed by a requeue, sql_requeue below, never here): it gets fence + 1, the lock, and
 * crash_count + 1 when the previous run never released; every changed row carries $2, the
 * batch's write token; crash_count also counts cr (the previous run died in its lazy window,
 * which Postgres never saw: docs/healing.md; a created row starts at 1). A lost creation race
 * returns no row for that request (the caller runs it again and finds the winner's row). Each returned row is the workflow, then 'begun'|'refused',
 * created and the request index i. */
static const char sql_run_begins[] =
    "WITH r AS ("
    "  SELECT * FROM jsonb_to_recordset($1::jsonb)"
    "    AS r(i int, c text, k text, q text, kw jsonb, op jsonb, l text, me bool,"
    "         cr bool)),"
    " cur AS ("
    "  SELECT w.id, w.state, w.locked_by, r.i"
    "  FROM " WF " w JOIN r ON w.job_class = r.c AND w.key = r.k"
    "  ORDER BY w.id"
    "  FOR UPDATE OF w),"
    " ins AS ("
    "  INSERT INTO " WF " AS w (job_class, key, queue, kwargs, options, state, fence,"
    "                           locked_by, locked_at, started_at, crash_count, write_token)"
    "  SELECT r.c, r.k, r.q, r.kw, r.op, 'running', 1, r.l, now(), now(),"
    "         (r.cr IS TRUE)::int, $2"
    "  FROM r"
    "  WHERE r.me IS NOT TRUE"
    "    AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.i = r.i)"
    "  ORDER BY r.i"
    "  ON CONFLICT (job_class, key) DO NOTHING"
    "  RETURNING w.*),"
    " upd AS ("
    "  UPDATE " WF " AS w"
    "  SET state = 'running',"
    "      fence = w.fence + 1,"
    "      locked_by = r.l,"
    "      locked_at = now(),"
    "      started_at = coalesce(w.started_at, now()),"
    "      next_wake_at = NULL,"
    "      crash_count = w.crash_count + (w.locked_by IS NOT NULL OR r.cr IS TRUE)::int,"
    "      write_token = $2,"
    "      updated_at = now()"
    "  FROM cur JOIN r ON r.i = cur.i"
    "  WHERE w.id = cur.id AND cur.state IN ('idle', 'running')"
    "  RETURNING w.*, cur.i)"
    " SELECT " WF_COLS("ins") ", 'begun', true, r.i"
    " FROM ins JOIN r ON ins.job_class = r.c AND ins.key = r.k"
    " UNION ALL"
    " SELECT " WF_COLS("upd") ", 'begun', false, upd.i"
    " FROM upd"
    " UNION ALL"
    " SELECT " WF_COLS("w") ", 'refused', false, cur.i"
    " FROM " WF " w JOIN cur ON w.id = cur.id"
    " WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.i = cur.i)";

/* The steps of the runs sql_run_begins began ($1: the same array), after it in the same
 * transaction, so a run's steps are read under the lock it just took.
 * Returns the request index i, then the step columns; ordered by i, then creation. */
static const char sql_steps_of_begins[] =
    "SELECT r.i, " STEP_COLS
    " FROM jsonb_to_recordset($1::jsonb) AS r(i int, c text, k text)"
    " JOIN " WF " w ON w.job_class = r.c AND w.key = r.k"
    " JOIN " LOG " l ON l.workflow_id = w.id"
    " WHERE " NOT_REPETITION
    " ORDER BY r.i, l.id";

/* The reads of a batch's lazy begins (docs/healing.md, "lazy window"), read-only: $1 a JSON
 * array of {i, c: class, k: key}. Returns the workflow columns, then i, for the rows that
 * exist. */
static const char sql_run_peeks[] =
    "SELECT " WF_COLS("w") ", r.i"
    " FROM jsonb_to_recordset($1::jsonb) AS r(i int, c text, k text)"
    " JOIN " WF " w ON w.job_class = r.c AND w.key = r.k";

/* The steps of the rows sql_run_peeks read that a lazy begin may run (idle, unlocked), as
 * sql_steps_of_begins returns them. A row that changes between the two statements is refused
 * by the run's compare-and-set on the fence read. */
static const char sql_steps_of_peeks[] =
    "SELECT r.i, " STEP_COLS
    " FROM jsonb_to_recordset($1::jsonb) AS r(i int, c text, k text)"
    " JOIN " WF " w ON w.job_class = r.c AND w.key = r.k"
    " JOIN " LOG " l ON l.workflow_id = w.id"
    " WHERE w.state = 'idle' AND w.locked_by IS NULL AND " NOT_REPETITION
    " ORDER BY r.i, l.id";

/* The error-log snapshot of the stored context when the caller gave none: entries in key order
 * while the running size stays within 64 KiB, the rest replaced by the omitted marker. */
#define STORED_SNAPSHOT                                                             \
    "(SELECT coalesce(jsonb_object_agg(k, CASE WHEN run <= 65000 THEN v"           \
    "                                     ELSE '\"<<omitted>>\"'::jsonb END),"      \
    "                 '{}'::jsonb)"                                                 \
    "  FROM (SELECT k, v,"                                                          \
    "               sum(octet_length(v::text) + octet_length(k) + 20)"             \
    "                 OVER (ORDER BY k) AS run"                                     \
    "        FROM jsonb_each(w.context) AS e(k, v)) t)"

/* The new state of workflow row w's columns under write set r (o: its outcome). */
#define WS_STATE                                                                          \
    "CASE r.o WHEN 'continue' THEN 'running' WHEN 'halt' THEN 'idle'"                     \
    "         WHEN 'complete' THEN 'completed' WHEN 'stall' THEN 'stalled' ELSE 'failed' END"
#define WS_WAKE "CASE WHEN r.o = 'halt' AND r.wk > 0 THEN to_timestamp(r.wk / 1000.0) END"

/* Every write set of a batch, in one statement.
 * $1: a JSON array of {i, id, f: fence, ctx: context, o: outcome, wk: wake ms, a: attempt,
 *     rc: retry_counts, st: steps, er: errors, and for a lazy begin (docs/healing.md, "lazy
 *     window") lz: true, lf: the fence read (0: no row when read), c: class, k: key, q: queue,
 *     kw: kwargs, op: options, l: lock value} whose workflows are distinct; $2: the token.
 * Guarantees: wu updates a workflow only while it is running under the write set's fence (no
 * row for a stale run); a lazy write set begins its run in the same statement, by
 * compare-and-set on the fence read: an existing row (lf > 0, by id) only while it is still
 * idle, unlocked and at fence lf, becoming fence lf + 1; a row that did not exist (lf = 0) is
 * inserted at fence 1 directly in the write set's state (one tuple, not a begin then an
 * update), or, when the row now there was never begun (fence 0, idle, unlocked: the row a busy
 * delivery's ensure makes for its kwargs), that row is taken over with the kwargs, options and
 * queue the run ran with; any other row refuses it (no row: a fence conflict). A lazy begin's
 * continue keeps the run's lock (locked_by l); its crash_count is unchanged (the row was
 * unlocked: the previous run released). s, e and m join w, so a refused write set writes
 * nothing at all; a step, the context written with it and the outcome commit together; an
 * outcome other than continue releases the lock (locked_by, locked_at NULL, crash_count 0);
 * complete and fail write their marker row ($workflow_completion$, or $workflow_failure$<id>
 * naming the last error-log row of the write set), and the marker is inserted after the write
 * set's steps (m reads s first), so ids, and the timeline, follow execution order; the applied
 * workflows carry $2. Returns the request index, workflow id and fence of every applied write
 * set. */
static const char sql_write_sets[] =
    "WITH r AS ("
    "  SELECT * FROM jsonb_to_recordset($1::jsonb)"
    "    AS r(i int, id bigint, f bigint, ctx jsonb, o text, wk bigint, a int, rc jsonb,"
    "         st jsonb, er jsonb, lz bool, lf bigint, c text, k text, q text, kw jsonb,"
    "         op jsonb, l text, sg jsonb)),"
    " wu AS ("
    "  UPDATE " WF " AS w"
    "  SET context = coalesce(r.ctx, w.context),"
    "      state = " WS_STATE ","
    "      fence = CASE WHEN r.lz THEN w.fence + 1 ELSE w.fence END,"
    "      locked_by = CASE WHEN r.o = 'continue' THEN coalesce(r.l, w.locked_by) END,"
    "      locked_at = CASE WHEN r.o = 'continue' AND r.lz THEN now()"
    "                       WHEN r.o = 'continue' THEN w.locked_at END,"
    "      started_at = coalesce(w.started_at, now()),"
    "      crash_count = CASE WHEN r.o = 'continue' THEN w.crash_count ELSE 0 END,"
    "      next_wake_at = " WS_WAKE ","
    "      completed_at = CASE WHEN r.o = 'complete' THEN now() ELSE w.completed_at END,"
    "      attempt = CASE WHEN r.a >= 0 THEN r.a ELSE w.attempt END,"
    "      retry_counts = coalesce(r.rc, w.retry_counts),"
    "      write_token = $2,"
    "      updated_at = now()"
    "  FROM r"
    "  WHERE w.id = r.id"
    "    AND CASE WHEN r.lz THEN w.fence = r.lf AND w.state = 'idle' AND w.locked_by IS NULL"
    "             ELSE w.fence = r.f AND w.state = 'running' END"
    "  RETURNING w.id, w.fence, w.context, r.i, r.o, r.st, r.er),"
    " wi AS ("
    "  INSERT INTO " WF " AS w (job_class, key, queue, kwargs, options, context, state, fence,"
    "                           locked_by, locked_at, started_at, completed_at, next_wake_at,"
    "                           attempt, retry_counts, write_token)"
    "  SELECT r.c, r.k, coalesce(r.q, 'default'), coalesce(r.kw, '{}'), coalesce(r.op, '{}'),"
    "         coalesce(r.ctx, '{}'), " WS_STATE ", 1,"
    "         CASE WHEN r.o = 'continue' THEN r.l END,"
    "         CASE WHEN r.o = 'continue' THEN now() END,"
    "         now(), CASE WHEN r.o = 'complete' THEN now() END, " WS_WAKE ","
    "         greatest(r.a, 0), coalesce(r.rc, '{}'), $2"
    "  FROM r"
    "  WHERE r.lz AND r.lf = 0"
    "  ORDER BY r.i"
    "  ON CONFLICT (job_class, key) DO UPDATE"
    "  SET queue = excluded.queue,"
    "      kwargs = excluded.kwargs,"
    "      options = excluded.options,"
    "      context = excluded.context,"
    "      state = excluded.state,"
    "      fence = 1,"
    "      locked_by = excluded.locked_by,"
    "      locked_at = excluded.locked_at,"
    "      started_at = excluded.started_at,"
    "      completed_at = excluded.completed_at,"
    "      next_wake_at = excluded.next_wake_at,"
    "      attempt = excluded.attempt,"
    "      retry_counts = excluded.retry_counts,"
    "      write_token = $2,"
    "      updated_at = now()"
    "  WHERE w.fence = 0 AND w.state = 'idle' AND w.locked_by IS NULL"
    "  RETURNING w.id, w.fence, w.context, w.job_class, w.key),"
    " w AS ("
    "  SELECT wu.id, wu.fence, wu.context, wu.i, wu.o, wu.st, wu.er FROM wu"
    "  UNION ALL"
    "  SELECT wi.id, wi.fence, wi.context, r.i, r.o, r.st, r.er"
    "  FROM wi JOIN r ON r.lz AND r.lf = 0 AND wi.job_class = r.c AND wi.key = r.k),"
    " s AS ("
    "  INSERT INTO " LOG " AS l (workflow_id, step_name, state, attempts, metadata,"
    "                           started_at, last_executed_at, completed_at,"
    "                           error_class, error_message)"
    "  SELECT w.id, x.name, x.state, x.attempts, x.metadata,"
    "         " TS("x.started_ms") ", " TS("x.last_ms") ", " TS("x.completed_ms") ","
    "         x.error_class, x.error_message"
    "  FROM w, jsonb_to_recordset(w.st)"
    "    AS x(name text, state text, attempts int, metadata jsonb, started_ms bigint,"
    "         last_ms bigint, completed_ms bigint, error_class text, error_message text)"
    "  ON CONFLICT (workflow_id, step_name) DO UPDATE"
    "  SET state = excluded.state,"
    "      attempts = excluded.attempts,"
    "      metadata = excluded.metadata,"
    "      started_at = coalesce(excluded.started_at, l.started_at),"
    "      last_executed_at = excluded.last_executed_at,"
    "      completed_at = excluded.completed_at,"
    "      error_class = excluded.error_class,"
    "      error_message = excluded.error_message,"
    "      updated_at = now()"
    "  RETURNING 1),"
    " e AS ("
    "  INSERT INTO " ERR " (workflow_id, step_name, attempt, error_class, error_message,"
    "                      backtrace, context)"
    "  SELECT w.id, x.step_name, x.attempt, x.error_class, x.message, x.backtrace,"
    "         coalesce(x.context, " STORED_SNAPSHOT ")"
    "  FROM w, jsonb_to_recordset(w.er)"
    "    AS x(step_name text, attempt int, error_class text, message text, backtrace text,"
    "         context jsonb)"
    "  WHERE w.er IS NOT NULL"
    "  RETURNING id, workflow_id),"
    " m AS ("
    "  INSERT INTO " LOG " AS l (workflow_id, step_name, state, attempts, metadata,"
    "                           started_at, last_executed_at, completed_at)"
    "  SELECT w.id,"
    "         CASE WHEN w.o = 'complete' THEN '$workflow_completion$'"
    "              ELSE '$workflow_failure$'"
    "                   || (SELECT max(e.id) FROM e WHERE e.workflow_id = w.id) END,"
    "         'completed', 1,"
    "         CASE WHEN w.o = 'fail' THEN jsonb_build_object('error_log_id',"
    "              (SELECT max(e.id) FROM e WHERE e.workflow_id = w.id)) END,"
    "         now(), now(), now()"
    "  FROM w"
    "  WHERE w.o IN ('complete', 'fail')"
    /* Data-modifying CTEs run in no promised order (Postgres runs unread ones last to
     * first); reading s here makes the steps' inserts, and their ids, come first. */
    "    AND (SELECT count(*) FROM s) >= 0"
    "  ON CONFLICT (workflow_id, step_name) DO UPDATE"
    "  SET state = 'completed',"
    "      attempts = l.attempts + 1,"
    "      last_executed_at = now(),"
    "      completed_at = now(),"
    "      updated_at = now()"
    "  RETURNING 1),"
    /* Signals (issue 13): the awaits of this write set consume their signals (sg: [{id, by}]),
     * only for an applied write set (joined to w) and only signals of its own workflow that
     * are still unconsumed, so a signal is consumed by one await, with its completion. */
    " sgc AS ("
    "  UPDATE " SIG " AS g"
    "  SET consumed_by = x.by, consumed_at = now()"
    "  FROM w JOIN r ON r.i = w.i, jsonb_to_recordset(r.sg) AS x(id bigint, by text)"
    "  WHERE r.sg IS NOT NULL AND g.id = x.id AND g.workflow_id = w.id"
    "    AND g.consumed_by IS NULL"
    "  RETURNING 1)"
    " SELECT w.i, w.id, w.fence FROM w";

/* Which of a batch's workflows carry its token, after a batch whose commit outcome is unknown
 * ($1: the token; $2: a JSON array of {"id": ..} for write sets, {"c": .., "k": ..} for run
 * begins). Every write of a batch sets the token on its workflow row in the same commit, so a
 * row carrying it proves that request applied, and a row without it that it did not (a token
 * is unique per store and batch). Returns id, class, key. */
static const char sql_resolve[] =
    "SELECT w.id, w.job_class, w.key"
    " FROM " WF " w"
    " WHERE w.write_token = $1"
    "   AND w.id IN (SELECT (r->>'id')::bigint"
    "                FROM jsonb_array_elements($2::jsonb) r WHERE r ? 'id')"
    " UNION ALL"
    " SELECT w.id, w.job_class, w.key"
    " FROM " WF " w JOIN jsonb_to_recordset($2::jsonb) AS r(c text, k text)"
    "   ON w.job_class = r.c AND w.key = r.k"
    " WHERE w.write_token = $1";

/* Ends the server process that ran a batch whose outcome is unknown ($1: its pid; $2: the
 * writer's application_name, so that only one of our own sessions is ever signalled), and
 * returns a row while it still exists. Until it is gone, its transaction may still commit or
 * take row locks; once it is gone, sql_resolve's answer is final. A stopped or wedged backend
 * keeps the signal pending, and the writer keeps asking (bounded, store/writer.c). */
static const char sql_end_backend[] =
    "SELECT pg_terminate_backend(a.pid)"
    " FROM pg_stat_activity a"
    " WHERE a.pid = $1 AND a.usename = current_user AND a.application_name = $2";

/* ---- Reads of one workflow ---- */

/* A run's steps by (class, key), without repetition rows, in creation order. */
static const char sql_steps_by_key[] =
    "SELECT " STEP_COLS
    " FROM " LOG " l JOIN " WF " w ON w.id = l.workflow_id"
    " WHERE w.job_class = $1 AND w.key = $2 AND " NOT_REPETITION
    " ORDER BY l.id";

/* A run's steps by workflow id, without repetition rows, in creation order. */
static const char sql_steps_by_id[] =
    "SELECT " STEP_COLS
    " FROM " LOG " l"
    " WHERE l.workflow_id = $1 AND " NOT_REPETITION
    " ORDER BY l.id";

/* The timeline (`chronoforge status`): every row, repetitions and markers included, in
 * creation order, which is execution order (sql_write_sets inserts a marker after its steps). */
static const char sql_steps_all_by_id[] =
    "SELECT " STEP_COLS
    " FROM " LOG " l"
    " WHERE l.workflow_id = $1"
    " ORDER BY l.id";

/* One workflow by (class, key): the unique (key, job_class) index. */
static const char sql_wf_by_class_key[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.job_class = $1 AND w.key = $2";

/* The workflows using a key, any class; two rows are enough to say "several". */
static const char sql_wf_by_key[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.key = $1"
    " ORDER BY w.id"
    " LIMIT 2";

static const char sql_wf_by_id[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.id = $1";

/* Creates a workflow born idle and unlocked, unless (class, key) exists: then no row, and the
 * caller reads the existing one. Two concurrent creators make one row. */
static const char sql_wf_insert_idle[] =
    "INSERT INTO " WF " AS w (job_class, key, queue, kwargs, options)"
    " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)"
    " ON CONFLICT (job_class, key) DO NOTHING"
    " RETURNING " WF_COLS("w");

/* The newest $2 error-log rows of a workflow, returned oldest first. */
static const char sql_errors_by_id[] =
    "SELECT * FROM ("
    "  SELECT e.id, e.step_name, e.attempt, e.error_class, e.error_message, e.backtrace,"
    "         e.context::text, " MS("e.created_at")
    "  FROM " ERR " e"
    "  WHERE e.workflow_id = $1"
    "  ORDER BY e.id DESC"
    "  LIMIT $2) t"
    " ORDER BY id";

/* ---- Listing and counting ----
 * One statement per filter combination so that each has an index with a generic plan: the
 * primary key, the partial (state, id) index, or the partial (job_class, id) index, whose predicate
 * `state IS NOT NULL` (true of every row) keeps it out of the (class, key) lookups of the run
 * path, where an empty table's tie would otherwise make the planner pick it over the unique
 * (key, job_class) index. Keyset paging: rows after id $n, in id order. */
static const char sql_list_all[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.id > $1"
    " ORDER BY w.id LIMIT $2";

/* By state: the partial (state, id) index holds every state but completed, and a generic
 * plan can only use it when the clause repeats its predicate; completed rows, the bulk, are
 * read in primary-key order (the branch is skipped unless $1 is 'completed'). */
static const char sql_list_state[] =
    "SELECT * FROM ("
    "  SELECT " WF_COLS("w")
    "  FROM " WF " w"
    "  WHERE w.state = $1 AND w.state <> 'completed' AND w.id > $2"
    "  ORDER BY w.id LIMIT $3) o"
    " UNION ALL"
    " SELECT * FROM ("
    "  SELECT " WF_COLS("w")
    "  FROM " WF " w"
    "  WHERE $1 = 'completed' AND w.state = 'completed' AND w.id > $2"
    "  ORDER BY w.id LIMIT $3) c"
    " ORDER BY 1";

static const char sql_list_class[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.job_class = $1 AND w.state IS NOT NULL AND w.id > $2"
    " ORDER BY w.id LIMIT $3";

static const char sql_list_state_class[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.state = $1 AND w.job_class = $2 AND w.id > $3"
    " ORDER BY w.id LIMIT $4";

static const char sql_counts_all[] =
    "SELECT state, count(*) FROM " WF " GROUP BY state";

static const char sql_counts_class[] =
    "SELECT state, count(*) FROM " WF
    " WHERE job_class = $1 AND state IS NOT NULL"
    " GROUP BY state";

/* ---- The sweeper (docs/healing.md) ---- */

/* Idle workflows whose wake is more than $1 ms overdue, most overdue first. */
static const char sql_sweep_overdue[] =
    "SELECT " REF_COLS
    " FROM " WF " w"
    " WHERE w.state = 'idle' AND w.next_wake_at IS NOT NULL"
    "   AND w.next_wake_at < now() - $1::bigint * interval '1 millisecond'"
    " ORDER BY w.next_wake_at LIMIT $2";

/* Running workflows after id $1, in id order (keyset paging). */
static const char sql_sweep_running[] =
    "SELECT " REF_COLS
    " FROM " WF " w"
    " WHERE w.state = 'running' AND w.id > $1"
    " ORDER BY w.id LIMIT $2";

// clang-format on

/* A requeue (store/requeue.c), in one statement. $1 class, $2 key, $3 requested_at (Unix ms,
 * which names the row), $4 requested_by, $5 reason (NULL or '': none), $6 job_id (NULL: none).
 * Guarantees: the workflow row is locked (FOR UPDATE) before it is judged, so a requeue and a
 * run's begin or commit serialise; only stalled or failed rows change, to idle and due now
 * (healing republishes it if the wake is lost), with fresh budgets (retry_counts {} and no
 * "retry_counts" in failed steps' metadata; attempt numbers keep counting), and
 * the `$workflow_retry$<ms>` row is written in the same transaction. A request whose row
 * (same ms, same requested_by) exists already changes nothing and says so in column 5, which
 * makes a retry after an unknown outcome safe. No row at all: no such workflow. */
// clang-format off
static const char sql_requeue[] =
    "WITH w0 AS ("
    "  SELECT w.id, w.state FROM " WF " w"
    "  WHERE w.job_class = $1 AND w.key = $2"
    "  FOR UPDATE),"
    " mark AS ("
    "  SELECT '$workflow_retry$' || $3::bigint AS name),"
    " done AS ("
    "  SELECT l.metadata->>'previous_state' AS prev"
    "  FROM " LOG " l JOIN w0 ON l.workflow_id = w0.id JOIN mark ON l.step_name = mark.name"
    "  WHERE l.metadata->>'requested_by' = $4::text),"
    " upd AS ("
    "  UPDATE " WF " AS w"
    "  SET state = 'idle', next_wake_at = now(), retry_counts = '{}'::jsonb, updated_at = now()"
    "  FROM w0"
    "  WHERE w.id = w0.id AND w0.state IN ('stalled', 'failed')"
    "    AND NOT EXISTS (SELECT 1 FROM done)"
    "  RETURNING w.id, w0.state AS prev),"
    " rst AS ("
    "  UPDATE " LOG " AS l"
    "  SET metadata = l.metadata - 'retry_counts', updated_at = now()"
    "  FROM upd"
    "  WHERE l.workflow_id = upd.id AND l.state = 'failed' AND l.metadata ? 'retry_counts'),"
    " ins AS ("
    "  INSERT INTO " LOG " (workflow_id, step_name, state, attempts, metadata,"
    "                       started_at, last_executed_at, completed_at)"
    "  SELECT upd.id, mark.name, 'completed', 1,"
    "         jsonb_strip_nulls(jsonb_build_object("
    "           'previous_state', upd.prev,"
    "           'requested_at', to_char(to_timestamp($3::bigint / 1000.0) AT TIME ZONE 'UTC',"
    "                                   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    "           'requested_by', $4::text,"
    "           'reason', nullif($5::text, ''),"
    "           'job_id', $6::text)),"
    "         now(), now(), now()"
    "  FROM upd, mark"
    "  RETURNING 1)"
    " SELECT w.id, w.job_class, w.key, w.queue, w0.state,"
    "        (SELECT prev FROM done LIMIT 1), (SELECT prev FROM upd)"
    " FROM w0 JOIN " WF " w ON w.id = w0.id";
// clang-format on

/* The workflows a bulk requeue selects, one page: $1 state ('stalled' or 'failed'), $2 class
 * (NULL: any), $3 error class (NULL: any; else the workflow's last error row has this class or
 * one under it, "$3." followed by anything), $4 age in ms (0: any; else updated_at, when it
 * entered that state, is older than now - $4), after id $5, at most $6 rows. Guarantees: keyset
 * pages over the partial (state, id) index (never completed rows: the clause says so, so that
 * the generic plan can use it), so each call reads a bounded page and a caller that moves
 * rows out of the state loses none and sees none twice; the last error is one index probe on
 * error_logs (workflow_id, id). Read-only. */
// clang-format off
static const char sql_resumable[] =
    "SELECT " REF_COLS
    " FROM " WF " w"
    " LEFT JOIN LATERAL ("
    "   SELECT x.error_class FROM " ERR " x"
    "   WHERE x.workflow_id = w.id ORDER BY x.id DESC LIMIT 1) e ON true"
    " WHERE w.state = $1 AND w.state <> 'completed' AND w.id > $5::bigint"
    "   AND ($2::text IS NULL OR w.job_class = $2)"
    "   AND ($3::text IS NULL OR e.error_class = $3"
    "        OR left(e.error_class, length($3) + 1) = $3 || '.')"
    "   AND ($4::bigint <= 0 OR w.updated_at < now() - $4::bigint * interval '1 millisecond')"
    " ORDER BY w.id LIMIT $6";
// clang-format on

/* ---- Signals (store/signals.c) and control requests (store/control_log.c) ---- */

/* A signal sent to a workflow: $1 class, $2 key, $3 name, $4 signal id, $5 payload (JSON text
 * or NULL), $6 sender. Guarantees: the workflow row is locked first (FOR UPDATE), so a run's
 * write set of the same row commits wholly before or after it (an await that halted before it
 * finds the signal by its recheck, one after it reads it); a signal is stored only for an
 * idle, running or stalled workflow, once per (workflow, signal id): a resend inserts nothing;
 * an idle workflow is made due now in the same statement (its next_wake_at, kept when
 * earlier), so the healing pass publishes the wake if the sender's is lost. The last column
 * says a signal with this id was stored before (a resend: answered as the first time, whatever
 * the workflow's state now). No row: no such workflow. */
// clang-format off
static const char sql_signal_send[] =
    "WITH w0 AS ("
    "  SELECT w.id, w.state, w.queue FROM " WF " w"
    "  WHERE w.job_class = $1 AND w.key = $2"
    "  FOR UPDATE),"
    " ins AS ("
    "  INSERT INTO " SIG " (workflow_id, name, signal_id, payload, sender)"
    "  SELECT w0.id, $3, $4, $5::jsonb, $6 FROM w0"
    "  WHERE w0.state IN ('idle', 'running', 'stalled')"
    "  ON CONFLICT (workflow_id, signal_id) DO NOTHING"
    "  RETURNING id),"
    " wake AS ("
    "  UPDATE " WF " AS w"
    "  SET next_wake_at = least(coalesce(w.next_wake_at, now()), now()), updated_at = now()"
    "  FROM w0"
    "  WHERE w.id = w0.id AND w0.state = 'idle' AND EXISTS (SELECT 1 FROM ins)"
    "  RETURNING w.id)"
    " SELECT w0.id, w0.state, w0.queue, (SELECT id FROM ins), EXISTS (SELECT 1 FROM wake),"
    "        EXISTS (SELECT 1 FROM " SIG " g WHERE g.workflow_id = w0.id AND g.signal_id = $4)"
    " FROM w0";

/* The oldest unconsumed signal named $2 of workflow $1, skipping the row ids in $3 (those an
 * await of the same pass took, not committed yet). Send order is row-id order. Read-only;
 * served by the partial chrono_forge_signals_pending index. */
static const char sql_signal_next[] =
    "SELECT g.id, g.signal_id, g.payload::text, " MS("g.sent_at") ", g.sender"
    " FROM " SIG " g"
    " WHERE g.workflow_id = $1 AND g.name = $2 AND g.consumed_by IS NULL"
    "   AND NOT (g.id = ANY ($3::bigint[]))"
    " ORDER BY g.id"
    " LIMIT 1";

/* After a pass halted awaiting signal $2, run after its commit: makes the idle, unlocked
 * workflow $1 due now when such a signal is waiting (one sent while the pass ran, after it
 * looked). Returns the workflow's id when it did, so the caller publishes the wake; healing
 * covers a lost publish. */
static const char sql_signal_recheck[] =
    "UPDATE " WF " AS w"
    " SET next_wake_at = now(), updated_at = now()"
    " WHERE w.id = $1 AND w.state = 'idle' AND w.locked_by IS NULL"
    "   AND (w.next_wake_at IS NULL OR w.next_wake_at > now())"
    "   AND EXISTS (SELECT 1 FROM " SIG " g"
    "               WHERE g.workflow_id = $1 AND g.name = $2 AND g.consumed_by IS NULL)"
    " RETURNING w.id";

/* The healing pass's net under the recheck (docs/healing.md, Limits): idle, unlocked workflows
 * not due that have a signal waiting for longer than $1 ms whose name a pending await of theirs
 * waits for (a pass halted there and its worker died before its recheck) are made due now, at
 * most $2 of them; the overdue sweep then republishes them. Reads only unconsumed signals (the
 * partial index). Returns the ids. */
static const char sql_signal_heal[] =
    "UPDATE " WF " AS w"
    " SET next_wake_at = now(), updated_at = now()"
    " FROM (SELECT DISTINCT g.workflow_id"
    "       FROM " SIG " g"
    "       JOIN " LOG " l ON l.workflow_id = g.workflow_id AND l.state = 'pending'"
    "         AND l.step_name LIKE 'await\\_signal$%' AND l.metadata->>'signal' = g.name"
    "       WHERE g.consumed_by IS NULL"
    "         AND g.sent_at < now() - $1::bigint * interval '1 millisecond'"
    "       LIMIT $2) x"
    " WHERE w.id = x.workflow_id AND w.state = 'idle' AND w.locked_by IS NULL"
    "   AND (w.next_wake_at IS NULL OR w.next_wake_at > now())"
    " RETURNING w.id";

/* The answer already given to control request $1: outcome, code, reason. Read-only. */
static const char sql_control_seen[] =
    "SELECT c.outcome, coalesce(c.code, ''), coalesce(c.reason, '')"
    " FROM " CTL " c"
    " WHERE c.request_id = $1";

/* Records the answer to control request $1 ($2 op, $3 class, $4 key, $5 outcome, $6 code,
 * $7 reason); the first answer stays (a request answered twice keeps its first answer).
 * Returns the stored answer. */
static const char sql_control_record[] =
    "WITH ins AS ("
    "  INSERT INTO " CTL " (request_id, op, job_class, key, outcome, code, reason)"
    "  VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, ''))"
    "  ON CONFLICT (request_id) DO NOTHING"
    "  RETURNING outcome, coalesce(code, '') AS code, coalesce(reason, '') AS reason)"
    " SELECT outcome, code, reason FROM ins"
    " UNION ALL"
    " SELECT c.outcome, coalesce(c.code, ''), coalesce(c.reason, '')"
    " FROM " CTL " c"
    " WHERE c.request_id = $1 AND NOT EXISTS (SELECT 1 FROM ins)";
// clang-format on

const cf_sql_stmt cf_sql_stmts[CF_SQL_COUNT_] = {
    [CF_SQL_RUN_BEGINS] = {"cf_run_begins", sql_run_begins, 2},
    [CF_SQL_STEPS_OF_BEGINS] = {"cf_steps_of_begins", sql_steps_of_begins, 1},
    [CF_SQL_STEPS_BY_KEY] = {"cf_steps_by_key", sql_steps_by_key, 2},
    [CF_SQL_STEPS_BY_ID] = {"cf_steps_by_id", sql_steps_by_id, 1},
    [CF_SQL_STEPS_ALL_BY_ID] = {"cf_steps_all_by_id", sql_steps_all_by_id, 1},
    [CF_SQL_WRITE_SETS] = {"cf_write_sets", sql_write_sets, 2},
    [CF_SQL_RUN_PEEKS] = {"cf_run_peeks", sql_run_peeks, 1},
    [CF_SQL_STEPS_OF_PEEKS] = {"cf_steps_of_peeks", sql_steps_of_peeks, 1},
    [CF_SQL_RESOLVE] = {"cf_resolve", sql_resolve, 2},
    [CF_SQL_END_BACKEND] = {"cf_end_backend", sql_end_backend, 2},
    [CF_SQL_WF_BY_CLASS_KEY] = {"cf_wf_by_class_key", sql_wf_by_class_key, 2},
    [CF_SQL_WF_BY_KEY] = {"cf_wf_by_key", sql_wf_by_key, 1},
    [CF_SQL_WF_BY_ID] = {"cf_wf_by_id", sql_wf_by_id, 1},
    [CF_SQL_WF_INSERT_IDLE] = {"cf_wf_insert_idle", sql_wf_insert_idle, 5},
    [CF_SQL_ERRORS_BY_ID] = {"cf_errors_by_id", sql_errors_by_id, 2},
    [CF_SQL_LIST_ALL] = {"cf_list_all", sql_list_all, 2},
    [CF_SQL_LIST_STATE] = {"cf_list_state", sql_list_state, 3},
    [CF_SQL_LIST_CLASS] = {"cf_list_class", sql_list_class, 3},
    [CF_SQL_LIST_STATE_CLASS] = {"cf_list_state_class", sql_list_state_class, 4},
    [CF_SQL_COUNTS_ALL] = {"cf_counts_all", sql_counts_all, 0},
    [CF_SQL_COUNTS_CLASS] = {"cf_counts_class", sql_counts_class, 1},
    [CF_SQL_SWEEP_OVERDUE] = {"cf_sweep_overdue", sql_sweep_overdue, 2},
    [CF_SQL_SWEEP_RUNNING] = {"cf_sweep_running", sql_sweep_running, 2},
    [CF_SQL_REQUEUE] = {"cf_requeue", sql_requeue, 6},
    [CF_SQL_RESUMABLE] = {"cf_resumable", sql_resumable, 6},
    [CF_SQL_SIGNAL_SEND] = {"cf_signal_send", sql_signal_send, 6},
    [CF_SQL_SIGNAL_NEXT] = {"cf_signal_next", sql_signal_next, 3},
    [CF_SQL_SIGNAL_RECHECK] = {"cf_signal_recheck", sql_signal_recheck, 2},
    [CF_SQL_SIGNAL_HEAL] = {"cf_signal_heal", sql_signal_heal, 2},
    [CF_SQL_CONTROL_SEEN] = {"cf_control_seen", sql_control_seen, 1},
    [CF_SQL_CONTROL_RECORD] = {"cf_control_record", sql_control_record, 7},
};
