// SPDX-License-Identifier: MIT
/* store/sql.h: the statements the store prepares on each of its connections (internal to
 * store/). Every text is a constant in store/sql.c and every value travels as a parameter. The
 * column lists that store/rows.c parses are fixed here, by position. */
#ifndef CF_STORE_SQL_H
#define CF_STORE_SQL_H

typedef enum cf_sql_id {
    CF_SQL_RUN_BEGINS,       /* begins jsonb [{i,c,k,q,kw,op,l,me,cr}], token (store/sql.c) */
    CF_SQL_STEPS_OF_BEGINS,  /* the same begins jsonb: i, then the step columns */
    CF_SQL_STEPS_BY_KEY,     /* class, key: steps without repetition rows (cf_store_run_begin) */
    CF_SQL_STEPS_BY_ID,      /* workflow_id: steps without repetition rows */
    CF_SQL_STEPS_ALL_BY_ID,  /* workflow_id: every step row */
    CF_SQL_WRITE_SETS,       /* write sets jsonb [{i,id,f,ctx,o,wk,a,rc,st,er,lz,lf,c,k,q,kw,op,l,
                                rp,br,sg}]: i, id, fence, cx, the parent to wake (JSON or NULL) */
    CF_SQL_WRITE_SETS_FULL,  /* the same with prune, branch and signal parts (store/sql.c) */
    CF_SQL_RUN_PEEKS,        /* reads jsonb [{i,c,k}]: workflow columns, then i */
    CF_SQL_STEPS_OF_PEEKS,   /* the same reads: i, then the step columns */
    CF_SQL_RESOLVE,          /* token, refs jsonb [{"id":..}|{"c":..,"k":..}] */
    CF_SQL_END_BACKEND,      /* pid, application_name: a row while that backend lives */
    CF_SQL_WF_BY_CLASS_KEY,  /* class, key */
    CF_SQL_WF_BY_KEY,        /* key (any class; at most 2 rows) */
    CF_SQL_WF_BY_ID,         /* id */
    CF_SQL_WF_INSERT_IDLE,   /* class, key, queue, kwargs, options */
    CF_SQL_ERRORS_BY_ID,     /* workflow_id, limit */
    CF_SQL_LIST_ALL,         /* after_id, limit */
    CF_SQL_LIST_STATE,       /* state, after_id, limit */
    CF_SQL_LIST_CLASS,       /* class, after_id, limit */
    CF_SQL_LIST_STATE_CLASS, /* state, class, after_id, limit */
    CF_SQL_COUNTS_ALL,       /* (none) */
    CF_SQL_COUNTS_CLASS,     /* class */
    CF_SQL_SWEEP_OVERDUE,    /* grace_ms, limit, skipped queues text[] */
    CF_SQL_SWEEP_RUNNING,    /* after_id, limit, skipped queues text[] */
    CF_SQL_REQUEUE,          /* class, key, ms, by, reason, job_id (store/requeue.c) */
    CF_SQL_RESUMABLE,        /* state, class, error class, older ms, after_id, limit */
    CF_SQL_CLEANUP,          /* finished before ms, states text[], limit (store/retention.c) */
    CF_SQL_CLEANUP_COUNT,    /* finished before ms, states text[] */
    CF_SQL_BATCH_SESSION,    /* batch name, statement_timeout ms: a batch's local settings */
    CF_SQL_END_BATCH,        /* batch name: a row while a backend runs that batch */
    CF_SQL_SCHEDULE_UPSERT,  /* name, class, queue, cron, every_ms, tz, kwargs, key_template,
                                overlap, next_fire_ms, by (store/schedules.c) */
    CF_SQL_SCHEDULE_GET,     /* name */
    CF_SQL_SCHEDULE_LIST,    /* (none) */
    CF_SQL_SCHEDULE_PAUSE,   /* name, paused, next_fire_ms (resume), by */
    CF_SQL_SCHEDULE_REMOVE,  /* name */
    CF_SQL_SCHEDULES_DUE,    /* now_ms, limit */
    CF_SQL_SCHEDULE_FIRE,    /* name, tick_ms, key, options, next_fire_ms, manual */
    CF_SQL_QUEUE_PAUSE,      /* queue, paused, by (store/queue_flags.c) */
    CF_SQL_QUEUE_FLAGS,      /* (none): name, paused, paused_at_ms, paused_by */
    CF_SQL_CANCEL_IDS,       /* ids jsonb, ms, by, reason (store/cancel.c) */
    CF_SQL_REQUEUE_CLEANUP,  /* class, key, ms, by, reason */
    CF_SQL_CANCELLABLE,      /* state, class, older ms, after_id, limit */
    /* The dashboard (store/dashboard.c, docs/indexes.md): lists newest first by keyset, one
     * statement per index that drives them, read in chunks; a filter parameter NULL: none. */
    CF_SQL_DASH_LIST_ID,     /* state, below id, class, key prefix, from, to, error, waits,
                                limit, chunk size */
    CF_SQL_DASH_LIST_STATE,  /* the same; state (not completed) required */
    CF_SQL_DASH_LIST_CLASS,  /* the same; class required */
    CF_SQL_DASH_COUNTS,      /* (none): state, queue, count of every workflow not completed */
    CF_SQL_DASH_COUNT_STATE, /* state (not completed), cap: min(count, cap) */
    CF_SQL_DASH_ESTIMATE,    /* (none): the planner's row estimate of the workflows table */
    CF_SQL_DASH_COMPLETED,   /* (none): the exact count of completed workflows (small tables) */
    CF_SQL_DASH_THROUGHPUT,  /* window rows: minute (Unix ms), completions, of the newest rows */
    CF_SQL_BRANCH_GET,       /* workflow_id, name: state, spawned, remaining */
    CF_SQL_BRANCH_COUNTS,    /* parent id, branch name: state, count */
    CF_SQL_BRANCHES_OF,      /* workflow_id: name, state, spawned, remaining */
    CF_SQL_CHILDREN_OF,      /* parent id, after_id, limit: workflow columns */
    CF_SQL_SIGNAL_SEND,      /* class, key, name, signal id, payload, sender (store/signals.c) */
    CF_SQL_SIGNAL_NEXT,      /* workflow_id, name, ids to skip (bigint[] text) */
    CF_SQL_SIGNAL_RECHECK,   /* workflow_id, name */
    CF_SQL_SIGNAL_HEAL,      /* grace_ms, limit */
    CF_SQL_CONTROL_SEEN,     /* request id (store/control_log.c) */
    CF_SQL_CONTROL_RECORD,   /* request id, op, class, key, outcome, code, reason */
    CF_SQL_COUNT_
} cf_sql_id;

typedef struct cf_sql_stmt {
    const char *name; /* prepared statement name */
    const char *sql;
    int nparams;
} cf_sql_stmt;

/* The table, indexed by cf_sql_id. */
extern const cf_sql_stmt cf_sql_stmts[CF_SQL_COUNT_];

/* Workflow columns (store/rows.c, cf_rows_wf): 0 id, 1 fence, 2 job_class, 3 key, 4 state,
 * 5 queue, 6 attempt, 7 crash_count, 8 kwargs, 9 options, 10 context, 11 retry_counts,
 * 12 locked_by, 13 created_at_ms, 14 started_at_ms, 15 completed_at_ms, 16 updated_at_ms,
 * 17 locked_at_ms, 18 next_wake_at_ms, 19 cancel_requested_at_ms, 20 cancel_requested_by,
 * 21 cancel_reason, 22 parent_id (0: none). RUN_BEGINS adds outcome ("begun"|"refused"), created
 * and the request index i after them. */
#define CF_SQL_WF_NCOLS          23
#define CF_SQL_BEGIN_COL_OUTCOME (CF_SQL_WF_NCOLS)
#define CF_SQL_BEGIN_COL_CREATED (CF_SQL_WF_NCOLS + 1)
#define CF_SQL_BEGIN_COL_INDEX   (CF_SQL_WF_NCOLS + 2)

/* Step columns (cf_rows_steps): 0 id, 1 step_name, 2 state, 3 attempts, 4 metadata,
 * 5 started_at_ms, 6 last_executed_at_ms, 7 completed_at_ms, 8 error_class, 9 error_message. */
/* Error columns (cf_rows_errors): 0 id, 1 step_name, 2 attempt, 3 error_class,
 * 4 error_message, 5 backtrace, 6 context, 7 created_at_ms. */
/* Requeue columns (store/requeue.c): 0 id, 1 job_class, 2 key, 3 queue, 4 state before,
 * 5 previous_state of this request's row when it had landed already, 6 previous_state when this
 * call did the transition. */
/* Schedule columns (store/schedules.c): 0 name, 1 job_class, 2 queue, 3 cron, 4 every_ms,
 * 5 tz, 6 kwargs, 7 key_template, 8 overlap, 9 paused, 10 last_fire_ms, 11 last_key,
 * 12 next_fire_ms, 13 created_ms, 14 updated_ms, 15 updated_by. */
#define CF_SQL_SCHEDULE_NCOLS 16
/* Dashboard list columns: the workflow columns (all NULL in the one row of a chunk without a
 * match), then CF_SQL_WF_NCOLS the last error's class, + 1 its message (NULL without an
 * error), + 2 the chunk's size, + 3 its lowest id. */
/* Signal-send columns (store/signals.c): 0 workflow id, 1 state, 2 queue, 3 the new signal's
 * row id (NULL: none inserted), 4 the workflow was woken, 5 this signal id was stored before.
 * Signal-next columns: 0 row id, 1 signal id, 2 payload text (NULL: none), 3 sent_at ms,
 * 4 sender. */
/* Sweep columns (cf_rows_refs): 0 id, 1 fence, 2 job_class, 3 key, 4 queue, 5 locked_by,
 * 6 next_wake_at_ms, 7 locked_at_ms. */

#endif
