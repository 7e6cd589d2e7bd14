// SPDX-License-Identifier: MIT
/* worker/housekeeping.h: the worker's background duties besides running workflows, on a thread
 * and Redis connection of their own: promoting due scheduled envelopes to ready, recovering
 * the work and locks of dead workers, healing Redis from the store (worker/sweeper.h), and
 * firing due schedules (worker/schedule_fire.h). Safe with any number of workers doing the same
 * at once. */
#ifndef CF_WORKER_HOUSEKEEPING_H
#define CF_WORKER_HOUSEKEEPING_H

#include <stdatomic.h>

#include "common/status.h"
#include "store/store.h"
#include "worker/active.h"
#include "worker/config.h"

typedef struct cf_housekeeping cf_housekeeping;

/* cf_housekeeping_start starts the thread. cfg, worker_id, store and active (what the
 * executors hold, for reconciliation; may be NULL) are borrowed and must
 * outlive cf_housekeeping_stop. */
CF_MUST_CHECK cf_status cf_housekeeping_start(const cf_config *cfg, const char *worker_id,
                                              cf_store *store, cf_active *active,
                                              cf_housekeeping **out);

/* cf_housekeeping_stop stops and joins the thread and frees hk (NULL-safe). */
void cf_housekeeping_stop(cf_housekeeping *hk);

/* cf_housekeeping_abandon asks the thread to stop after its current pass without waiting for it
 * (a pass may wait on Postgres) and frees nothing: for a worker abandoning its executors, whose
 * memory stays allocated until the process ends (worker/worker.c). NULL-safe. */
void cf_housekeeping_abandon(cf_housekeeping *hk);

#endif
