// SPDX-License-Identifier: MIT
/* worker/cancel.h: a cancel as one call for whoever receives it (the CLI, the dashboard): the
 * request in Postgres (store/cancel.h), then the queue effect of an accepted one: its
 * continuation due now (a pending later one is lowered to now), so its on_cancel pass runs next (a
 * running workflow needs neither: its own run ends the pass). A wake that cannot be published loses
 * nothing: cancelling is healed like idle (docs/healing.md). */
#ifndef CF_WORKER_CANCEL_H
#define CF_WORKER_CANCEL_H

#include "common/status.h"
#include "queue/queue.h"
#include "store/cancel.h"

/* cf_cancel_effects carries out the queue effects of res (nothing unless res accepted it with
 * code "cancelling"). Returns CF_OK, or the queue's error (cf_queue_errstr says why). */
CF_MUST_CHECK cf_status cf_cancel_effects(cf_queue *q, const cf_cancel_result *res);

/* cf_cancel_workflow cancels (wf_class, key) for requested_by (1-256 bytes) with reason (NULL:
 * none): cf_store_cancel, retried on transient errors (3 tries, backoff; the same request is
 * recognised by its row), then cf_cancel_effects. Returns CF_OK with *out answering, accepted
 * (code "cancelling" or "requested") or refused (code and reason, nothing changed; codes in
 * store/cancel.h); the store's error when Postgres failed (nothing may have changed, or the
 * request landed: calling again with the same arguments answers either way). A failed wake is
 * logged, not returned. Blocks. */
CF_MUST_CHECK cf_status cf_cancel_workflow(cf_store *s, cf_queue *q, const char *wf_class,
                                           const char *key, const char *reason,
                                           const char *requested_by, cf_cancel_result *out);

/* cf_cancel_children cancels the unfinished children (idle, stalled or running: each judged as
 * cf_store_cancel does) of the workflow parent_id, for requested_by "parent:<class>/<key>" with
 * the parent's reason, in pages of ids (one cf_store_cancel_ids transaction each), and carries
 * out each accepted child's queue effects; their own on_cancel passes cancel their children in
 * turn. A child already cancelling or finished is refused and left alone, so running it again
 * cancels nothing twice. *cancelled (may be NULL) counts the children accepted. The store's
 * error when Postgres failed (the pages before it stay done). Blocks. */
CF_MUST_CHECK cf_status cf_cancel_children(cf_store *s, cf_queue *q, int64_t parent_id,
                                           const char *parent_class, const char *parent_key,
                                           const char *reason, int64_t *cancelled);

#endif
