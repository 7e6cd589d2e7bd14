// SPDX-License-Identifier: MIT
/* worker/fetcher.h: the worker's one fetch loop, on a thread and Redis connection of its own.
 * It takes as many envelopes as there are idle executors in one call (cf_fetch_take), never
 * more, hands each to one idle executor (recording it in that executor's slot of the active
 * table at once), and when nothing is ready blocks on BLMOVE slices (cf_fetch). While the
 * worker is quiet it takes nothing, and what it took as the worker went quiet goes back to
 * ready unrun. Fetch errors back off with rate-limited logs. The loop ticks the "fetch"
 * liveness slot; executors waiting for work are parked (alive). */
#ifndef CF_WORKER_FETCHER_H
#define CF_WORKER_FETCHER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/fetch.h"
#include "worker/active.h"
#include "worker/config.h"

typedef struct cf_fetcher cf_fetcher;

typedef struct cf_fetcher_config {
    const cf_config *cfg;        /* redis_url, prefix, queues, concurrency */
    const char *worker_id;       /* the in-flight lists' owner */
    const char *const *queues;   /* cfg->nqueues names, highest priority first */
    cf_active *active;           /* slot i = executor i */
    const atomic_bool *stopping; /* set: take nothing more; waits end */
    const atomic_bool *quiet;    /* set: take nothing (kept by the heartbeat) */
    cf_mux *mux; /* may be NULL: the shared connection the takes go through, so that they join
                    the executors' batches (blocking slices always use the fetcher's own) */
} cf_fetcher_config;

/* cf_fetcher_new prepares the hand-off for cfg->concurrency executors and the fetcher's own
 * connection (connected by its first call). Everything in c is borrowed and must outlive the
 * fetcher. CF_ERR_INVALID (err filled) or CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_fetcher_new(const cf_fetcher_config *c, cf_fetcher **out, cf_error *err);

/* cf_fetcher_main is the fetch loop (a pthread start routine, arg = the fetcher); it returns
 * once *stopping is set, within about a second. */
void *cf_fetcher_main(void *arg);

/* cf_fetcher_next waits, as executor slot, for its next envelope: true with *out filled (owned;
 * already recorded in the active table's slot), false once *stopping is set. */
bool cf_fetcher_next(cf_fetcher *f, int slot, cf_fetched *out);

/* cf_fetcher_wake wakes every wait so that a stop is seen at once. */
void cf_fetcher_wake(cf_fetcher *f);

/* cf_fetcher_stats: take calls made (cf_fetch_take and blocking cf_fetch) and envelopes they
 * took, so far. */
void cf_fetcher_stats(cf_fetcher *f, uint64_t *calls, uint64_t *taken);

/* cf_fetcher_free returns to ready what was handed to executors that had already stopped, then
 * frees f (NULL-safe). Only once the fetch loop and every executor have ended. */
void cf_fetcher_free(cf_fetcher *f);

#endif
