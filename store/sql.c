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
#define BR  "chrono_forge_branches"

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
    MS(a ".updated_at") ", " MS(a ".locked_at") ", " MS(a ".next_wake_at") ", "             \
    MS(a ".cancel_requested_at") ", " a ".cancel_requested_by, " a ".cancel_reason"

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
 * are resumed by a requeue, sql_requeue below, never here; a cancelling row begins its on_cancel
 * pass, SPEC §4): it gets fence + 1, the lock, and
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
    "  WHERE w.id = cur.id AND cur.state IN ('idle', 'running', 'cancelling')"
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

/* Cancellation (SPEC §4, store/cancel.h) in the update of workflow row w: outcome 'cancelled'
 * (an on_cancel pass ended) makes it cancelled; any other outcome that
 * releases the run, on a row with a cancel request, makes it cancelling and due now (its
 * on_cancel pass runs next; healed like idle; a cleanup step's retry time travels in its
 * continuation, least() ignoring the NULL of a wake-less outcome): a cancel accepted while the
 * run ran always wins, whatever the run's end. */
#define CX_CANCELLING "r.o NOT IN ('continue', 'cancelled') AND w.cancel_requested_at IS NOT NULL"
#define CX_STATE \
    "CASE WHEN r.o = 'cancelled' THEN 'cancelled' WHEN " CX_CANCELLING " THEN 'cancelling'" \
    "     ELSE " WS_STATE " END"
#define CX_WAKE "CASE WHEN " CX_CANCELLING " THEN least(" WS_WAKE ", now()) ELSE " WS_WAKE " END"

/* Branches (engine/branch.c, SPEC §3): the write sets (w) that finish a child for its branch's
 * merge (each child does at most once: a completed or cancelled workflow never runs again):
 * a complete that no cancel request turned into cancelling (cx), or the end of an on_cancel
 * pass; and those that only wake its parent to look (a stalled or failed child, which a requeue
 * may still complete; not one a cancel turned into cancelling: its on_cancel pass finishes it).
 * A new terminal state that finishes a child is one more clause in BRANCH_FINISHED. */
#define BRANCH_FINISHED "((w.o = 'complete' AND NOT w.cx) OR w.o = 'cancelled')"
#define BRANCH_TROUBLED "(w.o IN ('stall', 'fail') AND NOT w.cx)"

/* The branch part of sql_write_sets, self-contained: it reads only r (its field br) and w (the
 * applied write sets), so a refused write set changes no branch.
 * bi inserts the children a write set dispatches, born idle and due now (the sweeper
 * republishes a lost envelope), with their parent link; an existing (class, key) is left alone,
 * so a re-touched dispatch batch creates no duplicate and counts none twice.
 * bd sums, per (parent, branch), what the whole batch changes: children inserted, children
 * finished (from the child's own write set, by its parent link), seals and merges; bu applies
 * that to the branch row in ONE upsert per row (a row is never modified twice by one statement,
 * even when a parent and its children share a batch; a parent deleted meanwhile is skipped),
 * so concurrent batches serialise on the
 * branch row only, once per batch, never on the parent's row. Exactly one commit brings a sealed
 * branch's remaining to 0 (rows are updated under their row lock, READ COMMITTED re-reads the
 * newest version, and a sealed branch gets no more children): bw names the parent for that
 * commit (and for a child that stalled or failed), and bp records the wake in Postgres
 * (next_wake_at = now on an idle parent not in this batch), so a lost envelope is healed by the
 * sweeper like any overdue wake. */
#define BRANCH_CTES                                                                       \
    " bi AS ("                                                                            \
    "  INSERT INTO " WF " AS c (job_class, key, queue, kwargs, parent_id, branch,"        \
    "                          next_wake_at)"                                             \
    "  SELECT x.c, x.k, x.q, x.kw, w.id, b.n, now()"                                      \
    "  FROM w JOIN r ON r.i = w.i,"                                                       \
    "       jsonb_to_recordset(r.br) AS b(n text, kids jsonb),"                           \
    "       jsonb_to_recordset(coalesce(b.kids, '[]'))"                                   \
    "         AS x(c text, k text, q text, kw jsonb)"                                     \
    "  WHERE r.br IS NOT NULL"                                                            \
    "  ORDER BY x.k"                                                                      \
    "  ON CONFLICT (job_class, key) DO NOTHING"                                           \
    "  RETURNING c.parent_id, c.branch),"                                                 \
    " bd AS ("                                                                            \
    "  SELECT d.pid, d.n, sum(d.added) AS added, sum(d.done) AS done,"                    \
    "         bool_or(d.seal) AS seal, bool_or(d.mg) AS mg, bool_or(d.trouble) AS trouble," \
    "         max(d.i) AS i"                                                              \
    "  FROM (SELECT bi.parent_id AS pid, bi.branch AS n, 1 AS added, 0 AS done,"          \
    "               false AS seal, false AS mg, false AS trouble, NULL::int AS i"         \
    "        FROM bi"                                                                     \
    "        UNION ALL"                                                                   \
    "        SELECT w.id, b.n, 0, 0, coalesce(b.sl, false), coalesce(b.mg, false),"       \
    "               false, NULL"                                                          \
    "        FROM w JOIN r ON r.i = w.i,"                                                 \
    "             jsonb_to_recordset(r.br) AS b(n text, sl bool, mg bool)"                \
    "        WHERE r.br IS NOT NULL"                                                      \
    "        UNION ALL"                                                                   \
    "        SELECT c.parent_id, c.branch, 0, (" BRANCH_FINISHED ")::int,"                 \
    "               false, false, " BRANCH_TROUBLED ", w.i"                               \
    "        FROM w JOIN " WF " c ON c.id = w.id"                                         \
    "        WHERE c.parent_id IS NOT NULL"                                               \
    "          AND (" BRANCH_FINISHED " OR " BRANCH_TROUBLED ")) d"                       \
    "  WHERE d.pid IN (SELECT w.id FROM w)"                                               \
    "     OR EXISTS (SELECT 1 FROM " WF " p WHERE p.id = d.pid)"                              \
    "  GROUP BY d.pid, d.n),"                                                             \
    " bu AS ("                                                                            \
    "  INSERT INTO " BR " AS b (workflow_id, name, state, spawned, remaining)"            \
    "  SELECT bd.pid, bd.n,"                                                              \
    "         CASE WHEN bd.mg THEN 'merged' WHEN bd.seal THEN 'sealed' ELSE 'open' END,"  \
    "         bd.added, bd.added - bd.done"                                               \
    "  FROM bd"                                                                           \
    "  ORDER BY bd.pid, bd.n"                                                             \
    "  ON CONFLICT (workflow_id, name) DO UPDATE"                                         \
    "  SET spawned = b.spawned + excluded.spawned,"                                       \
    "      remaining = b.remaining + excluded.remaining,"                                 \
    "      state = CASE WHEN 'merged' IN (b.state, excluded.state) THEN 'merged'"         \
    "                   WHEN 'sealed' IN (b.state, excluded.state) THEN 'sealed'"         \
    "                   ELSE 'open' END,"                                                 \
    "      updated_at = now()"                                                            \
    "  RETURNING b.workflow_id, b.name, b.state, b.remaining),"                           \
    " bw AS ("                                                                            \
    "  SELECT bu.workflow_id, bd.i"                                                       \
    "  FROM bu JOIN bd ON bd.pid = bu.workflow_id AND bd.n = bu.name"                     \
    "  WHERE bd.i IS NOT NULL AND bu.state = 'sealed'"                                    \
    "    AND ((bd.done > 0 AND bu.remaining = 0) OR bd.trouble)),"                        \
    " bp AS ("                                                                            \
    "  UPDATE " WF " AS p"                                                                \
    "  SET next_wake_at = now(), updated_at = now()"                                      \
    "  FROM bw"                                                                           \
    "  WHERE p.id = bw.workflow_id AND p.state = 'idle'"                                  \
    "    AND NOT EXISTS (SELECT 1 FROM w WHERE w.id = p.id)"                              \
    "  RETURNING 1)"

/* The parent a write set's commit wakes (bw), as JSON {c, k, q}, or NULL. */
#define BRANCH_WAKE                                                                      \
    "SELECT jsonb_build_object('c', p.job_class, 'k', p.key, 'q', p.queue)::text"       \
    " FROM bw JOIN " WF " p ON p.id = bw.workflow_id WHERE bw.i = w.i LIMIT 1"

/* Every write set of a batch, in one statement.
 * $1: a JSON array of {i, id, f: fence, ctx: context, o: outcome, wk: wake ms, a: attempt,
 *     rc: retry_counts, st: steps, er: errors, and for a lazy begin (docs/healing.md, "lazy
 *     window") lz: true, lf: the fence read (0: no row when read), c: class, k: key, q: queue,
 *     kw: kwargs, op: options, l: lock value; rp: a repeat's tick rows to prune, {p: the
 *     "durably_repeat$<name>$" prefix, b: before this tick ms}} whose workflows are distinct;
 *     $2: the token.
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
 * workflows carry $2; rp deletes, only for an applied write set, at most 1000 of its
 * workflow's tick rows named p<digits> with digits < b, the oldest first (the index range on
 * (workflow_id, step_name) finds them; the exact prefix and number are checked row by row, so
 * no other step is ever deleted; the engine never names a row it writes in the same set).
 * Cancellation (CX_STATE above): the row's cancel request turns a releasing outcome into
 * cancelling, 'cancelled' ends an on_cancel pass, and a lazy begin also applies to a row
 * cancelled while the run was in its lazy window (idle or cancelling, unlocked, at fence lf), so
 * that the step it was in is recorded. br (a write set's branch changes) is applied by
 * BRANCH_CTES above. Returns the request index, workflow id, fence and cx (the row carries a
 * cancel request, as updated) of every applied write set, and the parent its commit wakes
 * (BRANCH_WAKE). */
static const char sql_write_sets[] =
    "WITH r AS ("
    "  SELECT * FROM jsonb_to_recordset($1::jsonb)"
    "    AS r(i int, id bigint, f bigint, ctx jsonb, o text, wk bigint, a int, rc jsonb,"
    "         st jsonb, er jsonb, lz bool, lf bigint, c text, k text, q text, kw jsonb,"
    "         op jsonb, l text, rp jsonb, br jsonb)),"
    " wu AS ("
    "  UPDATE " WF " AS w"
    "  SET context = coalesce(r.ctx, w.context),"
    "      state = " CX_STATE ","
    "      fence = CASE WHEN r.lz THEN w.fence + 1 ELSE w.fence END,"
    "      locked_by = CASE WHEN r.o = 'continue' THEN coalesce(r.l, w.locked_by) END,"
    "      locked_at = CASE WHEN r.o = 'continue' AND r.lz THEN now()"
    "                       WHEN r.o = 'continue' THEN w.locked_at END,"
    "      started_at = coalesce(w.started_at, now()),"
    "      crash_count = CASE WHEN r.o = 'continue' THEN w.crash_count ELSE 0 END,"
    "      next_wake_at = " CX_WAKE ","
    "      completed_at = CASE WHEN r.o IN ('complete', 'cancelled') THEN now()"
    "                          ELSE w.completed_at END,"
    "      attempt = CASE WHEN r.a >= 0 THEN r.a ELSE w.attempt END,"
    "      retry_counts = coalesce(r.rc, w.retry_counts),"
    "      write_token = $2,"
    "      updated_at = now()"
    "  FROM r"
    "  WHERE w.id = r.id"
    "    AND CASE WHEN r.lz THEN w.fence = r.lf AND w.state IN ('idle', 'cancelling')"
    "                            AND w.locked_by IS NULL"
    "             ELSE w.fence = r.f AND w.state = 'running' END"
    "  RETURNING w.id, w.fence, w.context, r.i, r.o, r.st, r.er,"
    "            w.cancel_requested_at IS NOT NULL AS cx),"
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
    "  SELECT wu.id, wu.fence, wu.context, wu.i, wu.o, wu.st, wu.er, wu.cx FROM wu"
    "  UNION ALL"
    "  SELECT wi.id, wi.fence, wi.context, r.i, r.o, r.st, r.er, false"
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
    " rp AS ("
    "  DELETE FROM " LOG " AS l"
    "  WHERE l.id IN ("
    "    SELECT d.id"
    "    FROM w JOIN r ON r.i = w.i"
    "    CROSS JOIN LATERAL ("
    "      SELECT x.id FROM " LOG " x"
    "      WHERE x.workflow_id = w.id"
    "        AND x.step_name >= r.rp->>'p'"
    "        AND x.step_name < (r.rp->>'p') || (r.rp->>'b')"
    "        AND starts_with(x.step_name, r.rp->>'p')"
    "        AND CASE WHEN substr(x.step_name, length(r.rp->>'p') + 1) ~ '^[0-9]{1,18}$'"
    "                 THEN substr(x.step_name, length(r.rp->>'p') + 1)::bigint END"
    "            < (r.rp->>'b')::bigint"
    "      ORDER BY x.step_name"
    "      LIMIT 1000) d"
    "    WHERE r.rp IS NOT NULL)"
    "  RETURNING 1),"
    BRANCH_CTES
    " SELECT w.i, w.id, w.fence, w.cx, (" BRANCH_WAKE ") FROM w";

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

/* Through a transaction-mode pooler (--pg-prepared-statements off) a session's settings do not
 * follow the client and its backend pid is the pooler's: the writer's batch opens with this
 * statement instead. Its settings are local to the batch's transaction (the pipeline up to its
 * Sync): the writer's join and JIT choices, the statement timeout, and an application_name
 * naming the batch ($1), by which sql_end_batch finds the backend running it. */
static const char sql_batch_session[] =
    "SELECT set_config('application_name', $1, true),"
    " set_config('statement_timeout', $2, true),"
    " set_config('jit', 'off', true),"
    " set_config('enable_hashjoin', 'off', true),"
    " set_config('enable_mergejoin', 'off', true),"
    " set_config('enable_seqscan', 'off', true)";

/* Ends the server process still running the batch named $1 (sql_batch_session; names are
 * compared as the server stores them, cut to 63 bytes) and returns a row while one exists:
 * once none does, that batch's transaction has committed or rolled back, and sql_resolve's
 * answer is final. */
static const char sql_end_batch[] =
    "SELECT pg_terminate_backend(a.pid)"
    " FROM pg_stat_activity a"
    " WHERE a.application_name = left($1, 63)"
    "   AND a.usename = current_user";

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

/* The rows of the queues in $3 (the paused ones) are left alone: healing publishes nothing into
 * them. A filter on the index scan's rows, not a join: the plans stay index-only reads. */
#define NOT_PAUSED " AND w.queue <> ALL ($3::text[])"

/* Idle and cancelling (SPEC §4: healed like idle) workflows whose wake is more than $1 ms
 * overdue, most overdue first. Two branches so that each uses its index: the partial wake
 * index of idle rows, and the (state, id) index of rows not completed for the few cancelling. */
static const char sql_sweep_overdue[] =
    "SELECT * FROM ("
    "  SELECT " REF_COLS
    "  FROM " WF " w"
    "  WHERE w.state = 'idle' AND w.next_wake_at IS NOT NULL"
    "    AND w.next_wake_at < now() - $1::bigint * interval '1 millisecond'"
    NOT_PAUSED
    "  ORDER BY w.next_wake_at LIMIT $2) i"
    " UNION ALL"
    " SELECT * FROM ("
    "  SELECT " REF_COLS
    "  FROM " WF " w"
    "  WHERE w.state = 'cancelling' AND w.state <> 'completed'"
    "    AND coalesce(w.next_wake_at, w.updated_at)"
    "        < now() - $1::bigint * interval '1 millisecond'"
    NOT_PAUSED
    "  ORDER BY w.id LIMIT $2) c";

/* Running workflows after id $1, in id order (keyset paging). */
static const char sql_sweep_running[] =
    "SELECT " REF_COLS
    " FROM " WF " w"
    " WHERE w.state = 'running' AND w.id > $1"
    NOT_PAUSED
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

/* ---- The dashboard (store/dashboard.c; docs/indexes.md "Dashboard") ----
 * Lists are newest first and page by keyset. Each statement reads one chunk of at most $10
 * rows through one index backwards (the primary key, `not_completed` or `class_id`; the LIMIT
 * makes that the plan whatever the filters), then applies the other filters to the chunk and
 * returns at most $9 matches (a sort of at most $10 rows), each row followed by the chunk's
 * size and lowest id: store/dashboard.c goes on from there when the chunk matched too few. A
 * chunk without a match still returns one row, its workflow columns NULL.
 * $1 state, $2 below this id, $3 class, $4 key prefix, $5/$6 created at or after / before
 * (Unix ms), $7 the last error's class (or one under it), $8 what an idle workflow waits for
 * (timer, retry, continue_if), $9 matches wanted, $10 chunk size. NULL: no filter. */
#define DASH_COLS                                                                           \
    WF_COLS("w") ", "                                                                       \
    "(SELECT x.error_class FROM " ERR " x"                                                  \
    "  WHERE x.workflow_id = w.id ORDER BY x.id DESC LIMIT 1) AS last_error_class, "        \
    "(SELECT x.error_message FROM " ERR " x"                                                \
    "  WHERE x.workflow_id = w.id ORDER BY x.id DESC LIMIT 1) AS last_error_message"
#define DASH_FILTERS                                                                        \
    " ($1::text IS NULL OR w.state = $1)"                                                   \
    " AND ($3::text IS NULL OR w.job_class = $3)"                                           \
    " AND ($4::text IS NULL OR left(w.key, length($4)) = $4)"                               \
    " AND ($5::bigint IS NULL OR w.created_at >= to_timestamp($5::bigint / 1000.0))"        \
    " AND ($6::bigint IS NULL OR w.created_at < to_timestamp($6::bigint / 1000.0))"         \
    " AND ($8::text IS NULL"                                                                \
    "      OR ($8 = 'timer' AND w.state = 'idle' AND w.next_wake_at IS NOT NULL"            \
    "          AND w.retry_counts = '{}'::jsonb)"                                           \
    "      OR ($8 = 'retry' AND w.state = 'idle' AND w.next_wake_at IS NOT NULL"            \
    "          AND w.retry_counts <> '{}'::jsonb)"                                          \
    "      OR ($8 = 'continue_if' AND w.state = 'idle' AND w.next_wake_at IS NULL))"        \
    " AND ($7::text IS NULL OR EXISTS ("                                                    \
    "      SELECT 1 FROM (SELECT x.error_class FROM " ERR " x"                              \
    "                     WHERE x.workflow_id = w.id ORDER BY x.id DESC LIMIT 1) e"         \
    "      WHERE e.error_class = $7 OR left(e.error_class, length($7) + 1) = $7 || '.'))"
#define DASH_MATCHES                                                                        \
    " SELECT m.*, s.scanned, s.lowest"                                                      \
    " FROM (SELECT count(*) AS scanned, min(c.id) AS lowest FROM chunk c) s"                \
    " LEFT JOIN LATERAL ("                                                                  \
    "   SELECT " DASH_COLS " FROM chunk w"                                                  \
    "   WHERE" DASH_FILTERS                                                                 \
    "   ORDER BY w.id DESC LIMIT $9) m ON true"

/* Any filter, through the primary key backwards. */
static const char sql_dash_list_id[] =
    "WITH chunk AS MATERIALIZED ("
    "  SELECT w.* FROM " WF " w"
    "  WHERE w.id < $2::bigint"
    "  ORDER BY w.id DESC LIMIT $10)"
    DASH_MATCHES;

/* A state other than completed, through `not_completed` backwards (the clause repeats the
 * partial index's predicate so that a generic plan can use it). */
static const char sql_dash_list_state[] =
    "WITH chunk AS MATERIALIZED ("
    "  SELECT w.* FROM " WF " w"
    "  WHERE w.state = $1 AND w.state <> 'completed' AND w.id < $2::bigint"
    "  ORDER BY w.state DESC, w.id DESC LIMIT $10)"
    DASH_MATCHES;

/* A class (and any state), through `class_id` backwards. */
static const char sql_dash_list_class[] =
    "WITH chunk AS MATERIALIZED ("
    "  SELECT w.* FROM " WF " w"
    "  WHERE w.job_class = $3 AND w.state IS NOT NULL AND w.id < $2::bigint"
    "  ORDER BY w.job_class DESC, w.id DESC LIMIT $10)"
    DASH_MATCHES;

/* Workflows not completed, by state and queue, read from `not_completed` only; run only while
 * they are few (store/dashboard.c). */
static const char sql_dash_counts[] =
    "SELECT w.state, w.queue, count(*)"
    " FROM " WF " w"
    " WHERE w.state <> 'completed'"
    " GROUP BY w.state, w.queue";

/* How many workflows are in one state other than completed, counting at most $2 of them (an
 * index-only read of `not_completed`: bounded work however many there are). */
static const char sql_dash_count_state[] =
    "SELECT count(*) FROM ("
    "  SELECT 1 FROM " WF " w"
    "  WHERE w.state = $1 AND w.state <> 'completed'"
    "  LIMIT $2) c";

/* The planner's estimate of the table's rows (-1: never analysed); no scan. */
static const char sql_dash_estimate[] =
    "SELECT c.reltuples::bigint FROM pg_class c"
    " WHERE c.oid = '" WF "'::regclass";

/* The exact completed count: a scan; the dashboard runs it only below its size limit. */
static const char sql_dash_completed[] =
    "SELECT count(*) FROM " WF " w WHERE w.state = 'completed'";

/* Completions per minute in this minute and the 59 before it, among the newest $1 workflows
 * (the primary key backwards: bounded work, no index on completed_at; docs/indexes.md). */
static const char sql_dash_throughput[] =
    "SELECT " MS("date_trunc('minute', r.completed_at)") ", count(*)"
    " FROM (SELECT w.state, w.completed_at FROM " WF " w"
    "       ORDER BY w.id DESC LIMIT $1) r"
    " WHERE r.state = 'completed'"
    "   AND r.completed_at >= date_trunc('minute', now()) - interval '59 minutes'"
    " GROUP BY 1 ORDER BY 1";
// clang-format on

/* ---- Retention (store/retention.h) ---- */

/* Which workflows retention may delete: in one of the states $2 (a text array of finished
 * states), entered (completed_at, else updated_at) before $1 (Unix ms). created_at < $1 is
 * implied (a workflow finishes after it is created) and written out so that the BRIN index on
 * created_at can narrow a scan to the old part of the table (docs/indexes.md, "Retention"). */
#define CLEANUP_MATCH                                                                              \
    " w.created_at < to_timestamp($1::bigint / 1000.0)"                                            \
    " AND w.state = ANY ($2::text[])"                                                              \
    " AND coalesce(w.completed_at, w.updated_at) < to_timestamp($1::bigint / 1000.0)"

/* A child (branches) is deleted only with its parent, or once its parent is gone. */
#define CLEANUP_TOP                                                                                \
    " AND (w.parent_id IS NULL"                                                                    \
    "      OR NOT EXISTS (SELECT 1 FROM " WF " p WHERE p.id = w.parent_id))"

/* One batch: at most $3 of those workflows that are not the child of an existing workflow
 * (doomed), each with its finished descendants (tree: children, theirs, ..., in the states $2,
 * parents first, at most 10 x $3 rows in all), deleted with their execution and error logs
 * (the statement-level delete trigger, in the same statement) and branch rows. Guarantees: a
 * child whose parent exists is never deleted alone; descendants left by the cap (or in other
 * states) keep their parent_id and are deleted by later batches once finished, their parent
 * being gone; a top row another transaction holds is skipped, never waited for (SKIP LOCKED), so
 * retention never blocks a run, a requeue or another retention batch, and two workers' batches
 * delete disjoint trees; one short transaction per batch. Returns how many were deleted. */
// clang-format off
static const char sql_cleanup[] =
    "WITH RECURSIVE doomed AS ("
    "  SELECT w.id FROM " WF " w"
    "  WHERE" CLEANUP_MATCH CLEANUP_TOP
    "  ORDER BY w.id"
    "  LIMIT $3"
    "  FOR UPDATE SKIP LOCKED),"
    " tree AS ("
    "  SELECT d.id, 0 AS depth FROM doomed d"
    "  UNION ALL"
    "  SELECT c.id, t.depth + 1 FROM tree t JOIN " WF " c ON c.parent_id = t.id"
    "  WHERE c.state = ANY ($2::text[]) AND t.depth < 32),"
    " capped AS ("
    "  SELECT t.id FROM tree t ORDER BY t.depth LIMIT 10 * $3::int),"
    " deleted AS ("
    "  DELETE FROM " WF " w USING capped c WHERE w.id = c.id RETURNING 1)"
    " SELECT count(*) FROM deleted";

/* How many workflows a cleanup would delete (a dry run). Read-only. */
static const char sql_cleanup_count[] =
    "SELECT count(*) FROM " WF " w WHERE" CLEANUP_MATCH;
// clang-format on

/* ---- Schedules (store/schedules.c, SPEC §3 and §7) ---- */
// clang-format off

#define SCHED "chrono_forge_schedules"

/* The schedule columns of row s, in the order store/sql.h documents. */
#define SCHED_COLS                                                                 \
    "s.name, s.job_class, s.queue, s.cron, s.every_ms, s.tz, s.kwargs::text, "     \
    "s.key_template, s.overlap, s.paused, " MS("s.last_fire_at") ", s.last_key, "  \
    MS("s.next_fire_at") ", " MS("s.created_at") ", " MS("s.updated_at") ", "      \
    "s.updated_by"

/* The definition columns an upsert compares: an unchanged definition keeps its next fire. */
#define SCHED_SAME_DEF                                                                \
    "s.job_class = EXCLUDED.job_class AND s.queue = EXCLUDED.queue"                   \
    " AND s.cron IS NOT DISTINCT FROM EXCLUDED.cron"                                  \
    " AND s.every_ms IS NOT DISTINCT FROM EXCLUDED.every_ms AND s.tz = EXCLUDED.tz"   \
    " AND s.kwargs = EXCLUDED.kwargs AND s.key_template = EXCLUDED.key_template"      \
    " AND s.overlap = EXCLUDED.overlap"

/* Creates the schedule, or replaces the definition of an existing one of that name. Its pause
 * flag, last fire and last key are kept; its next fire is kept when the definition did not
 * change (so `migrate` applying the same code twice moves nothing) and set to $10 otherwise.
 * Column 16: inserted; 17: changed (an existing row whose definition differed). */
static const char sql_schedule_upsert[] =
    "INSERT INTO " SCHED " AS s (name, job_class, queue, cron, every_ms, tz, kwargs,"
    "                            key_template, overlap, next_fire_at, updated_by)"
    " VALUES ($1, $2, $3, $4, $5::bigint, $6, $7::jsonb, $8, $9, " TS("$10::bigint") ", $11)"
    " ON CONFLICT (name) DO UPDATE"
    "  SET job_class = EXCLUDED.job_class, queue = EXCLUDED.queue, cron = EXCLUDED.cron,"
    "      every_ms = EXCLUDED.every_ms, tz = EXCLUDED.tz, kwargs = EXCLUDED.kwargs,"
    "      key_template = EXCLUDED.key_template, overlap = EXCLUDED.overlap,"
    "      next_fire_at = CASE WHEN " SCHED_SAME_DEF " THEN s.next_fire_at"
    "                          ELSE EXCLUDED.next_fire_at END,"
    "      updated_at = CASE WHEN " SCHED_SAME_DEF " THEN s.updated_at ELSE now() END,"
    "      updated_by = CASE WHEN " SCHED_SAME_DEF " THEN s.updated_by"
    "                        ELSE EXCLUDED.updated_by END"
    " RETURNING " SCHED_COLS ", (xmax = 0), (xmax <> 0 AND s.updated_at = now())";

static const char sql_schedule_get[] =
    "SELECT " SCHED_COLS
    " FROM " SCHED " s"
    " WHERE s.name = $1";

static const char sql_schedule_list[] =
    "SELECT " SCHED_COLS
    " FROM " SCHED " s"
    " ORDER BY s.name";

/* Pauses ($2 true) or resumes ($2 false) a schedule. A resume sets the next fire to $3 (the
 * first tick after now), so ticks that passed while paused never fire. */
static const char sql_schedule_pause[] =
    "UPDATE " SCHED " s"
    " SET paused = $2::boolean,"
    "     next_fire_at = CASE WHEN $2::boolean THEN s.next_fire_at"
    "                         ELSE " TS("$3::bigint") " END,"
    "     updated_at = now(), updated_by = $4"
    " WHERE s.name = $1"
    " RETURNING " SCHED_COLS;

static const char sql_schedule_remove[] =
    "DELETE FROM " SCHED " s"
    " WHERE s.name = $1"
    " RETURNING s.name";

/* The schedules due at $1 (Unix ms), earliest first: the one query a worker's tick makes, on
 * the partial index over unpaused schedules' next fire. */
static const char sql_schedules_due[] =
    "SELECT " SCHED_COLS
    " FROM " SCHED " s"
    " WHERE NOT s.paused AND s.next_fire_at <= to_timestamp($1::bigint / 1000.0)"
    " ORDER BY s.next_fire_at LIMIT $2";

/* A fire of schedule $1 for tick $2 (Unix ms), in one statement and one commit: the schedule's
 * last fire advances to the tick and its next fire to $5, but only when its last fire is
 * before the tick (and it is not paused), so of any number of workers firing the same tick
 * exactly one gets a row back (the others wait on the row lock, then find the condition
 * false); in the same commit the workflow ($3 key, $4 options) is created idle and due at the
 * tick with the schedule's class, queue and kwargs, unless the overlap policy is skip and the
 * schedule's previous workflow is unfinished (idle, running or stalled): then the tick is
 * consumed and nothing is created. $6 true: a manual fire (`schedule run`): pause, overlap and
 * the last fire are ignored and left alone; only the last key moves.
 * Columns: 0 job_class, 1 queue, 2 kwargs, 3 outcome ('fired', 'skipped' for overlap,
 * 'exists' when the key was taken). No row: the tick was fired already (or the schedule is
 * paused or gone). */
static const char sql_schedule_fire[] =
    "WITH prev AS ("
    "  SELECT EXISTS ("
    "    SELECT 1 FROM " WF " w"
    "    WHERE w.job_class = s.job_class AND w.key = s.last_key"
    "      AND w.state IN ('idle', 'running', 'stalled')) AS busy"
    "  FROM " SCHED " s"
    "  WHERE s.name = $1"
    "), adv AS ("
    "  UPDATE " SCHED " s"
    "  SET last_fire_at = CASE WHEN $6::boolean THEN s.last_fire_at"
    "                          ELSE to_timestamp($2::bigint / 1000.0) END,"
    "      next_fire_at = CASE WHEN $6::boolean THEN s.next_fire_at"
    "                          ELSE " TS("$5::bigint") " END,"
    "      last_key = CASE WHEN NOT $6::boolean AND s.overlap = 'skip' AND p.busy"
    "                      THEN s.last_key ELSE $3 END"
    "  FROM prev p"
    "  WHERE s.name = $1"
    "    AND ($6::boolean OR (NOT s.paused AND (s.last_fire_at IS NULL"
    "         OR s.last_fire_at < to_timestamp($2::bigint / 1000.0))))"
    "  RETURNING s.job_class, s.queue, s.kwargs,"
    "            (NOT $6::boolean AND s.overlap = 'skip' AND p.busy) AS skipped"
    "), ins AS ("
    "  INSERT INTO " WF " AS w (job_class, key, queue, kwargs, options, next_wake_at)"
    "  SELECT a.job_class, $3, a.queue, a.kwargs, $4::jsonb, to_timestamp($2::bigint / 1000.0)"
    "  FROM adv a"
    "  WHERE NOT a.skipped"
    "  ON CONFLICT (job_class, key) DO NOTHING"
    "  RETURNING w.id"
    ")"
    " SELECT a.job_class, a.queue, a.kwargs::text,"
    "        CASE WHEN a.skipped THEN 'skipped'"
    "             WHEN EXISTS (SELECT 1 FROM ins) THEN 'fired'"
    "             ELSE 'exists' END"
    " FROM adv a";

/* ---- Queue pause flags (store/queue_flags.c): the Postgres mirror of P:{Q}:paused ---- */

/* Records queue $1 as paused ($2 true, by $3, now) or resumed; one row per queue. */
static const char sql_queue_pause[] =
    "INSERT INTO chrono_forge_queues AS q (name, paused, paused_at, paused_by, updated_at)"
    " VALUES ($1, $2::boolean, CASE WHEN $2::boolean THEN now() END,"
    "         CASE WHEN $2::boolean THEN $3 END, now())"
    " ON CONFLICT (name) DO UPDATE"
    "  SET paused = EXCLUDED.paused, paused_at = EXCLUDED.paused_at,"
    "      paused_by = EXCLUDED.paused_by, updated_at = now()"
    " RETURNING q.name";

/* Every queue's flag (few rows: one per queue ever paused). */
static const char sql_queue_flags[] =
    "SELECT q.name, q.paused, " MS("q.paused_at") ", coalesce(q.paused_by, '')"
    " FROM chrono_forge_queues q"
    " ORDER BY q.name";

/* ---- Cancellation (store/cancel.h, SPEC §4) ---- */

/* Cancels a set of workflows, in one statement. $1 a JSON array of workflow ids, $2
 * requested_at (Unix ms; names the `$workflow_cancel$<ms>` rows), $3 requested_by, $4 reason
 * (NULL or '': none). Guarantees: every row is locked (FOR UPDATE, in id order, so concurrent
 * cancels and batches cannot deadlock) before it is judged, so a cancel and a run's begin or
 * commit serialise; a row without a cancel request that is idle (waiting or not) or stalled
 * becomes cancelling and due now (its on_cancel pass; healed like idle); a running one keeps its
 * state, fence and lock and only records the request (its run's next commit learns of it:
 * sql_write_sets, cx); either way the request (when, who, why) is stored on the row and the
 * `$workflow_cancel$<ms>` row written in the same transaction. Any other row changes nothing.
 * A request already on the row (same ms, same requested_by) changes nothing and says so in
 * column 5, which makes a retry after an unknown outcome safe. Returns, per row found: id,
 * class, key, queue, its state before, already applied, the state this call cancelled it from
 * (NULL: refused). */
// clang-format off
static const char sql_cancel_ids[] =
    "WITH w0 AS ("
    "  SELECT w.id, w.state, w.cancel_requested_at, w.cancel_requested_by"
    "  FROM " WF " w"
    "  WHERE w.id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)"
    "  ORDER BY w.id"
    "  FOR UPDATE OF w),"
    " mark AS ("
    "  SELECT to_timestamp($2::bigint / 1000.0) AS at),"
    " done AS ("
    "  SELECT w0.id FROM w0, mark"
    "  WHERE w0.cancel_requested_at = mark.at AND w0.cancel_requested_by = $3::text),"
    " upd AS ("
    "  UPDATE " WF " AS w"
    "  SET state = CASE WHEN w0.state = 'running' THEN 'running' ELSE 'cancelling' END,"
    "      next_wake_at = CASE WHEN w0.state = 'running' THEN w.next_wake_at ELSE now() END,"
    "      cancel_requested_at = mark.at,"
    "      cancel_requested_by = $3::text,"
    "      cancel_reason = nullif($4::text, ''),"
    "      updated_at = now()"
    "  FROM w0, mark"
    "  WHERE w.id = w0.id AND w0.cancel_requested_at IS NULL"
    "    AND w0.state IN ('idle', 'stalled', 'running')"
    "  RETURNING w.id, w0.state AS prev),"
    " ins AS ("
    "  INSERT INTO " LOG " (workflow_id, step_name, state, attempts, metadata,"
    "                       started_at, last_executed_at, completed_at)"
    "  SELECT upd.id, '$workflow_cancel$' || $2::bigint, 'completed', 1,"
    "         jsonb_strip_nulls(jsonb_build_object("
    "           'previous_state', upd.prev,"
    "           'requested_at', to_char(to_timestamp($2::bigint / 1000.0) AT TIME ZONE 'UTC',"
    "                                   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    "           'requested_by', $3::text,"
    "           'reason', nullif($4::text, ''))),"
    "         now(), now(), now()"
    "  FROM upd"
    "  ON CONFLICT (workflow_id, step_name) DO NOTHING"
    "  RETURNING 1)"
    " SELECT w0.id, w.job_class, w.key, w.queue, w0.state,"
    "        EXISTS (SELECT 1 FROM done WHERE done.id = w0.id), upd.prev"
    " FROM w0 JOIN " WF " w ON w.id = w0.id"
    " LEFT JOIN upd ON upd.id = w0.id"
    " ORDER BY w0.id";

/* `requeue --cleanup` (the one requeue a cancelled workflow accepts), in one statement: $1 class,
 * $2 key, $3 requested_at (Unix ms: names the `$workflow_retry$<ms>` row), $4 requested_by,
 * $5 reason. Guarantees: the row is locked before it is judged; only a cancelled row that carries
 * its cancel request changes: cancelling and due now, so its on_cancel pass runs again (healed
 * like idle), with fresh budgets for its failed on_cancel steps (their "retry_counts" removed;
 * attempt numbers keep counting) and the `$workflow_retry$<ms>` row (metadata: previous_state,
 * cleanup, requested_at, requested_by, reason) in the same transaction. Returns id, class, key,
 * queue, the state before, and whether this call changed it. */
static const char sql_requeue_cleanup[] =
    "WITH w0 AS ("
    "  SELECT w.id, w.state, w.cancel_requested_at FROM " WF " w"
    "  WHERE w.job_class = $1 AND w.key = $2"
    "  FOR UPDATE),"
    " upd AS ("
    "  UPDATE " WF " AS w"
    "  SET state = 'cancelling', next_wake_at = now(), completed_at = NULL, updated_at = now()"
    "  FROM w0"
    "  WHERE w.id = w0.id AND w0.state = 'cancelled' AND w0.cancel_requested_at IS NOT NULL"
    "  RETURNING w.id),"
    " rst AS ("
    "  UPDATE " LOG " AS l"
    "  SET metadata = l.metadata - 'retry_counts', updated_at = now()"
    "  FROM upd"
    "  WHERE l.workflow_id = upd.id AND l.state = 'failed'"
    "    AND l.step_name LIKE 'on\\_cancel$%' AND l.metadata ? 'retry_counts'),"
    " ins AS ("
    "  INSERT INTO " LOG " (workflow_id, step_name, state, attempts, metadata,"
    "                       started_at, last_executed_at, completed_at)"
    "  SELECT upd.id, '$workflow_retry$' || $3::bigint, 'completed', 1,"
    "         jsonb_strip_nulls(jsonb_build_object("
    "           'previous_state', 'cancelled',"
    "           'cleanup', true,"
    "           'requested_at', to_char(to_timestamp($3::bigint / 1000.0) AT TIME ZONE 'UTC',"
    "                                   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    "           'requested_by', $4::text,"
    "           'reason', nullif($5::text, ''))),"
    "         now(), now(), now()"
    "  FROM upd"
    "  ON CONFLICT (workflow_id, step_name) DO NOTHING"
    "  RETURNING 1)"
    " SELECT w.id, w.job_class, w.key, w.queue, w0.state, EXISTS (SELECT 1 FROM upd)"
    " FROM w0 JOIN " WF " w ON w.id = w0.id";

/* The workflows a bulk cancel selects, one page: $1 state (idle, stalled or running), $2 class
 * (NULL: any), $3 age in ms (0: any; else updated_at, when it entered that state, is older than
 * now - $3), after id $4, at most $5 rows, without a cancel request yet. Guarantees: keyset pages
 * over the partial (state, id) index (the clause repeats its predicate), so each call reads a
 * bounded page and none is seen twice. Read-only. */
static const char sql_cancellable[] =
    "SELECT " REF_COLS
    " FROM " WF " w"
    " WHERE w.state = $1 AND w.state <> 'completed' AND w.id > $4::bigint"
    "   AND w.cancel_requested_at IS NULL"
    "   AND ($2::text IS NULL OR w.job_class = $2)"
    "   AND ($3::bigint <= 0 OR w.updated_at < now() - $3::bigint * interval '1 millisecond')"
    " ORDER BY w.id LIMIT $5";
// clang-format on

/* ---- Branches (store/branches.c) ---- */

// clang-format off
/* One branch row of a workflow: $1 workflow id, $2 branch name. Returns state, spawned,
 * remaining (SPEC §3). */
static const char sql_branch_get[] =
    "SELECT b.state, b.spawned, b.remaining"
    " FROM " BR " b"
    " WHERE b.workflow_id = $1 AND b.name = $2";

/* A branch's children counted by state ($1 parent id, $2 branch name), over the partial
 * (parent_id, branch, state) index. */
static const char sql_branch_counts[] =
    "SELECT c.state, count(*)"
    " FROM " WF " c"
    " WHERE c.parent_id = $1 AND c.branch = $2"
    " GROUP BY c.state";

/* Every branch row of a workflow ($1 id), by name: name, state, spawned, remaining. */
static const char sql_branches_of[] =
    "SELECT b.name, b.state, b.spawned, b.remaining"
    " FROM " BR " b"
    " WHERE b.workflow_id = $1"
    " ORDER BY b.name";

/* The children of a workflow ($1 parent id), keyset pages after id $2, at most $3 rows, in id
 * order: the workflow columns. */
static const char sql_children_of[] =
    "SELECT " WF_COLS("c")
    " FROM " WF " c"
    " WHERE c.parent_id = $1 AND c.id > $2"
    " ORDER BY c.id LIMIT $3";
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
    [CF_SQL_SWEEP_OVERDUE] = {"cf_sweep_overdue", sql_sweep_overdue, 3},
    [CF_SQL_SWEEP_RUNNING] = {"cf_sweep_running", sql_sweep_running, 3},
    [CF_SQL_REQUEUE] = {"cf_requeue", sql_requeue, 6},
    [CF_SQL_CLEANUP] = {"cf_cleanup", sql_cleanup, 3},
    [CF_SQL_CLEANUP_COUNT] = {"cf_cleanup_count", sql_cleanup_count, 2},
    [CF_SQL_RESUMABLE] = {"cf_resumable", sql_resumable, 6},
    [CF_SQL_BATCH_SESSION] = {"cf_batch_session", sql_batch_session, 2},
    [CF_SQL_END_BATCH] = {"cf_end_batch", sql_end_batch, 1},
    [CF_SQL_SCHEDULE_UPSERT] = {"cf_schedule_upsert", sql_schedule_upsert, 11},
    [CF_SQL_SCHEDULE_GET] = {"cf_schedule_get", sql_schedule_get, 1},
    [CF_SQL_SCHEDULE_LIST] = {"cf_schedule_list", sql_schedule_list, 0},
    [CF_SQL_SCHEDULE_PAUSE] = {"cf_schedule_pause", sql_schedule_pause, 4},
    [CF_SQL_SCHEDULE_REMOVE] = {"cf_schedule_remove", sql_schedule_remove, 1},
    [CF_SQL_SCHEDULES_DUE] = {"cf_schedules_due", sql_schedules_due, 2},
    [CF_SQL_SCHEDULE_FIRE] = {"cf_schedule_fire", sql_schedule_fire, 6},
    [CF_SQL_QUEUE_PAUSE] = {"cf_queue_pause", sql_queue_pause, 3},
    [CF_SQL_QUEUE_FLAGS] = {"cf_queue_flags", sql_queue_flags, 0},
    [CF_SQL_CANCEL_IDS] = {"cf_cancel_ids", sql_cancel_ids, 4},
    [CF_SQL_REQUEUE_CLEANUP] = {"cf_requeue_cleanup", sql_requeue_cleanup, 5},
    [CF_SQL_CANCELLABLE] = {"cf_cancellable", sql_cancellable, 5},
    [CF_SQL_DASH_LIST_ID] = {"cf_dash_list_id", sql_dash_list_id, 10},
    [CF_SQL_DASH_LIST_STATE] = {"cf_dash_list_state", sql_dash_list_state, 10},
    [CF_SQL_DASH_LIST_CLASS] = {"cf_dash_list_class", sql_dash_list_class, 10},
    [CF_SQL_DASH_COUNTS] = {"cf_dash_counts", sql_dash_counts, 0},
    [CF_SQL_DASH_COUNT_STATE] = {"cf_dash_count_state", sql_dash_count_state, 2},
    [CF_SQL_DASH_ESTIMATE] = {"cf_dash_estimate", sql_dash_estimate, 0},
    [CF_SQL_DASH_COMPLETED] = {"cf_dash_completed", sql_dash_completed, 0},
    [CF_SQL_DASH_THROUGHPUT] = {"cf_dash_throughput", sql_dash_throughput, 1},
    [CF_SQL_BRANCH_GET] = {"cf_branch_get", sql_branch_get, 2},
    [CF_SQL_BRANCH_COUNTS] = {"cf_branch_counts", sql_branch_counts, 2},
    [CF_SQL_BRANCHES_OF] = {"cf_branches_of", sql_branches_of, 1},
    [CF_SQL_CHILDREN_OF] = {"cf_children_of", sql_children_of, 3},
};
