// SPDX-License-Identifier: MIT
/* worker/control.c: the control loop (worker/control.h). One thread with its own blocking Redis
 * connection takes requests from P:{Q}:control of every queue the worker serves (a BLMOVE
 * slice on one queue at a time; idle, that is one blocking command per slice), and for each:
 * decode; look up the answer already recorded for its id (a request taken again after its
 * worker died); otherwise run its op's handler, which commits to Postgres, publish the wake
 * the op left, and record the answer; answer on the reply key; ack. A request that cannot
 * be decoded is refused on its reply key when its id and reply key could be read, else
 * dead-lettered with the refusal code; nothing is dropped silently. While Postgres is away a
 * request goes back to its list and the loop backs off. */
#include "worker/control.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/liveness.h"
#include "common/log.h"
#include "queue/control.h"
#include "queue/keys.h"
#include "queue/schedule.h"

#define SLICE_ONE_MS  1000 /* BLMOVE slice with one queue */
#define SLICE_MANY_MS 200  /* with several: a request on another queue waits at most this */

struct cf_control {
    const cf_config *cfg;
    cf_store *store;
    cf_queue *queue; /* own connection, with the worker id: the in-flight lists are its */
    pthread_t thread;
    atomic_bool stop;
};

static const cf_control_op *find_op(const char *name)
{
    for (const cf_control_op *op = cf_control_ops; op->name; op++)
        if (strcmp(op->name, name) == 0)
            return op;
    return NULL;
}

/* reply_key_ok: the reply key a request names must be P:reply:<its id>, nothing else (a
 * request must not make a worker write an arbitrary key). */
static bool reply_key_ok(cf_queue *q, const cf_control_request *r, char *key, size_t cap)
{
    if (!r->reply || !r->id)
        return false;
    int n = cf_key_reply(key, cap, cf_queue_prefix(q), r->id);
    return n > 0 && strcmp(key, r->reply) == 0;
}

/* decide gives the answer to a decoded request: the recorded one (*fresh false), else its op's,
 * committed to Postgres (*fresh true: the caller publishes its wake, then records the answer).
 * A transient status: not decided, try later. */
static cf_status decide(cf_store *store, const cf_control_request *r, cf_control_result *res,
                        bool *fresh)
{
    memset(res, 0, sizeof *res);
    *fresh = false;
    cf_status st = cf_store_control_seen(store, r->id, &res->answer);
    if (st == CF_OK)
        return CF_OK; /* answered before (its wake, if any, is healed from the store) */
    if (st != CF_ERR_NOT_FOUND)
        return st;
    const cf_control_op *op = find_op(r->op);
    if (op == NULL)
        cf_control_refuse(res, "unknown_op", "this worker knows no op '%s'", r->op);
    else if ((st = op->handler(store, r, res)) != CF_OK)
        return st;
    *fresh = true;
    return CF_OK;
}

cf_status cf_control_apply(cf_queue *q, cf_store *store, const char *queue, const char *raw,
                           size_t len)
{
    cf_control_request r;
    cf_error err = {0};
    char reply_key[CF_KEY_MAX];
    cf_control_result res = {0};
    cf_status st = cf_control_request_decode(raw, len, &r, &err);
    if (st != CF_OK && st != CF_ERR_INVALID) { /* out of memory: later */
        cf_control_request_deinit(&r);
        cf_status pst = cf_control_putback(q, queue, raw, len);
        return pst == CF_OK ? st : pst;
    }
    bool can_reply = reply_key_ok(q, &r, reply_key, sizeof reply_key);
    if (st == CF_ERR_INVALID) {
        cf_control_refuse(&res, err.code, "%s%s%s", err.field, err.field[0] ? ": " : "", err.msg);
        log_warn("event=control_refused queue=%s code=%s field=%s: %s%s", queue, err.code,
                 err.field, err.msg, can_reply ? "" : " (no reply key: dead-lettered)");
    } else if (st == CF_OK && r.reply && !can_reply) {
        st = CF_ERR_INVALID;
        snprintf(err.code, sizeof err.code, "bad_value");
        snprintf(err.msg, sizeof err.msg, "reply must be the key <prefix>:reply:<id>");
        snprintf(err.field, sizeof err.field, "reply");
        log_warn("event=control_refused queue=%s code=bad_value field=reply: %s", queue, err.msg);
    } else if (st == CF_OK) {
        bool fresh = false;
        st = decide(store, &r, &res, &fresh);
        /* the wake first: the workflow starts while the answer is recorded */
        if (st == CF_OK && res.wake &&
            cf_continuation_wake(q, res.wake_class, res.wake_key, res.wake_queue) != CF_OK)
            log_warn("event=control_wake_failed: %s; the healing pass publishes it",
                     cf_queue_errstr(q));
        if (st == CF_OK && fresh) /* a retake after a failure here applies it again: idempotent */
            st = cf_store_control_record(store, r.id, r.op, r.wf_class, r.key, &res.answer);
        if (st != CF_OK) { /* Postgres away: take it again later */
            cf_control_request_deinit(&r);
            cf_status pst = cf_control_putback(q, queue, raw, len);
            return pst == CF_OK ? st : pst;
        }
        log_info("event=control_applied queue=%s op=%s class=%s key=%s id=%s outcome=%s%s%s", queue,
                 r.op, r.wf_class, r.key, r.id, res.answer.accepted ? "accepted" : "refused",
                 res.answer.accepted ? "" : " code=", res.answer.code);
    }
    if (st == CF_ERR_INVALID && !can_reply) {
        cf_deadletter_reason why = {err.code, err.msg, err.field[0] ? err.field : NULL};
        st = cf_control_dead(q, queue, raw, len, &why);
        cf_control_request_deinit(&r);
        return st;
    }
    if (can_reply) {
        cf_control_reply rep = {.accepted = res.answer.accepted};
        snprintf(rep.id, sizeof rep.id, "%s", r.id);
        snprintf(rep.code, sizeof rep.code, "%s", res.answer.code);
        snprintf(rep.reason, sizeof rep.reason, "%s", res.answer.reason);
        st = cf_control_reply_send(q, reply_key, &rep);
        if (st != CF_OK) { /* Redis trouble: answered again (from the record) when retaken */
            cf_control_request_deinit(&r);
            cf_status pst = cf_control_putback(q, queue, raw, len);
            return pst == CF_OK ? st : pst;
        }
    }
    cf_control_request_deinit(&r);
    return cf_control_ack(q, queue, raw, len);
}

/* take_one takes the next request of any queue, blocking one slice at most. */
static cf_status take_one(cf_control *c, size_t *rr, char **raw, size_t *len, const char **queue)
{
    size_t n = (size_t)c->cfg->nqueues;
    for (size_t i = 0; n > 1 && i < n; i++) { /* a look at every queue first, without waiting */
        *queue = c->cfg->queues[(*rr + i) % n];
        cf_status st = cf_control_take(c->queue, *queue, 0, raw, len);
        if (st != CF_ERR_NOT_FOUND)
            return st;
    }
    *queue = c->cfg->queues[*rr % n];
    *rr = (*rr + 1) % n;
    return cf_control_take(c->queue, *queue, n > 1 ? SLICE_MANY_MS : SLICE_ONE_MS, raw, len);
}

static void *control_main(void *arg)
{
    cf_control *c = arg;
    size_t rr = 0;
    int failures = 0;
    while (!atomic_load(&c->stop)) {
        cf_liveness_tick("control");
        char *raw = NULL;
        size_t len = 0;
        const char *queue = NULL;
        cf_status st = take_one(c, &rr, &raw, &len, &queue);
        if (st == CF_OK) {
            st = cf_control_apply(c->queue, c->store, queue, raw, len);
            cf_free(raw);
        }
        if (st == CF_OK || st == CF_ERR_NOT_FOUND) {
            failures = 0;
            continue;
        }
        if (++failures == 1 || failures % 20 == 0)
            log_warn("event=control_error: %s (%s); retrying", cf_status_str(st),
                     cf_queue_errstr(c->queue)[0] ? cf_queue_errstr(c->queue)
                                                  : cf_store_errstr(c->store));
        cf_clock_sleep_ms(cf_backoff_delay_ms(100, 5000, failures, true), &c->stop);
    }
    cf_liveness_leave();
    return NULL;
}

cf_status cf_control_start(const cf_config *cfg, const char *worker_id, cf_store *store,
                           cf_control **out)
{
    *out = NULL;
    cf_control *c = cf_calloc(1, sizeof *c);
    if (c == NULL)
        return CF_ERR_NOMEM;
    c->cfg = cfg;
    c->store = store;
    cf_error err;
    cf_status st = cf_queue_new(cfg->redis_url, cfg->prefix, worker_id, NULL, &c->queue, &err);
    if (st == CF_OK && pthread_create(&c->thread, NULL, control_main, c) != 0)
        st = CF_ERR_NOMEM;
    if (st != CF_OK) {
        log_error("event=startup_failed: control loop: %s",
                  c->queue ? "cannot start its thread" : err.msg);
        cf_queue_free(c->queue);
        cf_free(c);
        return st;
    }
    *out = c;
    return CF_OK;
}

void cf_control_stop(cf_control *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    cf_queue_free(c->queue);
    cf_free(c);
}

void cf_control_abandon(cf_control *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->stop, true);
    pthread_detach(c->thread);
}
