// SPDX-License-Identifier: MIT
/* queue/schedule.h: the scheduled set P:{Q}:scheduled. Promotion of due envelopes to the ready
 * or due list in bounded batches (one atomic Lua script per queue, so many promoters at once never
 * promote an envelope twice or lose one), and workflow continuations: one pending entry per
 * workflow, earliest due time wins (ZADD LT), removed when the workflow ends. */
#ifndef CF_QUEUE_SCHEDULE_H
#define CF_QUEUE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

#define CF_PROMOTE_BATCH_DEFAULT 100
#define CF_PROMOTE_BATCH_MAX     1000

/* Promotion moves envelopes whose due time is <= now from P:{queue}:scheduled, earliest first,
 * to P:{queue}:ready when ready and due are both empty (a fetcher blocked on ready wakes at
 * once) and to P:{queue}:due otherwise, so they are taken ahead of the backlog and behind the
 * wakes already waiting there (FIFO among wakes even when fetchers fall behind; fetch.h: at
 * most CF_FETCH_DUE_CAP of a batch while ready has entries). Why nothing waits in due while a
 * fetcher blocks on ready: due only goes from empty to non-empty in this script while ready is
 * non-empty (same atomic script as the LLENs), and Redis serves a client blocked on a list as
 * soon as it has an entry, so at that moment no fetcher of the queue is blocked; a fetcher
 * blocks only after its take script found due and ready both empty, atomically, so while due
 * has entries no fetcher starts blocking, and every fetcher takes from due before it can block
 * again. (A worker with several queues blocks on one of them for at most 100 ms at a time, then
 * looks at every due list again.) */
typedef struct cf_promote_result {
    int moved;           /* envelopes moved by this call */
    int64_t next_due_ms; /* the earliest due time left in the scheduled set; -1: empty */
    int64_t now_ms;      /* the "now" the call used (the Redis server's clock unless given) */
} cf_promote_result;

/* cf_schedule_promote_next moves up to batch (1..CF_PROMOTE_BATCH_MAX; <= 0 means the default)
 * due envelopes of queue as above in one atomic script, and says what is due next.
 * now_unix_ms <= 0 uses the Redis server's clock. Call again while moved equals batch. */
CF_MUST_CHECK cf_status cf_schedule_promote_next(cf_queue *q, const char *queue,
                                                 int64_t now_unix_ms, int batch,
                                                 cf_promote_result *res);

/* cf_schedule_promote is cf_schedule_promote_next returning only the count (*moved may be
 * NULL). */
CF_MUST_CHECK cf_status cf_schedule_promote(cf_queue *q, const char *queue, int64_t now_unix_ms,
                                            int batch, int *moved);

/* The publish hook: every add to a scheduled set made through queue/ in this process
 * (continuations, busy redeliveries, reschedules, a delivery's publishes) calls h->fn(h->ctx,
 * queue, due) after Redis accepted it, on the publishing thread: a worker's promoter uses it to
 * wake early for a due time earlier than the one it sleeps until (worker/promoter.h), without a
 * round trip. fn must be cheap and thread-safe. One hook per process: cf_schedule_hook_set
 * returns false when another is installed. h must stay valid until cf_schedule_hook_clear(h)
 * has returned and no publishing thread can still be inside fn. */
typedef struct cf_schedule_hook {
    void (*fn)(void *ctx, const char *queue, int64_t due_unix_ms);
    void *ctx;
} cf_schedule_hook;

bool cf_schedule_hook_set(const cf_schedule_hook *h);
void cf_schedule_hook_clear(const cf_schedule_hook *h);
/* cf_schedule_note calls the hook, if any (queue/'s publishers call it). */
void cf_schedule_note(const char *queue, int64_t due_unix_ms);

/* cf_continuation_publish adds member (borrowed; the codec's canonical per-workflow
 * continuation envelope) to P:{queue}:scheduled due at due_unix_ms if absent, or lowers its due
 * time if the new one is earlier; it never raises it (ZADD LT). *added (may be NULL) says
 * whether a new entry was created. Also SADDs the queue to P:queues (same round trip). When the
 * entry becomes the set's earliest, "<due ms>" is published on P:{queue}:wake (same script). */
CF_MUST_CHECK cf_status cf_continuation_publish(cf_queue *q, const char *queue, const void *member,
                                                size_t len, int64_t due_unix_ms, int *added);

/* cf_continuation_wake publishes (wf_class, key)'s canonical continuation on queue, due now
 * (cf_continuation_publish): the wake of a workflow that Postgres already made due (a requeue, a
 * cancel, a signal), so a lost wake is republished by the healing pass. */
CF_MUST_CHECK cf_status cf_continuation_wake(cf_queue *q, const char *wf_class, const char *key,
                                             const char *queue);

/* cf_first_envelope_publish adds member (a workflow's first envelope, with kwargs: a child's, or
 * a schedule's fire) to P:{queue}:scheduled due at due_unix_ms unless it is there already (ZADD
 * NX: a repeat after a lost reply adds nothing), as a delivery's end does; otherwise as
 * cf_continuation_publish. */
CF_MUST_CHECK cf_status cf_first_envelope_publish(cf_queue *q, const char *queue,
                                                  const void *member, size_t len,
                                                  int64_t due_unix_ms, int *added);

/* cf_continuation_remove deletes member from P:{queue}:scheduled (ZREM) when its workflow
 * completes, stalls or fails. *removed (may be NULL) is 1 when it was there. */
CF_MUST_CHECK cf_status cf_continuation_remove(cf_queue *q, const char *queue, const void *member,
                                               size_t len, int *removed);

/* cf_schedule_due_ms reads the score of member in P:{queue}:scheduled: CF_ERR_NOT_FOUND when
 * absent. */
CF_MUST_CHECK cf_status cf_schedule_due_ms(cf_queue *q, const char *queue, const void *member,
                                           size_t len, int64_t *due_unix_ms);

#endif
