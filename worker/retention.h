// SPDX-License-Identifier: MIT
/* worker/retention.h: the fleet's retention (`--retention`, `--retention-dead`): the worker that
 * holds the healing lease (P:sweeper, worker/sweeper.h) deletes, after its pass, finished
 * workflows older than the setting in bounded batches (store/retention.h) within a time budget,
 * and now and then the dead letters of its queues that are older than theirs. One worker at a
 * time, never a long transaction, never a wait on a running workflow's row. */
#ifndef CF_WORKER_RETENTION_H
#define CF_WORKER_RETENTION_H

#include <stddef.h>

#include "common/status.h"
#include "queue/queue.h"
#include "store/store.h"
#include "worker/config.h"

typedef struct cf_retention cf_retention;

/* cf_retention_new makes the retention of cfg (borrowed, as store and queue); NULL on OOM. */
cf_retention *cf_retention_new(const cf_config *cfg, cf_store *store, cf_queue *queue);
void cf_retention_free(cf_retention *r);

/* cf_retention_tick runs one round, right after this worker ran the fleet's healing pass: batches
 * of finished workflows for at most a tenth of a sweep interval (at least 100 ms; so deleting
 * keeps Postgres busy at most ~10% of the time), and the dead letters of queues at most once a
 * minute. Logs what it deleted (event=retention) and errors, rate-limited.
 * A no-op when both settings are 0. */
void cf_retention_tick(cf_retention *r, const char *const *queues, size_t nqueues);

#endif
