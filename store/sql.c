// SPDX-License-Identifier: MIT
/* store/sql.c: the text of every statement the store prepares (see store/sql.h for the
 * parameters and column positions), laid out as SQL, one clause per line, each with what it
 * guarantees. Write statements are single statements built from CTEs so that a stale fence
 * writes nothing and needs no savepoint. Every value is a parameter ($n); the only text spliced
 * in is the fixed table names and column lists below. */
#include "store/sql.h"

/* clang-format would pack the SQL into a right-hand column of string fragments. */
// clang-format off

#include "store/sql_text.h"

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
    "        SELECT w.pid, w.pbr, 0, (" BRANCH_FINISHED ")::int,"                          \
    "               false, false, " BRANCH_TROUBLED ", w.i"                               \
    "        FROM w"                                                                      \
    "        WHERE w.pid IS NOT NULL"                                                     \
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
#define WRITE_SETS_CORE \
    "WITH r AS ("                                                                                  \
    "  SELECT * FROM jsonb_to_recordset($1::jsonb)"                                                \
    "    AS r(i int, id bigint, f bigint, ctx jsonb, o text, wk bigint, a int, rc jsonb,"          \
    "         st jsonb, er jsonb, lz bool, lf bigint, c text, k text, q text, kw jsonb,"           \
    "         op jsonb, l text, rp jsonb, br jsonb, sg jsonb)),"                                   \
    " wu AS ("                                                                                     \
    "  UPDATE " WF " AS w"                                                                         \
    "  SET context = coalesce(r.ctx, w.context),"                                                  \
    "      state = " CX_STATE ","                                                                  \
    "      fence = CASE WHEN r.lz THEN w.fence + 1 ELSE w.fence END,"                              \
    "      locked_by = CASE WHEN r.o = 'continue' THEN coalesce(r.l, w.locked_by) END,"            \
    "      locked_at = CASE WHEN r.o = 'continue' AND r.lz THEN now()"                             \
    "                       WHEN r.o = 'continue' THEN w.locked_at END,"                           \
    "      started_at = coalesce(w.started_at, now()),"                                            \
    "      crash_count = CASE WHEN r.o = 'continue' THEN w.crash_count ELSE 0 END,"                \
    "      next_wake_at = " CX_WAKE ","                                                            \
    "      completed_at = CASE WHEN r.o IN ('complete', 'cancelled') THEN now()"                   \
    "                          ELSE w.completed_at END,"                                           \
    "      attempt = CASE WHEN r.a >= 0 THEN r.a ELSE w.attempt END,"                              \
    "      retry_counts = coalesce(r.rc, w.retry_counts),"                                         \
    "      write_token = $2,"                                                                      \
    "      updated_at = now()"                                                                     \
    "  FROM r"                                                                                     \
    "  WHERE w.id = r.id"                                                                          \
    "    AND CASE WHEN r.lz THEN w.fence = r.lf AND w.state IN ('idle', 'cancelling')"             \
    "                            AND w.locked_by IS NULL"                                          \
    "             ELSE w.fence = r.f AND w.state = 'running' END"                                  \
    "  RETURNING w.id, w.fence, w.context, r.i, r.o, r.st, r.er,"                                  \
    "            w.cancel_requested_at IS NOT NULL AS cx, w.parent_id AS pid, w.branch AS pbr),"   \
    " wi AS ("                                                                                     \
    "  INSERT INTO " WF " AS w (job_class, key, queue, kwargs, options, context, state, fence,"    \
    "                           locked_by, locked_at, started_at, completed_at, next_wake_at,"     \
    "                           attempt, retry_counts, write_token)"                               \
    "  SELECT r.c, r.k, coalesce(r.q, 'default'), coalesce(r.kw, '{}'), coalesce(r.op, '{}'),"     \
    "         coalesce(r.ctx, '{}'), " WS_STATE ", 1,"                                             \
    "         CASE WHEN r.o = 'continue' THEN r.l END,"                                            \
    "         CASE WHEN r.o = 'continue' THEN now() END,"                                          \
    "         now(), CASE WHEN r.o = 'complete' THEN now() END, " WS_WAKE ","                      \
    "         greatest(r.a, 0), coalesce(r.rc, '{}'), $2"                                          \
    "  FROM r"                                                                                     \
    "  WHERE r.lz AND r.lf = 0"                                                                    \
    "  ORDER BY r.i"                                                                               \
    "  ON CONFLICT (job_class, key) DO UPDATE"                                                     \
    "  SET queue = excluded.queue,"                                                                \
    "      kwargs = excluded.kwargs,"                                                              \
    "      options = excluded.options,"                                                            \
    "      context = excluded.context,"                                                            \
    "      state = excluded.state,"                                                                \
    "      fence = 1,"                                                                             \
    "      locked_by = excluded.locked_by,"                                                        \
    "      locked_at = excluded.locked_at,"                                                        \
    "      started_at = excluded.started_at,"                                                      \
    "      completed_at = excluded.completed_at,"                                                  \
    "      next_wake_at = excluded.next_wake_at,"                                                  \
    "      attempt = excluded.attempt,"                                                            \
    "      retry_counts = excluded.retry_counts,"                                                  \
    "      write_token = $2,"                                                                      \
    "      updated_at = now()"                                                                     \
    "  WHERE w.fence = 0 AND w.state = 'idle' AND w.locked_by IS NULL"                             \
    "  RETURNING w.id, w.fence, w.context, w.job_class, w.key, w.parent_id, w.branch),"                                   \
    " w AS ("                                                                                      \
    "  SELECT wu.id, wu.fence, wu.context, wu.i, wu.o, wu.st, wu.er, wu.cx, wu.pid, wu.pbr"        \
    "  FROM wu"                                                                                    \
    "  UNION ALL"                                                                                  \
    "  SELECT wi.id, wi.fence, wi.context, r.i, r.o, r.st, r.er, false, wi.parent_id, wi.branch"  \
    "  FROM wi JOIN r ON r.lz AND r.lf = 0 AND wi.job_class = r.c AND wi.key = r.k),"              \
    " s AS ("                                                                                      \
    "  INSERT INTO " LOG " AS l (workflow_id, step_name, state, attempts, metadata,"               \
    "                           started_at, last_executed_at, completed_at,"                       \
    "                           error_class, error_message)"                                       \
    "  SELECT w.id, x.name, x.state, x.attempts, x.metadata,"                                      \
    "         " TS("x.started_ms") ", " TS("x.last_ms") ", " TS("x.completed_ms") ","              \
    "         x.error_class, x.error_message"                                                      \
    "  FROM w, jsonb_to_recordset(w.st)"                                                           \
    "    AS x(name text, state text, attempts int, metadata jsonb, started_ms bigint,"             \
    "         last_ms bigint, completed_ms bigint, error_class text, error_message text)"          \
    "  ON CONFLICT (workflow_id, step_name) DO UPDATE"                                             \
    "  SET state = excluded.state,"                                                                \
    "      attempts = excluded.attempts,"                                                          \
    "      metadata = excluded.metadata,"                                                          \
    "      started_at = coalesce(excluded.started_at, l.started_at),"                              \
    "      last_executed_at = excluded.last_executed_at,"                                          \
    "      completed_at = excluded.completed_at,"                                                  \
    "      error_class = excluded.error_class,"                                                    \
    "      error_message = excluded.error_message,"                                                \
    "      updated_at = now()"                                                                     \
    "  RETURNING 1),"                                                                              \
    " e AS ("                                                                                      \
    "  INSERT INTO " ERR " (workflow_id, step_name, attempt, error_class, error_message,"          \
    "                      backtrace, context)"                                                    \
    "  SELECT w.id, x.step_name, x.attempt, x.error_class, x.message, x.backtrace,"                \
    "         coalesce(x.context, " STORED_SNAPSHOT ")"                                            \
    "  FROM w, jsonb_to_recordset(w.er)"                                                           \
    "    AS x(step_name text, attempt int, error_class text, message text, backtrace text,"        \
    "         context jsonb)"                                                                      \
    "  WHERE w.er IS NOT NULL"                                                                     \
    "  RETURNING id, workflow_id),"                                                                \
    " m AS ("                                                                                      \
    "  INSERT INTO " LOG " AS l (workflow_id, step_name, state, attempts, metadata,"               \
    "                           started_at, last_executed_at, completed_at)"                       \
    "  SELECT w.id,"                                                                               \
    "         CASE WHEN w.o = 'complete' THEN '$workflow_completion$'"                             \
    "              ELSE '$workflow_failure$'"                                                      \
    "                   || (SELECT max(e.id) FROM e WHERE e.workflow_id = w.id) END,"              \
    "         'completed', 1,"                                                                     \
    "         CASE WHEN w.o = 'fail' THEN jsonb_build_object('error_log_id',"                      \
    "              (SELECT max(e.id) FROM e WHERE e.workflow_id = w.id)) END,"                     \
    "         now(), now(), now()"                                                                 \
    "  FROM w"                                                                                     \
    "  WHERE w.o IN ('complete', 'fail')"                                                          \
    /* Data-modifying CTEs run in no promised order (Postgres runs unread ones last to             \
     * first); reading s here makes the steps' inserts, and their ids, come first. */              \
    "    AND (SELECT count(*) FROM s) >= 0"                                                        \
    "  ON CONFLICT (workflow_id, step_name) DO UPDATE"                                             \
    "  SET state = 'completed',"                                                                   \
    "      attempts = l.attempts + 1,"                                                             \
    "      last_executed_at = now(),"                                                              \
    "      completed_at = now(),"                                                                  \
    "      updated_at = now()"                                                                     \
    "  RETURNING 1),"

/* A repeat's old tick rows (rp), deleted with the write set (docs/SPEC.md §4). */
#define WRITE_SETS_PRUNE \
    " rp AS ("                                                                                     \
    "  DELETE FROM " LOG " AS l"                                                                   \
    "  WHERE l.id IN ("                                                                            \
    "    SELECT d.id"                                                                              \
    "    FROM w JOIN r ON r.i = w.i"                                                               \
    "    CROSS JOIN LATERAL ("                                                                     \
    "      SELECT x.id FROM " LOG " x"                                                             \
    "      WHERE x.workflow_id = w.id"                                                             \
    "        AND x.step_name >= r.rp->>'p'"                                                        \
    "        AND x.step_name < (r.rp->>'p') || (r.rp->>'b')"                                       \
    "        AND starts_with(x.step_name, r.rp->>'p')"                                             \
    "        AND CASE WHEN substr(x.step_name, length(r.rp->>'p') + 1) ~ '^[0-9]{1,18}$'"          \
    "                 THEN substr(x.step_name, length(r.rp->>'p') + 1)::bigint END"                \
    "            < (r.rp->>'b')::bigint"                                                           \
    "      ORDER BY x.step_name"                                                                   \
    "      LIMIT 1000) d"                                                                          \
    "    WHERE r.rp IS NOT NULL)"                                                                  \
    "  RETURNING 1),"


/* The awaits of a write set consume their signals (issue 13, sg: [{id, by}]): only for an
 * applied write set (joined to w) and only signals of its own workflow still unconsumed, so a
 * signal is consumed by one await, with its completion. */
#define WRITE_SETS_SIGNALS \
    " sgc AS ("                                                                                    \
    "  UPDATE " SIG " AS g"                                                                        \
    "  SET consumed_by = x.by, consumed_at = now()"                                                \
    "  FROM w JOIN r ON r.i = w.i, jsonb_to_recordset(r.sg) AS x(id bigint, by text)"              \
    "  WHERE r.sg IS NOT NULL AND g.id = x.id AND g.workflow_id = w.id"                            \
    "    AND g.consumed_by IS NULL"                                                                \
    "  RETURNING 1)"

static const char sql_write_sets[] =
    WRITE_SETS_CORE
    " wx AS (SELECT 1)"
    " SELECT w.i, w.id, w.fence, w.cx, NULL::text FROM w";

/* The same with the optional parts: a repeat's prune, the branch part (BRANCH_CTES) and the
 * signals an await consumes: the statement of a batch that holds any of them, or a write set of
 * a child workflow (a child's end lowers its branch's remaining). The other batches use
 * sql_write_sets, whose data-modifying CTEs are fewer: each such CTE costs its executor set-up
 * (the target table and its indexes opened) even when it writes nothing (docs/performance.md). */
static const char sql_write_sets_full[] =
    WRITE_SETS_CORE
    WRITE_SETS_PRUNE
    BRANCH_CTES ","
    WRITE_SETS_SIGNALS
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

const cf_sql_stmt cf_sql_stmts[CF_SQL_COUNT_] = {
    [CF_SQL_RUN_BEGINS] = {"cf_run_begins", sql_run_begins, 2},
    [CF_SQL_STEPS_OF_BEGINS] = {"cf_steps_of_begins", sql_steps_of_begins, 1},
    [CF_SQL_STEPS_BY_KEY] = {"cf_steps_by_key", sql_steps_by_key, 2},
    [CF_SQL_STEPS_BY_ID] = {"cf_steps_by_id", sql_steps_by_id, 1},
    [CF_SQL_STEPS_ALL_BY_ID] = {"cf_steps_all_by_id", sql_steps_all_by_id, 1},
    [CF_SQL_WRITE_SETS] = {"cf_write_sets", sql_write_sets, 2},
    [CF_SQL_WRITE_SETS_FULL] = {"cf_write_sets_full", sql_write_sets_full, 2},
    [CF_SQL_RUN_PEEKS] = {"cf_run_peeks", sql_run_peeks, 1},
    [CF_SQL_STEPS_OF_PEEKS] = {"cf_steps_of_peeks", sql_steps_of_peeks, 1},
    [CF_SQL_RESOLVE] = {"cf_resolve", sql_resolve, 2},
    [CF_SQL_END_BACKEND] = {"cf_end_backend", sql_end_backend, 2},
    [CF_SQL_WF_BY_CLASS_KEY] = {"cf_wf_by_class_key", sql_wf_by_class_key, 2},
    [CF_SQL_WF_BY_KEY] = {"cf_wf_by_key", sql_wf_by_key, 1},
    [CF_SQL_WF_BY_ID] = {"cf_wf_by_id", sql_wf_by_id, 1},
    [CF_SQL_WF_INSERT_IDLE] = {"cf_wf_insert_idle", sql_wf_insert_idle, 5},
    [CF_SQL_ERRORS_BY_ID] = {"cf_errors_by_id", sql_errors_by_id, 2},
    [CF_SQL_LIST_ALL] = {"cf_list_all", cf_sql_list_all, 2},
    [CF_SQL_LIST_STATE] = {"cf_list_state", cf_sql_list_state, 3},
    [CF_SQL_LIST_CLASS] = {"cf_list_class", cf_sql_list_class, 3},
    [CF_SQL_LIST_STATE_CLASS] = {"cf_list_state_class", cf_sql_list_state_class, 4},
    [CF_SQL_COUNTS_ALL] = {"cf_counts_all", cf_sql_counts_all, 0},
    [CF_SQL_COUNTS_CLASS] = {"cf_counts_class", cf_sql_counts_class, 1},
    [CF_SQL_SWEEP_OVERDUE] = {"cf_sweep_overdue", cf_sql_sweep_overdue, 3},
    [CF_SQL_SWEEP_RUNNING] = {"cf_sweep_running", cf_sql_sweep_running, 3},
    [CF_SQL_REQUEUE] = {"cf_requeue", cf_sql_requeue, 6},
    [CF_SQL_CLEANUP] = {"cf_cleanup", cf_sql_cleanup, 3},
    [CF_SQL_CLEANUP_COUNT] = {"cf_cleanup_count", cf_sql_cleanup_count, 2},
    [CF_SQL_RESUMABLE] = {"cf_resumable", cf_sql_resumable, 6},
    [CF_SQL_BATCH_SESSION] = {"cf_batch_session", sql_batch_session, 2},
    [CF_SQL_END_BATCH] = {"cf_end_batch", sql_end_batch, 1},
    [CF_SQL_SCHEDULE_UPSERT] = {"cf_schedule_upsert", cf_sql_schedule_upsert, 11},
    [CF_SQL_SCHEDULE_GET] = {"cf_schedule_get", cf_sql_schedule_get, 1},
    [CF_SQL_SCHEDULE_LIST] = {"cf_schedule_list", cf_sql_schedule_list, 0},
    [CF_SQL_SCHEDULE_PAUSE] = {"cf_schedule_pause", cf_sql_schedule_pause, 4},
    [CF_SQL_SCHEDULE_REMOVE] = {"cf_schedule_remove", cf_sql_schedule_remove, 1},
    [CF_SQL_SCHEDULES_DUE] = {"cf_schedules_due", cf_sql_schedules_due, 2},
    [CF_SQL_SCHEDULE_FIRE] = {"cf_schedule_fire", cf_sql_schedule_fire, 6},
    [CF_SQL_QUEUE_PAUSE] = {"cf_queue_pause", cf_sql_queue_pause, 3},
    [CF_SQL_QUEUE_FLAGS] = {"cf_queue_flags", cf_sql_queue_flags, 0},
    [CF_SQL_CANCEL_IDS] = {"cf_cancel_ids", cf_sql_cancel_ids, 4},
    [CF_SQL_REQUEUE_CLEANUP] = {"cf_requeue_cleanup", cf_sql_requeue_cleanup, 5},
    [CF_SQL_CANCELLABLE] = {"cf_cancellable", cf_sql_cancellable, 5},
    [CF_SQL_DASH_LIST_ID] = {"cf_dash_list_id", cf_sql_dash_list_id, 10},
    [CF_SQL_DASH_LIST_STATE] = {"cf_dash_list_state", cf_sql_dash_list_state, 10},
    [CF_SQL_DASH_LIST_CLASS] = {"cf_dash_list_class", cf_sql_dash_list_class, 10},
    [CF_SQL_DASH_COUNTS] = {"cf_dash_counts", cf_sql_dash_counts, 0},
    [CF_SQL_DASH_COUNT_STATE] = {"cf_dash_count_state", cf_sql_dash_count_state, 2},
    [CF_SQL_DASH_ESTIMATE] = {"cf_dash_estimate", cf_sql_dash_estimate, 0},
    [CF_SQL_DASH_COMPLETED] = {"cf_dash_completed", cf_sql_dash_completed, 0},
    [CF_SQL_DASH_THROUGHPUT] = {"cf_dash_throughput", cf_sql_dash_throughput, 1},
    [CF_SQL_BRANCH_GET] = {"cf_branch_get", cf_sql_branch_get, 2},
    [CF_SQL_BRANCH_COUNTS] = {"cf_branch_counts", cf_sql_branch_counts, 2},
    [CF_SQL_BRANCHES_OF] = {"cf_branches_of", cf_sql_branches_of, 1},
    [CF_SQL_CHILDREN_OF] = {"cf_children_of", cf_sql_children_of, 3},
    [CF_SQL_SIGNAL_SEND] = {"cf_signal_send", cf_sql_signal_send, 6},
    [CF_SQL_SIGNAL_NEXT] = {"cf_signal_next", cf_sql_signal_next, 3},
    [CF_SQL_SIGNAL_RECHECK] = {"cf_signal_recheck", cf_sql_signal_recheck, 2},
    [CF_SQL_SIGNAL_HEAL] = {"cf_signal_heal", cf_sql_signal_heal, 2},
    [CF_SQL_CONTROL_SEEN] = {"cf_control_seen", cf_sql_control_seen, 1},
    [CF_SQL_CONTROL_RECORD] = {"cf_control_record", cf_sql_control_record, 7},
};
