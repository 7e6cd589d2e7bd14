// SPDX-License-Identifier: MIT
/* worker/active.h: what this worker's executors are holding right now (one slot per executor:
 * the fetched envelope and, once taken, the lock token), so that the reconciler can tell
 * Redis's record of the worker's holdings from its real runs. Thread-safe; the hot path costs
 * one uncontended mutex per update, no copy. */
#ifndef CF_WORKER_ACTIVE_H
#define CF_WORKER_ACTIVE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cf_active cf_active;

/* cf_active_new returns a table of nslots empty slots (NULL on OOM); cf_active_free frees it. */
cf_active *cf_active_new(int nslots);
void cf_active_free(cf_active *a);

/* cf_active_hold records that slot holds env[0..len) (borrowed: it must stay valid until
 * cf_active_clear) fetched from queue number queue_index. */
void cf_active_hold(cf_active *a, int slot, size_t queue_index, const char *env, size_t len);

/* cf_active_token records the slot's lock token (copied; NULL clears it). */
void cf_active_token(cf_active *a, int slot, const char *token);

/* cf_active_clear empties the slot (call before freeing the envelope). */
void cf_active_clear(cf_active *a, int slot);

/* cf_active_count_env counts slots holding exactly these bytes from that queue. */
size_t cf_active_count_env(cf_active *a, size_t queue_index, const char *env, size_t len);

/* cf_active_has_token says whether some slot holds this lock token. */
bool cf_active_has_token(cf_active *a, const char *token);

#endif
