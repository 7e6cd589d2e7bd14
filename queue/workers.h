// SPDX-License-Identifier: MIT
/* queue/workers.h: the fleet as Redis sees it, for operators: every registered worker with its
 * heartbeat age and what it publishes (queue/heartbeat.h), and the quiet / resume requests a
 * worker's heartbeat follows. */
#ifndef CF_QUEUE_WORKERS_H
#define CF_QUEUE_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

typedef struct cf_worker_entry {
    char *id;          /* owned */
    int64_t age_ms;    /* since its last beat, by the Redis clock */
    bool live;         /* age_ms < lease */
    bool has_info;     /* it publishes P:worker:<id> (false: an older worker, or expired) */
    char *queues;      /* owned; "" without info */
    char *host;        /* owned; "" without info */
    int64_t pid;       /* 0 without info */
    int concurrency;   /* executor threads */
    int busy;          /* executors inside a delivery at its last beat */
    bool quiet;        /* quiet as of its last beat */
    bool quiet_wanted; /* the recorded request (differs from quiet until its next beat) */
    int keyspace;      /* the keyspace it speaks (SPEC §2): 1 when its info has no field */
} cf_worker_entry;

/* cf_workers_list returns every worker registered in P:workers, oldest id first, with the age of
 * its last beat and its published info; *out owned (cf_workers_list_free). lease_ms decides
 * live. */
CF_MUST_CHECK cf_status cf_workers_list(cf_queue *q, int64_t lease_ms, cf_worker_entry **out,
                                        size_t *n);
void cf_workers_list_free(cf_worker_entry *list, size_t n); /* NULL-safe */

/* cf_workers_set_quiet records a quiet (true) or resume (false) request for worker_id; its
 * heartbeat applies it at its next beat. CF_ERR_NOT_FOUND when the worker publishes no info
 * (not running, or too old to understand the request): nothing is written then. */
CF_MUST_CHECK cf_status cf_workers_set_quiet(cf_queue *q, const char *worker_id, bool quiet);

#endif
