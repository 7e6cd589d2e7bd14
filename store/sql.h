// SPDX-License-Identifier: MIT
/* store/sql.h: the statements the store prepares on each of its connections (internal to
 * store/). Every text is a constant in store/sql.c and every value travels as a parameter. The
 * column lists that store/rows.c parses are fixed here, by position. */
#ifndef CF_STORE_SQL_H
#define CF_STORE_SQL_H

typedef enum cf_sql_id {
    CF_SQL_RUN_BEGINS,      /* begins jsonb [{i,c,k,q,kw,op,l,me,cr}], token (store/sql.c) */
    CF_SQL_STEPS_OF_BEGINS, /* the same begins jsonb: i, then the step columns */
    CF_SQL_STEPS_BY_KEY,    /* class, key: steps without repetition rows (cf_store_run_begin) */
    CF_SQL_STEPS_BY_ID,     /* workflow_id: steps without repetition rows */
    CF_SQL_STEPS_ALL_BY_ID, /* workflow_id: every step row */
    CF_SQL_WRITE_SETS, /* write sets jsonb [{i,id,f,ctx,o,wk,a,rc,st,er,lz,lf,c,k,q,kw,op,l,sg}] */
    CF_SQL_RUN_PEEKS,  /* reads jsonb [{i,c,k}]: workflow columns, then i */
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
    CF_SQL_SWEEP_OVERDUE,    /* grace_ms, limit */
    CF_SQL_SWEEP_RUNNING,    /* after_id, limit */
    CF_SQL_REQUEUE,          /* class, key, ms, by, reason, job_id (store/requeue.c) */
    CF_SQL_RESUMABLE,        /* state, class, error class, older ms, after_id, limit */
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
 * 17 locked_at_ms, 18 next_wake_at_ms. RUN_BEGINS adds 19 outcome ("begun"|"refused"),
 * 20 created, 21 the request index i. */
#define CF_SQL_WF_NCOLS          19
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
/* Signal-send columns (store/signals.c): 0 workflow id, 1 state, 2 queue, 3 the new signal's
 * row id (NULL: none inserted), 4 the workflow was woken, 5 this signal id was stored before.
 * Signal-next columns: 0 row id, 1 signal id, 2 payload text (NULL: none), 3 sent_at ms,
 * 4 sender. */
/* Sweep columns (cf_rows_refs): 0 id, 1 fence, 2 job_class, 3 key, 4 queue, 5 locked_by,
 * 6 next_wake_at_ms, 7 locked_at_ms. */

#endif
