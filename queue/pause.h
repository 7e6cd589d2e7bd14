// SPDX-License-Identifier: MIT
/* queue/pause.h: a queue's pause flag in Redis, P:{Q}:paused (SPEC §2). While it exists the take
 * script gives nothing from the queue and the promote script moves nothing into it (both read it
 * in the queue's slot, atomically with the lists they move); envelopes stay where they are.
 * Postgres holds the flag's mirror (store/queue_flags.h), from which the healing pass restores
 * it after Redis lost data (worker/sweeper.h). */
#ifndef CF_QUEUE_PAUSE_H
#define CF_QUEUE_PAUSE_H

#include <stdbool.h>

#include "common/status.h"
#include "queue/queue.h"

/* cf_queue_pause_set sets (paused, value "by", e.g. "user@host") or deletes the flag of queue.
 * Idempotent. */
CF_MUST_CHECK cf_status cf_queue_pause_set(cf_queue *q, const char *queue, bool paused,
                                           const char *by);

/* cf_queue_is_paused reads the flag of queue into *paused. */
CF_MUST_CHECK cf_status cf_queue_is_paused(cf_queue *q, const char *queue, bool *paused);

#endif
