// SPDX-License-Identifier: MIT
/* store/sql_dashboard.c: the dashboard's statements (docs/indexes.md, "Dashboard") (store/sql.h
 * names the parameters and columns of each; the table is in store/sql.c). */
#include "store/sql_text.h"

/* clang-format would pack the SQL into a right-hand column of string fragments. */
// clang-format off

/* ---- The dashboard (store/dashboard.c; docs/indexes.md "Dashboard") ----
 * Lists are newest first and page by keyset. Each statement reads one chunk of at most $10
 * rows through one index backwards (the primary key, `not_completed` or `class_id`; the LIMIT
 * makes that the plan whatever the filters), then applies the other filters to the chunk and
 * returns at most $9 matches (a sort of at most $10 rows), each row followed by the chunk's
 * size and lowest id: store/dashboard.c goes on from there when the chunk matched too few. A
 * chunk without a match still returns one row, its workflow columns NULL.
 * $1 state, $2 below this id, $3 class, $4 key prefix, $5/$6 created at or after / before
 * (Unix ms), $7 the last error's class (or one under it), $8 what an idle workflow waits for
 * (signal: a pending await_signal step; merge: a pending merge step; else timer, retry or
 * continue_if by its wake and retry budget), $9 matches wanted, $10 chunk size. NULL: no
 * filter. A pending step is one probe of the (workflow_id, step_name) index per chunk row. */
#define DASH_PENDING(prefix)                                                                \
    "EXISTS (SELECT 1 FROM " LOG " l WHERE l.workflow_id = w.id"                            \
    " AND l.step_name LIKE '" prefix "%' AND l.state = 'pending')"
#define DASH_AWAITS "(" DASH_PENDING("await\\_signal$") " OR " DASH_PENDING("merge$") ")"
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
    "      OR ($8 = 'signal' AND w.state = 'idle' AND " DASH_PENDING("await\\_signal$") ")" \
    "      OR ($8 = 'merge' AND w.state = 'idle' AND " DASH_PENDING("merge$") ")"            \
    "      OR ($8 = 'timer' AND w.state = 'idle' AND w.next_wake_at IS NOT NULL"            \
    "          AND w.retry_counts = '{}'::jsonb AND NOT " DASH_AWAITS ")"                   \
    "      OR ($8 = 'retry' AND w.state = 'idle' AND w.next_wake_at IS NOT NULL"            \
    "          AND w.retry_counts <> '{}'::jsonb)"                                          \
    "      OR ($8 = 'continue_if' AND w.state = 'idle' AND w.next_wake_at IS NULL"          \
    "          AND NOT " DASH_AWAITS "))"                                                   \
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
const char cf_sql_dash_list_id[] =
    "WITH chunk AS MATERIALIZED ("
    "  SELECT w.* FROM " WF " w"
    "  WHERE w.id < $2::bigint"
    "  ORDER BY w.id DESC LIMIT $10)"
    DASH_MATCHES;

/* A state other than completed, through `not_completed` backwards (the clause repeats the
 * partial index's predicate so that a generic plan can use it). */
const char cf_sql_dash_list_state[] =
    "WITH chunk AS MATERIALIZED ("
    "  SELECT w.* FROM " WF " w"
    "  WHERE w.state = $1 AND w.state <> 'completed' AND w.id < $2::bigint"
    "  ORDER BY w.state DESC, w.id DESC LIMIT $10)"
    DASH_MATCHES;

/* A class (and any state), through `class_id` backwards. */
const char cf_sql_dash_list_class[] =
    "WITH chunk AS MATERIALIZED ("
    "  SELECT w.* FROM " WF " w"
    "  WHERE w.job_class = $3 AND w.state IS NOT NULL AND w.id < $2::bigint"
    "  ORDER BY w.job_class DESC, w.id DESC LIMIT $10)"
    DASH_MATCHES;

/* Workflows not completed, by state and queue, read from `not_completed` only; run only while
 * they are few (store/dashboard.c). */
const char cf_sql_dash_counts[] =
    "SELECT w.state, w.queue, count(*)"
    " FROM " WF " w"
    " WHERE w.state <> 'completed'"
    " GROUP BY w.state, w.queue";

/* How many workflows are in one state other than completed, counting at most $2 of them (an
 * index-only read of `not_completed`: bounded work however many there are). */
const char cf_sql_dash_count_state[] =
    "SELECT count(*) FROM ("
    "  SELECT 1 FROM " WF " w"
    "  WHERE w.state = $1 AND w.state <> 'completed'"
    "  LIMIT $2) c";

/* The planner's estimate of the table's rows (-1: never analysed); no scan. */
const char cf_sql_dash_estimate[] =
    "SELECT c.reltuples::bigint FROM pg_class c"
    " WHERE c.oid = '" WF "'::regclass";

/* The exact completed count: a scan; the dashboard runs it only below its size limit. */
const char cf_sql_dash_completed[] =
    "SELECT count(*) FROM " WF " w WHERE w.state = 'completed'";

/* Completions per minute in this minute and the 59 before it, among the newest $1 workflows
 * (the primary key backwards: bounded work, no index on completed_at; docs/indexes.md). */
const char cf_sql_dash_throughput[] =
    "SELECT " MS("date_trunc('minute', r.completed_at)") ", count(*)"
    " FROM (SELECT w.state, w.completed_at FROM " WF " w"
    "       ORDER BY w.id DESC LIMIT $1) r"
    " WHERE r.state = 'completed'"
    "   AND r.completed_at >= date_trunc('minute', now()) - interval '59 minutes'"
    " GROUP BY 1 ORDER BY 1";
// clang-format on
// clang-format on
