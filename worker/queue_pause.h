// SPDX-License-Identifier: MIT
/* worker/queue_pause.h: pausing or resuming a queue as one call for whoever asks (the CLI, the
 * dashboard): the flag in Postgres first (the mirror the healing pass restores Redis from,
 * store/queue_flags.h), then P:{Q}:paused in Redis, which the take and promote scripts read
 * (queue/pause.h). */
#ifndef CF_WORKER_QUEUE_PAUSE_H
#define CF_WORKER_QUEUE_PAUSE_H

#include <stdbool.h>

#include "common/status.h"
#include "queue/queue.h"
#include "store/store.h"

/* cf_queue_pause_apply pauses (pause true) or resumes queue for by ("user@host",
 * "dashboard:NAME"). Returns the store's error when Postgres could not record it (nothing
 * changed); else CF_OK with *redis_told false when Redis could not be told (cf_queue_errstr says
 * why): the healing pass sets the flag from Postgres within a sweep interval. Blocks. */
CF_MUST_CHECK cf_status cf_queue_pause_apply(cf_store *s, cf_queue *q, const char *queue,
                                             bool pause, const char *by, bool *redis_told);

#endif
