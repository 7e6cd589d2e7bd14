// SPDX-License-Identifier: MIT
/* store/requeue.h: a requeue (the gem's retry_workflow!) as a durable intent in Postgres. One
 * statement, one transaction: a stalled or failed workflow becomes idle and due now, with fresh
 * retry budgets, and its `$workflow_retry$<ms>` execution-log row records who asked, when, why
 * and from which state (SPEC §3, §4). The caller then publishes a plain wake; if that wake is
 * lost (Redis, a busy lock, a crash), healing republishes the overdue idle workflow anyway. */
#ifndef CF_STORE_REQUEUE_H
#define CF_STORE_REQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "store/states.h"
#include "store/store.h"

/* cf_requeue_req: who asks and why; every pointer borrowed for the call. */
typedef struct cf_requeue_req {
    const char *requested_by; /* required, 1-256 bytes: "user@host" for the CLI, the name a
                                 client passes, "retry_later" for a retry_workflow envelope */
    const char *reason;       /* optional free text (NULL or "": none), at most 1024 bytes */
    const char *job_id;       /* optional: the jid of the delivery that asked (NULL: none) */
    int64_t requested_at_ms;  /* when it was asked for, Unix ms; 0: now. It names the row
                                 (`$workflow_retry$<ms>`) and makes the call idempotent: the
                                 same request retried after an unknown outcome is recognised
                                 by its row and answered CF_OK with already_applied */
} cf_requeue_req;

/* cf_requeue_result: what the call found and did. */
typedef struct cf_requeue_result {
    int64_t workflow_id;
    char wf_class[129], key[257];
    char queue[65];             /* the workflow's queue: where its wake goes */
    cf_wf_state previous_state; /* CF_OK: stalled or failed; CF_ERR_STATE: the state that
                                   refused (idle, running, completed, or one this binary does
                                   not know) */
    int64_t requested_at_ms;    /* the <ms> of the `$workflow_retry$<ms>` row (CF_OK) */
    bool already_applied;       /* this very request had landed before (a retried call) */
} cf_requeue_result;

/* cf_store_requeue resumes workflow (wf_class, key) (wf_class NULL: whichever class uses the
 * key; CF_ERR_INVALID when several do). In ONE transaction: when the workflow is stalled or
 * failed, state = idle, next_wake_at = now(), retry_counts = {}, the "retry_counts" key is
 * removed from the metadata of its failed steps (their budgets restart; attempt numbers keep
 * counting), and the execution-log row `$workflow_retry$<ms>` (state completed) is inserted
 * with metadata {previous_state, requested_at (ISO-8601 UTC), requested_by, reason, job_id}
 * (reason and job_id only when given). Blocks.
 * Returns CF_OK (out filled); CF_ERR_NOT_FOUND (no such workflow); CF_ERR_STATE (not
 * resumable: out->previous_state holds its state, nothing written); CF_ERR_INVALID (bad
 * arguments, ambiguous key); transient errors when Postgres could not be reached in time
 * (retrying the same req is safe). cf_store_errstr says why. */
CF_MUST_CHECK cf_status cf_store_requeue(cf_store *s, const char *wf_class, const char *key,
                                         const cf_requeue_req *req, cf_requeue_result *out);

#endif
