// SPDX-License-Identifier: MIT
/* store/sql_schedules.c: the statements of schedules and of the queue pause flags (store/sql.h
 * names the parameters and columns of each; the table is in store/sql.c). */
#include "store/sql_text.h"

/* clang-format would pack the SQL into a right-hand column of string fragments. */
// clang-format off

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
const char cf_sql_schedule_upsert[] =
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

const char cf_sql_schedule_get[] =
    "SELECT " SCHED_COLS
    " FROM " SCHED " s"
    " WHERE s.name = $1";

const char cf_sql_schedule_list[] =
    "SELECT " SCHED_COLS
    " FROM " SCHED " s"
    " ORDER BY s.name";

/* Pauses ($2 true) or resumes ($2 false) a schedule. A resume sets the next fire to $3 (the
 * first tick after now), so ticks that passed while paused never fire. */
const char cf_sql_schedule_pause[] =
    "UPDATE " SCHED " s"
    " SET paused = $2::boolean,"
    "     next_fire_at = CASE WHEN $2::boolean THEN s.next_fire_at"
    "                         ELSE " TS("$3::bigint") " END,"
    "     updated_at = now(), updated_by = $4"
    " WHERE s.name = $1"
    " RETURNING " SCHED_COLS;

const char cf_sql_schedule_remove[] =
    "DELETE FROM " SCHED " s"
    " WHERE s.name = $1"
    " RETURNING s.name";

/* The schedules due at $1 (Unix ms), earliest first: the one query a worker's tick makes, on
 * the partial index over unpaused schedules' next fire. */
const char cf_sql_schedules_due[] =
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
const char cf_sql_schedule_fire[] =
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
const char cf_sql_queue_pause[] =
    "INSERT INTO chrono_forge_queues AS q (name, paused, paused_at, paused_by, updated_at)"
    " VALUES ($1, $2::boolean, CASE WHEN $2::boolean THEN now() END,"
    "         CASE WHEN $2::boolean THEN $3 END, now())"
    " ON CONFLICT (name) DO UPDATE"
    "  SET paused = EXCLUDED.paused, paused_at = EXCLUDED.paused_at,"
    "      paused_by = EXCLUDED.paused_by, updated_at = now()"
    " RETURNING q.name";

/* Every queue's flag (few rows: one per queue ever paused). */
const char cf_sql_queue_flags[] =
    "SELECT q.name, q.paused, " MS("q.paused_at") ", coalesce(q.paused_by, '')"
    " FROM chrono_forge_queues q"
    " ORDER BY q.name";
// clang-format on
