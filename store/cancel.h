// SPDX-License-Identifier: MIT
/* store/cancel.h: cancelling workflows (SPEC §4 "Cancellation"), as durable requests in
 * Postgres: the store calls behind `chronoforge cancel`, the control protocol's cancel op and a
 * parent's cascade to its children, and `requeue --cleanup`.
 *
 * Semantics. An idle (waiting or not) or stalled workflow becomes `cancelling` and due now; a
 * running one keeps running and only records the request: its run's next commit learns of it
 * (store.h, cf_write_set.cancel_out), the step it is in is committed, nothing after it runs,
 * and the run's end leaves it `cancelling` (any end: an accepted cancel always wins). A
 * cancelling workflow's next pass runs the class's on_cancel (steps `on_cancel$<name>`), then
 * the workflow is `cancelled`. Completed, failed, cancelled and already cancelling workflows are
 * refused. Every accepted request is stored on the row (when, who, why) with a
 * `$workflow_cancel$<ms>` execution-log row. The caller then carries out the queue effects:
 * publish the workflow's continuation due now, lowering a pending later one (a running workflow
 * needs none; worker/cancel.h does both in one call); a lost wake loses nothing (cancelling is
 * healed like idle).
 *
 * Cascade (branches): a cancelled parent's unfinished children are cancelled with
 * cf_store_cancel_ids (requested_by "parent:<class>/<key>", the parent's reason), by the code
 * that knows the parent_id link; each child is judged like any other workflow. The place for it
 * is the start of the parent's on_cancel pass (the worker, before on_cancel runs: durable,
 * retried and healed with the pass): select the parent's children in (idle, stalled, running)
 * by parent_id in pages, cancel each page with one cf_store_cancel_ids call, and carry out each
 * accepted child's queue effects as the CLI does; a child already cancelling is refused
 * "cancelling", so a retried pass cancels nothing twice. */
#ifndef CF_STORE_CANCEL_H
#define CF_STORE_CANCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/query.h"
#include "store/states.h"
#include "store/store.h"

/* cf_cancel_req: who asks and why; pointers borrowed for the call. */
typedef struct cf_cancel_req {
    const char *requested_by; /* required, 1-256 bytes: "user@host" (CLI), a client's name */
    const char *reason;       /* optional (NULL or "": none), at most 1024 bytes */
    int64_t requested_at_ms;  /* Unix ms; 0: now. Names the `$workflow_cancel$<ms>` row and
                                 makes a retried call idempotent (answered accepted again) */
} cf_cancel_req;

/* The codes of an answer (cf_cancel_result.code). Accepted: "cancelling" (idle, waiting or
 * stalled: its on_cancel pass is due now), "requested" (running: recorded for its run).
 * Refused: "not_found", "completed", "failed", "cancelled", "cancelling" (a cancel was already
 * accepted), "unknown_state" (a state this binary does not know). */
#define CF_CANCEL_CODE_MAX 24

typedef struct cf_cancel_result {
    bool accepted;
    char code[CF_CANCEL_CODE_MAX];
    char reason[200];    /* one line for people, e.g. "workflow is completed" */
    int64_t workflow_id; /* 0 when not found */
    char wf_class[129], key[257];
    char queue[65];             /* where its wake goes */
    cf_wf_state previous_state; /* the state it was in when judged */
    bool already_applied;       /* this very request had landed before (a retried call) */
    int64_t requested_at_ms;
} cf_cancel_result;

/* cf_store_cancel cancels workflow (wf_class, key) (wf_class NULL: whichever class uses the
 * key; an ambiguous key is CF_ERR_INVALID). Returns CF_OK with *out answering (accepted or
 * refused with its code and reason; "not_found" included); CF_ERR_INVALID for bad arguments;
 * transient errors when Postgres could not be reached (retrying the same req is safe).
 * cf_store_errstr says why. Blocks. */
CF_MUST_CHECK cf_status cf_store_cancel(cf_store *s, const char *wf_class, const char *key,
                                        const cf_cancel_req *req, cf_cancel_result *out);

/* cf_store_cancel_ids cancels a set of workflows by id (at most 1000) in ONE transaction, each
 * judged as cf_store_cancel does; out[i] answers ids[i] (a missing id: refused "not_found").
 * Statuses as cf_store_cancel. Blocks. */
CF_MUST_CHECK cf_status cf_store_cancel_ids(cf_store *s, const int64_t *ids, size_t n,
                                            const cf_cancel_req *req, cf_cancel_result *out);

/* cf_store_select_cancellable lists one page of workflows in state (idle, stalled or running)
 * without a cancel request, of wf_class (NULL: any), in that state for longer than
 * older_than_ms (0: any), after after_id in id order, at most limit (1..1000). Blocks. */
CF_MUST_CHECK cf_status cf_store_select_cancellable(cf_store *s, const char *state,
                                                    const char *wf_class, int64_t older_than_ms,
                                                    int64_t after_id, size_t limit,
                                                    cf_wf_ref_list *out);

/* cf_store_requeue_cleanup runs a cancelled workflow's on_cancel again (`requeue --cleanup`):
 * it becomes cancelling and due now, its failed on_cancel steps get fresh budgets, and a
 * `$workflow_retry$<ms>` row records who asked. Returns CF_OK with *out answering (accepted
 * "cancelling", or refused: "not_found", or the state that refused as code); other statuses as
 * cf_store_cancel. */
CF_MUST_CHECK cf_status cf_store_requeue_cleanup(cf_store *s, const char *wf_class, const char *key,
                                                 const cf_cancel_req *req, cf_cancel_result *out);

#endif
