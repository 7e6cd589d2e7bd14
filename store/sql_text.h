// SPDX-License-Identifier: MIT
/* store/sql_text.h: what the SQL texts of the store share (internal to store/): the table names,
 * the column lists store/rows.c parses, the conversions between timestamps and Unix ms; and
 * the texts kept in store/sql_*.c files, which store/sql.c's statement table names. Every text
 * is a constant array, which C only lets a string literal initialise. */
#ifndef CF_STORE_SQL_TEXT_H
#define CF_STORE_SQL_TEXT_H

#include "store/sql.h"

// clang-format off
#define WF  "chrono_forge_workflows"
#define LOG "chrono_forge_execution_logs"
#define ERR "chrono_forge_error_logs"
#define BR  "chrono_forge_branches"
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
    MS(a ".updated_at") ", " MS(a ".locked_at") ", " MS(a ".next_wake_at") ", "             \
    MS(a ".cancel_requested_at") ", " a ".cancel_requested_by, " a ".cancel_reason, "     \
    "coalesce(" a ".parent_id, 0)"

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
// clang-format on

extern const char cf_sql_list_all[];
extern const char cf_sql_list_state[];
extern const char cf_sql_list_class[];
extern const char cf_sql_list_state_class[];
extern const char cf_sql_counts_all[];
extern const char cf_sql_counts_class[];
extern const char cf_sql_sweep_overdue[];
extern const char cf_sql_sweep_running[];
extern const char cf_sql_requeue[];
extern const char cf_sql_resumable[];
extern const char cf_sql_cleanup[];
extern const char cf_sql_cleanup_count[];
extern const char cf_sql_cancel_ids[];
extern const char cf_sql_requeue_cleanup[];
extern const char cf_sql_cancellable[];
extern const char cf_sql_dash_list_id[];
extern const char cf_sql_dash_list_state[];
extern const char cf_sql_dash_list_class[];
extern const char cf_sql_dash_counts[];
extern const char cf_sql_dash_count_state[];
extern const char cf_sql_dash_estimate[];
extern const char cf_sql_dash_completed[];
extern const char cf_sql_dash_throughput[];
extern const char cf_sql_schedule_upsert[];
extern const char cf_sql_schedule_get[];
extern const char cf_sql_schedule_list[];
extern const char cf_sql_schedule_pause[];
extern const char cf_sql_schedule_remove[];
extern const char cf_sql_schedules_due[];
extern const char cf_sql_schedule_fire[];
extern const char cf_sql_queue_pause[];
extern const char cf_sql_queue_flags[];
extern const char cf_sql_branch_get[];
extern const char cf_sql_branch_counts[];
extern const char cf_sql_branches_of[];
extern const char cf_sql_children_of[];

extern const char cf_sql_signal_send[];
extern const char cf_sql_signal_next[];
extern const char cf_sql_signal_recheck[];
extern const char cf_sql_signal_heal[];
extern const char cf_sql_control_seen[];
extern const char cf_sql_control_record[];

#endif
