// SPDX-License-Identifier: MIT
/* worker/promoter.c: the deadline-driven promotion thread (contract in promoter.h).
 *
 * The wake target: p->target is the Unix ms (Redis server's clock) at which the thread next
 * looks at the scheduled sets. It is INT64_MAX while a pass runs; a publish (in-process hook or
 * a P:{Q}:wake message) whose due time is below it lowers it by compare-and-swap, and the hook
 * then writes one byte into the pipe the thread polls. A pass ends by draining the pipe and
 * only then folding the earliest due time it read into target, so a publish racing with the
 * pass is either in target already or has its byte still in the pipe: never lost. */
#include "worker/promoter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/liveness.h"
#include "common/log.h"
#include "queue/keys.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"

#define MAX_ROUNDS     50   /* promote calls per queue and pass (x CF_PROMOTE_BATCH_DEFAULT) */
#define RETRY_MS       1000 /* after an error, or while not subscribed: look again this soon */
#define RESUBSCRIBE_MS 1000 /* the subscriber is reconnected at most this often */
/* After a pass that moved envelopes, the next one waits at least this long: due times a few
 * ms apart (a steady stream of waits) are promoted in batches of COALESCE_MS rather than one
 * Redis call per due ms, for at most this much added lateness. */
#define COALESCE_MS 5

struct cf_promoter {
    const cf_config *cfg;
    cf_queue *queue; /* promote calls */
    cf_redis *sub;   /* SUBSCRIBE P:{Q}:wake for every queue; nothing else */
    char (*chans)[CF_KEY_MAX];
    bool subscribed;
    int64_t next_subscribe_mono;
    int pipe_rd, pipe_wr;
    _Atomic int64_t target;
    int64_t offset_ms; /* Redis server clock - local clock, as of the last pass */
    cf_schedule_hook hook;
    bool hook_installed;
    pthread_t thread;
    atomic_bool stop;
};

static cf_log_limiter promoter_limiter;

static void report(cf_promoter *p, const char *what, const char *why, cf_status st)
{
    int64_t suppressed = 0;
    if (cf_log_ratelimit(&promoter_limiter, 10000, &suppressed))
        log_warn("event=promoter_error op=%s status=%s: %s (%lld similar suppressed)", what,
                 cf_status_str(st), why, (long long)suppressed);
    (void)p;
}

static void poke(cf_promoter *p)
{
    char b = 1;
    ssize_t n = write(p->pipe_wr, &b, 1); /* full pipe (EAGAIN): a wake is pending anyway */
    (void)n;
}

static void drain(cf_promoter *p)
{
    char buf[64];
    while (read(p->pipe_rd, buf, sizeof buf) > 0) {
    }
}

/* lower sets target to due when that is earlier; true when it did. */
static bool lower(cf_promoter *p, int64_t due)
{
    int64_t t = atomic_load_explicit(&p->target, memory_order_relaxed);
    while (due < t)
        if (atomic_compare_exchange_weak(&p->target, &t, due))
            return true;
    return false;
}

/* on_publish is the queue/ publish hook: a compare, and a pipe write only for a due time
 * earlier than the one the thread will wake for. Runs on the publishing thread. */
static void on_publish(void *ctx, const char *queue, int64_t due_unix_ms)
{
    cf_promoter *p = ctx;
    if (due_unix_ms >= atomic_load_explicit(&p->target, memory_order_relaxed))
        return;
    for (int i = 0; i < p->cfg->nqueues; i++) {
        if (strcmp(queue, p->cfg->queues[i]) == 0) {
            if (lower(p, due_unix_ms))
                poke(p);
            return;
        }
    }
}

static void try_subscribe(cf_promoter *p)
{
    if (p->subscribed && cf_redis_is_connected(p->sub))
        return;
    p->subscribed = false;
    int64_t now = cf_clock_mono_ms();
    if (now < p->next_subscribe_mono)
        return;
    p->next_subscribe_mono = now + RESUBSCRIBE_MS;
    const char *names[CF_MAX_QUEUES];
    for (int i = 0; i < p->cfg->nqueues; i++)
        names[i] = p->chans[i];
    cf_status st = cf_redis_subscribe(p->sub, p->cfg->nqueues, names);
    if (st == CF_OK)
        p->subscribed = true;
    else
        report(p, "subscribe", cf_redis_errstr(p->sub), st);
}

/* pass promotes everything due in every queue; *next receives the earliest due time left
 * (server clock; INT64_MAX when none, 0 when a queue had more due than a pass moves), *now the
 * server's now and *moved whether anything moved. False after a Redis error. */
static bool pass(cf_promoter *p, int64_t *next, int64_t *now, bool *moved)
{
    *next = INT64_MAX;
    *now = 0;
    *moved = false;
    for (int i = 0; i < p->cfg->nqueues && !atomic_load(&p->stop); i++) {
        cf_promote_result res;
        int rounds = 0;
        do {
            cf_status st = cf_schedule_promote_next(p->queue, p->cfg->queues[i], 0,
                                                    CF_PROMOTE_BATCH_DEFAULT, &res);
            if (st != CF_OK) {
                report(p, "promote", cf_queue_errstr(p->queue), st);
                return false;
            }
            *moved = *moved || res.moved > 0;
        } while (res.moved == CF_PROMOTE_BATCH_DEFAULT && ++rounds < MAX_ROUNDS &&
                 !atomic_load(&p->stop));
        if (res.moved == CF_PROMOTE_BATCH_DEFAULT) /* more left: the next pass at once */
            res.next_due_ms = 0;
        if (res.next_due_ms >= 0 && res.next_due_ms < *next)
            *next = res.next_due_ms;
        *now = res.now_ms;
    }
    if (*now > 0)
        p->offset_ms = *now - cf_clock_unix_ms();
    return true;
}

/* wait_once waits up to ms for a wake message (lowering target), a poke or the time. */
static void wait_once(cf_promoter *p, int64_t ms)
{
    if (!p->subscribed) {
        struct pollfd pfd = {.fd = p->pipe_rd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(ms < RETRY_MS ? ms : RETRY_MS)) > 0)
            drain(p);
        return;
    }
    cf_reply *msg = NULL;
    cf_status st = cf_redis_wait_message(p->sub, ms, p->pipe_rd, &msg);
    if (st == CF_OK) {
        lower(p, strtoll(msg->elem[2].str, NULL, 10));
        cf_reply_free(msg);
    } else if (st == CF_ERR_NOT_FOUND) {
        drain(p);
    } else {
        /* Messages published while it is down are lost: the next pass reads the sets again. */
        report(p, "wake_channel", cf_redis_errstr(p->sub), st);
        p->subscribed = false;
        lower(p, 0);
    }
}

static void *promoter_main(void *arg)
{
    cf_promoter *p = arg;
    int64_t cap = p->cfg->promote_interval_ms > 0 ? p->cfg->promote_interval_ms : 1000;
    while (!atomic_load(&p->stop)) {
        cf_liveness_tick("promoter");
        try_subscribe(p);
        atomic_store(&p->target, INT64_MAX);
        int64_t next, now;
        bool moved;
        bool ok = pass(p, &next, &now, &moved);
        drain(p);
        int64_t local_now = cf_clock_unix_ms() + p->offset_ms;
        int64_t until = ok ? next : local_now + RETRY_MS;
        if (moved && next > 0 && until < local_now + COALESCE_MS)
            until = local_now + COALESCE_MS;
        if (until > local_now + cap)
            until = local_now + cap;
        lower(p, until);
        if (!ok) {
            cf_redis *r = cf_queue_redis(p->queue);
            if (!cf_redis_is_connected(r)) {
                cf_liveness_touch();
                if (cf_redis_wait_reconnect(r, &p->stop) != CF_OK)
                    continue; /* still down: the next pass tries again */
            }
        }
        for (;;) {
            if (atomic_load(&p->stop))
                break;
            int64_t wait = atomic_load(&p->target) - (cf_clock_unix_ms() + p->offset_ms);
            if (wait <= 0)
                break;
            bool was_subscribed = p->subscribed;
            wait_once(p, wait);
            if (was_subscribed && !p->subscribed)
                break;
        }
    }
    cf_liveness_leave();
    return NULL;
}

static void promoter_free(cf_promoter *p)
{
    if (p->hook_installed)
        cf_schedule_hook_clear(&p->hook);
    if (p->pipe_rd >= 0)
        close(p->pipe_rd);
    if (p->pipe_wr >= 0)
        close(p->pipe_wr);
    cf_redis_free(p->sub);
    cf_queue_free(p->queue);
    cf_free(p->chans);
    cf_free(p);
}

static bool open_pipe(cf_promoter *p)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    p->pipe_rd = fds[0];
    p->pipe_wr = fds[1];
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
            return false;
    }
    return true;
}

cf_status cf_promoter_start(const cf_config *cfg, const char *worker_id, cf_promoter **out)
{
    *out = NULL;
    cf_promoter *p = cf_calloc(1, sizeof *p);
    if (p == NULL)
        return CF_ERR_NOMEM;
    p->cfg = cfg;
    p->pipe_rd = p->pipe_wr = -1;
    atomic_init(&p->stop, false);
    atomic_init(&p->target, INT64_MAX);
    p->hook = (cf_schedule_hook){on_publish, p};
    cf_error err;
    cf_status st = cf_queue_new(cfg->redis_url, cfg->prefix, worker_id, NULL, &p->queue, &err);
    if (st == CF_OK)
        st = cf_redis_new(cfg->redis_url, NULL, &p->sub, &err);
    if (st != CF_OK) {
        log_error("event=startup_failed: %s", err.msg);
        promoter_free(p);
        return st;
    }
    p->chans = cf_calloc((size_t)cfg->nqueues, sizeof *p->chans);
    bool ok = p->chans != NULL && open_pipe(p);
    for (int i = 0; ok && i < cfg->nqueues; i++)
        ok = cf_key_wake(p->chans[i], CF_KEY_MAX, cfg->prefix, cfg->queues[i]) > 0;
    if (!ok) {
        promoter_free(p);
        return CF_ERR_NOMEM;
    }
    p->hook_installed = cf_schedule_hook_set(&p->hook);
    if (pthread_create(&p->thread, NULL, promoter_main, p) != 0) {
        promoter_free(p);
        return CF_ERR_NOMEM;
    }
    *out = p;
    return CF_OK;
}

void cf_promoter_stop(cf_promoter *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, true);
    poke(p);
    pthread_join(p->thread, NULL);
    promoter_free(p);
}

void cf_promoter_abandon(cf_promoter *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, true);
    poke(p);
    pthread_detach(p->thread); /* never joined: it ends on its own */
}
