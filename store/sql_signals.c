// SPDX-License-Identifier: MIT
/* store/sql_signals.c: the statements of signals (store/signals.c) and of the control
 * requests' answers (store/control_log.c) (store/sql.h names the parameters and columns of
 * each; the table is in store/sql.c). */
#include "store/sql_text.h"

/* clang-format would pack the SQL into a right-hand column of string fragments. */
// clang-format off

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
const char cf_sql_signal_send[] =
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
const char cf_sql_signal_next[] =
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
const char cf_sql_signal_recheck[] =
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
const char cf_sql_signal_heal[] =
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
const char cf_sql_control_seen[] =
    "SELECT c.outcome, coalesce(c.code, ''), coalesce(c.reason, '')"
    " FROM " CTL " c"
    " WHERE c.request_id = $1";

/* Records the answer to control request $1 ($2 op, $3 class, $4 key, $5 outcome, $6 code,
 * $7 reason); the first answer stays (a request answered twice keeps its first answer).
 * Returns the stored answer. */
const char cf_sql_control_record[] =
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
