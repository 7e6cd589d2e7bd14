// SPDX-License-Identifier: MIT
/* worker/queue_pause.c: cf_queue_pause_apply (worker/queue_pause.h). */
#include "worker/queue_pause.h"

#include "queue/pause.h"
#include "store/queue_flags.h"

cf_status cf_queue_pause_apply(cf_store *s, cf_queue *q, const char *queue, bool pause,
                               const char *by, bool *redis_told)
{
    *redis_told = false;
    cf_status st = cf_store_queue_pause(s, queue, pause, by);
    if (st != CF_OK)
        return st;
    *redis_told = cf_queue_pause_set(q, queue, pause, by) == CF_OK;
    return CF_OK;
}
