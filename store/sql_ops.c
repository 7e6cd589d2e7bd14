// SPDX-License-Identifier: MIT
/* store/sql_ops.c: the statements of the operator commands and the healing pass: listing and
 * counting, the sweeper, requeues, retention and cancellation (store/sql.h names the parameters and
 * columns of each; the table is in store/sql.c). */
#include "store/sql_text.h"

/* clang-format would pack the SQL into a right-hand column of string fragments. */
// clang-format off

/* ---- Listing and counting ----
 * One statement per filter combination so that each has an index with a generic plan: the
 * primary key, the partial (state, id) index, or the partial (job_class, id) index, whose predicate
 * `state IS NOT NULL` (true of every row) keeps it out of the (class, key) lookups of the run
 * path, where an empty table's tie would otherwise make the planner pick it over the unique
 * (key, job_class) index. Keyset paging: rows after id $n, in id order. */
const char cf_sql_list_all[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.id > $1"
    " ORDER BY w.id LIMIT $2";

/* By state: the partial (state, id) index holds every state but completed, and a generic
 * plan can only use it when the clause repeats its predicate; completed rows, the bulk, are
 * read in primary-key order (the branch is skipped unless $1 is 'completed'). */
const char cf_sql_list_state[] =
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

const char cf_sql_list_class[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.job_class = $1 AND w.state IS NOT NULL AND w.id > $2"
    " ORDER BY w.id LIMIT $3";

const char cf_sql_list_state_class[] =
    "SELECT " WF_COLS("w")
    " FROM " WF " w"
    " WHERE w.state = $1 AND w.job_class = $2 AND w.id > $3"
    " ORDER BY w.id LIMIT $4";

const char cf_sql_counts_all[] =
    "SELECT state, count(*) FROM " WF " GROUP BY state";

const char cf_sql_counts_class[] =
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
const char cf_sql_sweep_overdue[] =
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
const char cf_sql_sweep_running[] =
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
const char cf_sql_requeue[] =
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
const char cf_sql_resumable[] =
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
const char cf_sql_cleanup[] =
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
const char cf_sql_cleanup_count[] =
    "SELECT count(*) FROM " WF " w WHERE" CLEANUP_MATCH;
// clang-format on

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
const char cf_sql_cancel_ids[] =
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
const char cf_sql_requeue_cleanup[] =
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
const char cf_sql_cancellable[] =
    "SELECT " REF_COLS
    " FROM " WF " w"
    " WHERE w.state = $1 AND w.state <> 'completed' AND w.id > $4::bigint"
    "   AND w.cancel_requested_at IS NULL"
    "   AND ($2::text IS NULL OR w.job_class = $2)"
    "   AND ($3::bigint <= 0 OR w.updated_at < now() - $3::bigint * interval '1 millisecond')"
    " ORDER BY w.id LIMIT $5";
// clang-format on
// clang-format on
