// SPDX-License-Identifier: MIT
/* store/query.h: read-only queries for operators and the CLI (status, list, stats): one
 * workflow with its steps and errors, workflows by state and class with keyset paging, counts
 * by state; and the sweeper's scans (overdue idle workflows, running workflows and their
 * lock holders). Each runs on a reader connection of the store. */
#ifndef CF_STORE_QUERY_H
#define CF_STORE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/status.h"
#include "store/store.h"

/* cf_error_row: one error-log row; strings owned (NULL when the column is NULL). */
typedef struct cf_error_row {
    int64_t id;
    char *step_name; /* NULL: workflow-level */
    int attempt;     /* 1-based */
    char *error_class, *error_message, *backtrace;
    json_t *context; /* owned ref (json null when NULL) */
    int64_t created_at_ms;
} cf_error_row;

/* cf_wf_detail: a workflow with all its execution-log rows (repetition rows included) and
 * its error-log rows, oldest first. Owned; free with cf_wf_detail_deinit. */
typedef struct cf_wf_detail {
    cf_wf_row wf;
    cf_step_list steps;
    cf_error_row *errors;
    size_t nerrors;
} cf_wf_detail;

void cf_wf_detail_deinit(cf_wf_detail *d); /* NULL-safe, idempotent */

/* cf_store_show reads the workflow (class NULL: any; CF_ERR_INVALID if the key is used by
 * several classes; CF_ERR_NOT_FOUND if none) with its steps and errors (three reads).
 * max_errors bounds the error rows returned (newest kept; 0: 100). *out owned. Blocks. */
CF_MUST_CHECK cf_status cf_store_show(cf_store *s, const char *wf_class, const char *key,
                                      size_t max_errors, cf_wf_detail *out);

/* cf_wf_list_filter: state and wf_class NULL = any; after_id 0 = from the start. */
typedef struct cf_wf_list_filter {
    const char *state;
    const char *wf_class;
    int64_t after_id; /* keyset paging: rows with id > after_id, ordered by id */
    size_t limit;     /* 1..1000 (0: 50) */
} cf_wf_list_filter;

typedef struct cf_wf_list {
    cf_wf_row *rows; /* owned; kwargs/options/context/retry_counts are filled */
    size_t n;
    int64_t next_after_id; /* pass as after_id for the next page; 0 when this page was the last */
} cf_wf_list;

void cf_wf_list_deinit(cf_wf_list *l); /* NULL-safe, idempotent */

/* cf_store_list lists workflows matching f in id order. CF_ERR_INVALID for an unknown state
 * or a limit over 1000. *out owned. Blocks. */
CF_MUST_CHECK cf_status cf_store_list(cf_store *s, const cf_wf_list_filter *f, cf_wf_list *out);

/* cf_state_counts: workflows per state (all classes, or one class). */
typedef struct cf_state_counts {
    int64_t by_state[CF_WF_STATE_COUNT]; /* [CF_WF_UNKNOWN]: states this binary does not know */
} cf_state_counts;

/* cf_store_count_by_state counts workflows by state (wf_class NULL: all). Blocks. */
CF_MUST_CHECK cf_status cf_store_count_by_state(cf_store *s, const char *wf_class,
                                                cf_state_counts *out);

/* cf_wf_ref: the identity of a workflow found by a sweep; strings owned. */
typedef struct cf_wf_ref {
    int64_t id, fence;
    char *wf_class, *key, *queue, *locked_by; /* locked_by NULL when not locked */
    int64_t next_wake_at_ms, locked_at_ms;    /* 0 = NULL */
} cf_wf_ref;

typedef struct cf_wf_ref_list {
    cf_wf_ref *rows;
    size_t n;
} cf_wf_ref_list;

void cf_wf_ref_list_deinit(cf_wf_ref_list *l); /* NULL-safe, idempotent */

/* cf_store_sweep_overdue lists idle workflows whose next_wake_at is older than now - grace_ms,
 * oldest first, at most limit (1..10000; served by the partial index on next_wake_at), then
 * cancelling ones overdue the same way (at most limit more: healed like idle, SPEC §4), except
 * those of the nskip queues in skip (the paused ones; may be NULL) in both. */
CF_MUST_CHECK cf_status cf_store_sweep_overdue(cf_store *s, int64_t grace_ms, size_t limit,
                                               const char *const *skip, size_t nskip,
                                               cf_wf_ref_list *out);

/* cf_store_sweep_running lists running workflows with their locked_by and locked_at, after
 * after_id in id order, at most limit (1..10000), except those of the queues in skip; served
 * by the partial index on running. */
CF_MUST_CHECK cf_status cf_store_sweep_running(cf_store *s, int64_t after_id, size_t limit,
                                               const char *const *skip, size_t nskip,
                                               cf_wf_ref_list *out);

/* cf_resumable_filter: which stalled or failed workflows a bulk requeue takes. */
typedef struct cf_resumable_filter {
    const char *state;       /* "stalled" or "failed" (required) */
    const char *wf_class;    /* NULL: any */
    const char *error_class; /* NULL: any; else its last error is this class or under it
                                ("Net" takes "Net" and "Net.Timeout") */
    int64_t older_than_ms;   /* 0: any; else in that state for longer than this */
} cf_resumable_filter;

/* cf_store_select_resumable lists one page of the workflows f selects, after after_id in id
 * order, at most limit (1..1000). Pass the last id as after_id for the next page; a short page
 * is the last. CF_ERR_INVALID for another state or limit. Blocks. */
CF_MUST_CHECK cf_status cf_store_select_resumable(cf_store *s, const cf_resumable_filter *f,
                                                  int64_t after_id, size_t limit,
                                                  cf_wf_ref_list *out);

#endif
