// SPDX-License-Identifier: MIT
/* worker/control.h: the worker's control loop (SPEC §2, "Control requests"): on a thread and
 * Redis connection of its own, it takes control requests from P:{Q}:control of the worker's
 * queues, commits each to Postgres first through its op's handler, answers on the sender's
 * reply key and acks. Ops are one table entry each (worker/control_ops.c). */
#ifndef CF_WORKER_CONTROL_H
#define CF_WORKER_CONTROL_H

#include "common/status.h"
#include "queue/control_request.h"
#include "queue/queue.h"
#include "store/control_log.h"
#include "store/store.h"
#include "worker/config.h"

/* What an op's handler decides. A handler commits its change to Postgres before it returns
 * accepted; wake (optional) names a workflow whose continuation the loop then publishes, due
 * now (a lost publish is healed from the store's next_wake_at). */
typedef struct cf_control_result {
    cf_control_answer answer; /* accepted, or refused with a stable code and a reason */
    bool wake;
    char wake_class[129], wake_key[257], wake_queue[65];
} cf_control_result;

/* A handler: CF_OK with *out decided (accepted or refused), or a transient status when Postgres
 * could not be reached (the request goes back to its list and is taken again later). */
typedef cf_status (*cf_control_handler)(cf_store *store, const cf_control_request *req,
                                        cf_control_result *out);

typedef struct cf_control_op {
    const char *name; /* the request's `op` */
    cf_control_handler handler;
} cf_control_op;

/* The ops this worker applies (worker/control_ops.c), ended by {NULL, NULL}. */
extern const cf_control_op cf_control_ops[];

/* cf_control_refuse fills out as refused with code and a printf reason. */
void cf_control_refuse(cf_control_result *out, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct cf_control cf_control;

/* cf_control_start starts the loop for cfg's queues (cfg, worker_id, store borrowed; they must
 * outlive cf_control_stop). */
CF_MUST_CHECK cf_status cf_control_start(const cf_config *cfg, const char *worker_id,
                                         cf_store *store, cf_control **out);

/* cf_control_stop stops the loop after the request in hand, joins it and frees c (NULL-safe). */
void cf_control_stop(cf_control *c);

/* cf_control_abandon asks the loop to stop without waiting (a worker abandoning its executors);
 * frees nothing. NULL-safe. */
void cf_control_abandon(cf_control *c);

/* cf_control_apply handles one request's bytes raw taken from queue (exposed for tests): decode,
 * apply (or read the recorded answer), wake, answer, ack; a request that cannot be answered is
 * dead-lettered. Returns a transient status when it was put back for later. */
CF_MUST_CHECK cf_status cf_control_apply(cf_queue *q, cf_store *store, const char *queue,
                                         const char *raw, size_t len);

#endif
