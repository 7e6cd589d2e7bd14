// SPDX-License-Identifier: MIT
/* store/dashboard.h: the store's reads for the web dashboard (http/dash_*.c): workflows newest
 * first by keyset with filters (each combination served by an index: docs/indexes.md), counts
 * of the workflows not completed by state and queue, the completed total, and completions per
 * minute over the last hour. Each runs on a reader connection of the store and blocks. */
#ifndef CF_STORE_DASHBOARD_H
#define CF_STORE_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/states.h"
#include "store/store.h"

/* cf_dash_filter: which workflows a list shows; NULL or 0 = no filter. */
typedef struct cf_dash_filter {
    const char *state;       /* a state name */
    const char *wf_class;    /* exact class */
    const char *key_prefix;  /* keys starting with this */
    int64_t from_ms, to_ms;  /* created at or after / before (Unix ms); 0: open */
    const char *error_class; /* its last error is this class or under it ("Net": "Net.X") */
    const char *waits;       /* an idle workflow waiting for: "timer", "retry", "continue_if" */
    int64_t before_id;       /* keyset: rows with id < before_id; 0: from the newest */
    size_t limit;            /* 1..500 (0: 50) */
} cf_dash_filter;

/* cf_dash_waits: the wait kinds the filter knows, NULL-terminated (a new kind: one name here
 * and one clause in store/sql.c DASH_FILTERS). */
extern const char *const cf_dash_waits[];

typedef struct cf_dash_row {
    cf_wf_row wf;
    char *last_error_class, *last_error_message; /* owned; NULL without an error */
} cf_dash_row;

/* A list reads its index in chunks of CF_DASH_CHUNK rows, filtering each, until it has a page
 * or has read CF_DASH_SCAN_MAX rows (then the page is short and scan_limited says so). */
#define CF_DASH_CHUNK    1000
#define CF_DASH_SCAN_MAX 100000

typedef struct cf_dash_list {
    cf_dash_row *rows;
    size_t n;
    int64_t next_before_id; /* pass as before_id for the next page; 0 when this was the last */
    bool scan_limited;      /* the page stopped at CF_DASH_SCAN_MAX rows read, not at its end */
} cf_dash_list;

void cf_dash_list_deinit(cf_dash_list *l); /* NULL-safe, idempotent */

/* cf_dash_list_workflows lists the workflows f selects, newest first. CF_ERR_INVALID (with
 * cf_store_errstr) for an unknown state or wait kind or a limit over 500. */
CF_MUST_CHECK cf_status cf_dash_list_workflows(cf_store *s, const cf_dash_filter *f,
                                               cf_dash_list *out);

/* cf_dash_list_sql: the statement text cf_dash_list_workflows runs for f (its driving index
 * depends on which filters are set), for tests that EXPLAIN it. Parameters as store/sql.c's
 * DASH_FILTERS says. */
const char *cf_dash_list_sql(const cf_dash_filter *f);

/* cf_dash_count: workflows of one state in one queue. */
typedef struct cf_dash_count {
    char state[32], queue[65];
    int64_t n;
} cf_dash_count;

/* cf_dash_counts_out: what the home page counts. Owned; free with cf_dash_counts_deinit. */
typedef struct cf_dash_counts_out {
    int64_t by_state[CF_WF_STATE_COUNT]; /* [CF_WF_COMPLETED]: see completed_exact */
    bool at_cap[CF_WF_STATE_COUNT];      /* that state holds cap workflows or more */
    bool completed_exact;                /* else the planner's estimate minus the others */
    bool queues_counted;                 /* false when a state is at its cap */
    cf_dash_count *by_queue;             /* state x queue, nqueue of them */
    size_t nqueue;
} cf_dash_counts_out;

void cf_dash_counts_deinit(cf_dash_counts_out *c); /* NULL-safe, idempotent */

/* cf_dash_counts counts the workflows of each state other than completed up to cap each
 * (bounded reads of `not_completed`); when none reaches cap, also by state and queue. The
 * completed total is exact when the table holds fewer than exact_below rows by the planner's
 * estimate, else that estimate minus the others. */
CF_MUST_CHECK cf_status cf_dash_counts(cf_store *s, int64_t cap, int64_t exact_below,
                                       cf_dash_counts_out *out);

/* cf_dash_throughput fills per_minute[0..60) with the completions of each of the last 60
 * minutes (index 59: the current minute) among the newest window workflows. */
CF_MUST_CHECK cf_status cf_dash_throughput(cf_store *s, int64_t now_ms, int64_t window,
                                           int64_t per_minute[60]);

#endif
