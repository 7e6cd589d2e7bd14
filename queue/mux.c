// SPDX-License-Identifier: MIT
/* queue/mux.c: the auto-pipelined shared connection (queue/mux.h): the request queue, the
 * combining leader that writes one batch and hands replies back, and the refusal of blocking
 * commands. The connection itself (reconnects, scripts, errors) is redis_conn.c's. */
#include "queue/mux.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "queue/redis_conn_internal.h"

/* One caller's piece of a batch; lives on the caller's stack until done. Its own mutex and
 * condition variable carry the two things a caller waits for (its replies, or the lead), so a
 * woken caller never contends for the queue's mutex. */
typedef struct mux_req {
    const cf_redis_cmd *cmds;
    size_t n;
    cf_reply **replies;
    char *err;
    size_t cap;
    cf_status st;
    struct mux_req *next; /* in the queue, then in its batch (m->mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done; /* replies are in (mu) */
    bool lead; /* this caller leads the next batch (mu) */
} mux_req;

struct cf_mux {
    pthread_mutex_t mu; /* guards busy, drop and the queue; never held during I/O */
    cf_redis *conn;     /* the real connection: used by the leader only */
    char *url;          /* for client handles' messages (holds the password: wiped on free) */
    bool busy;          /* there is a leader (running a batch, or told to run the next) */
    bool drop;          /* drop the connection before the next batch */
    size_t on_wire;     /* requests in the batch being run */
    mux_req *head, *tail;
    atomic_bool connected;
    _Atomic uint64_t batches, requests;
    /* the leader's scratch, grown as needed */
    cf_redis_cmd *cmds;
    cf_reply **replies;
    size_t cap;
    size_t *seg_end;
    cf_status *seg_st;
    size_t seg_cap;
};

cf_status cf_mux_new(const char *url, const cf_redis_opts *opts, cf_mux **out, cf_error *err)
{
    *out = NULL;
    cf_mux *m = cf_calloc(1, sizeof *m);
    if (m == NULL)
        return CF_ERR_NOMEM;
    cf_status st = cf_redis_new(url, opts, &m->conn, err);
    if (st != CF_OK) {
        cf_free(m);
        return st;
    }
    m->url = cf_strdup(url);
    if (m->url == NULL) {
        cf_redis_free(m->conn);
        cf_free(m);
        return CF_ERR_NOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return CF_OK;
}

cf_status cf_mux_client(cf_mux *m, cf_redis **out, cf_error *err)
{
    return cf_redis_new_client(m->url, m, out, err);
}

void cf_mux_free(cf_mux *m)
{
    if (m == NULL)
        return;
    cf_redis_free(m->conn);
    volatile char *p = m->url; /* the URL may carry a password */
    while (*p)
        *p++ = '\0';
    cf_free(m->url);
    cf_free(m->cmds);
    cf_free(m->replies);
    cf_free(m->seg_end);
    cf_free(m->seg_st);
    pthread_mutex_destroy(&m->mu);
    cf_free(m);
}

void cf_mux_stats(cf_mux *m, cf_mux_counts *out)
{
    pthread_mutex_lock(&m->mu);
    out->batches = atomic_load(&m->batches);
    out->requests = atomic_load(&m->requests);
    out->queued = 0;
    for (mux_req *q = m->head; q; q = q->next)
        out->queued++;
    out->on_wire = m->on_wire;
    pthread_mutex_unlock(&m->mu);
}

void cf_mux_drop(cf_mux *m)
{
    pthread_mutex_lock(&m->mu);
    m->drop = true;
    pthread_mutex_unlock(&m->mu);
}

bool cf_mux_connected(cf_mux *m)
{
    return atomic_load(&m->connected);
}

/* ---- blocking commands are refused ---- */

static bool arg_is(const cf_redis_cmd *c, int i, const char *name)
{
    return c->lens[i] == strlen(name) && strncasecmp(c->argv[i], name, c->lens[i]) == 0;
}

static bool is_blocking(const cf_redis_cmd *c)
{
    static const char *const names[] = {"BLMOVE",     "BLPOP",      "BRPOP",    "BRPOPLPUSH",
                                        "BLMPOP",     "BZPOPMIN",   "BZPOPMAX", "BZMPOP",
                                        "WAIT",       "WAITAOF",    "MONITOR",  "SUBSCRIBE",
                                        "PSUBSCRIBE", "SSUBSCRIBE", "CLIENT"};
    if (c->script != NULL || c->argc < 1)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (arg_is(c, 0, names[i]))
            return strcmp(names[i], "CLIENT") != 0 || (c->argc > 1 && arg_is(c, 1, "PAUSE"));
    if (arg_is(c, 0, "XREAD") || arg_is(c, 0, "XREADGROUP"))
        for (int i = 1; i < c->argc; i++)
            if (arg_is(c, i, "BLOCK"))
                return true;
    return false;
}

/* ---- the leader ---- */

static bool grow(cf_mux *m, size_t n, size_t nseg)
{
    if (n > m->cap) {
        size_t cap = n < 64 ? 64 : n * 2;
        cf_redis_cmd *c = cf_realloc(m->cmds, cap * sizeof *c);
        if (c == NULL)
            return false;
        m->cmds = c;
        cf_reply **r = cf_realloc(m->replies, cap * sizeof *r);
        if (r == NULL)
            return false;
        m->replies = r;
        m->cap = cap;
    }
    if (nseg > m->seg_cap) {
        size_t cap = nseg < 32 ? 32 : nseg * 2;
        size_t *e = cf_realloc(m->seg_end, cap * sizeof *e);
        if (e == NULL)
            return false;
        m->seg_end = e;
        cf_status *s = cf_realloc(m->seg_st, cap * sizeof *s);
        if (s == NULL)
            return false;
        m->seg_st = s;
        m->seg_cap = cap;
    }
    return true;
}

/* run_batch writes every request of batch as one pipeline and fills their results. Called by
 * the leader without the lock; nobody else touches m->conn or the scratch meanwhile. */
static void run_batch(cf_mux *m, mux_req *batch, bool drop)
{
    size_t n = 0, nseg = 0;
    for (mux_req *q = batch; q; q = q->next, nseg++)
        n += q->n;
    if (!grow(m, n, nseg)) {
        for (mux_req *q = batch; q; q = q->next) {
            q->st = CF_ERR_NOMEM;
            snprintf(q->err, q->cap, "redis: out of memory batching commands");
        }
        return;
    }
    size_t at = 0, k = 0;
    for (mux_req *q = batch; q; q = q->next) {
        if (q->n > 0)
            memcpy(m->cmds + at, q->cmds, q->n * sizeof *q->cmds);
        at += q->n;
        m->seg_end[k++] = at;
    }
    if (drop)
        cf_redis_disconnect(m->conn);
    /* its status is also in every seg_st[k] */
    cf_status st =
        cf_redis_pipeline_segs(m->conn, m->cmds, m->seg_end, nseg, m->replies, m->seg_st);
    (void)st;
    if (n > 0)
        atomic_fetch_add(&m->batches, 1);
    atomic_fetch_add(&m->requests, nseg);
    at = 0;
    k = 0;
    for (mux_req *q = batch; q; q = q->next, k++) {
        if (q->n > 0)
            memcpy(q->replies, m->replies + at, q->n * sizeof *q->replies);
        at += q->n;
        q->st = m->seg_st[k];
        if (q->st != CF_OK)
            cf_redis_copy_errstr(m->conn, q->err, q->cap);
    }
    atomic_store(&m->connected, cf_redis_is_connected(m->conn));
}

static void wake(mux_req *q, bool lead)
{
    pthread_mutex_lock(&q->mu);
    if (lead)
        q->lead = true;
    else
        q->done = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu); /* the last touch: q's caller may return from here on */
}

/* lead runs one batch of everything queued (the leader's own request included), passes the
 * lead to the first caller that queued meanwhile (or frees the connection), then wakes the
 * batch's callers. */
static void lead(cf_mux *m)
{
    /* A combining window without a timer: let threads that are runnable (about to queue their
     * lock or finish) run first and join this batch. Returns at once when nothing else is
     * runnable, so a lone caller pays one syscall, no wait. */
    sched_yield();
    pthread_mutex_lock(&m->mu);
    mux_req *batch = m->head;
    m->head = m->tail = NULL;
    for (mux_req *q = batch; q; q = q->next)
        m->on_wire++;
    bool drop = m->drop;
    m->drop = false;
    pthread_mutex_unlock(&m->mu);
    run_batch(m, batch, drop);
    pthread_mutex_lock(&m->mu);
    m->on_wire = 0;
    mux_req *next = m->head; /* stays queued (and alive) until it leads */
    if (next == NULL)
        m->busy = false;
    pthread_mutex_unlock(&m->mu);
    if (next)
        wake(next, true);
    for (mux_req *q = batch, *after; q; q = after) {
        after = q->next;
        wake(q, false);
    }
}

cf_status cf_mux_submit(cf_mux *m, const cf_redis_cmd *cmds, size_t n, cf_reply **replies,
                        char *err, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        if (is_blocking(&cmds[i])) {
            snprintf(err, cap,
                     "redis: %.*s blocks on the server and never goes through a shared "
                     "connection (give it a connection of its own)",
                     (int)(cmds[i].lens[0] > 32 ? 32 : cmds[i].lens[0]), cmds[i].argv[0]);
            return CF_ERR_INVALID;
        }
    }
    mux_req req = {.cmds = cmds, .n = n, .replies = replies, .err = err, .cap = cap};
    pthread_mutex_init(&req.mu, NULL);
    pthread_cond_init(&req.cv, NULL);
    pthread_mutex_lock(&m->mu);
    if (m->tail)
        m->tail->next = &req;
    else
        m->head = &req;
    m->tail = &req;
    bool leader = !m->busy;
    m->busy = true;
    pthread_mutex_unlock(&m->mu);
    for (;;) {
        if (leader)
            lead(m);
        pthread_mutex_lock(&req.mu);
        while (!req.done && !req.lead)
            pthread_cond_wait(&req.cv, &req.mu);
        bool done = req.done;
        leader = req.lead;
        req.lead = false;
        pthread_mutex_unlock(&req.mu);
        if (done)
            break;
    }
    pthread_cond_destroy(&req.cv);
    pthread_mutex_destroy(&req.mu);
    return req.st;
}
