// SPDX-License-Identifier: MIT
/* store/retention.h: deleting finished workflows older than a cutoff, with their execution and
 * error logs (SPEC §3: the delete trigger removes the logs in the same statement). Used by
 * `chronoforge cleanup` and by the worker's `--retention` (worker/retention.h). Each call is one
 * bounded batch in one short transaction that skips rows another transaction holds, so
 * retention never waits on, or blocks, a running workflow. */
#ifndef CF_STORE_RETENTION_H
#define CF_STORE_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/store.h"

/* The most rows one batch deletes. */
#define CF_RETENTION_BATCH_MAX 10000

typedef struct cf_retention_req {
    int64_t finished_before_ms; /* Unix ms: workflows that entered their state before this */
    const cf_wf_state *states;  /* finished ones only (cf_wf_state_finished; else INVALID) */
    size_t nstates;
    int batch;    /* rows per call, 1..CF_RETENTION_BATCH_MAX (0: 1000) */
    bool dry_run; /* count every matching workflow instead; delete nothing */
} cf_retention_req;

/* cf_store_cleanup_batch deletes at most req->batch workflows in one of req->states that
 * finished (completed_at, else updated_at: when they entered the state) before
 * req->finished_before_ms, with their logs; *deleted says how many (fewer than the batch: none
 * are left that are not held by another transaction). With dry_run, *deleted is how many
 * match (all of them), and nothing is deleted. CF_ERR_INVALID for an empty state list, a state
 * that is not finished, or a bad batch; transient errors as cf_store_read. */
CF_MUST_CHECK cf_status cf_store_cleanup_batch(cf_store *s, const cf_retention_req *req,
                                               int64_t *deleted);

#endif
