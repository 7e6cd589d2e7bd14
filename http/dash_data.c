// SPDX-License-Identifier: MIT
/* http/dash_data.c: the dashboard's reads of Redis (queues: depths, in-flight, dead, the age of
 * the oldest ready envelope, how late the earliest scheduled wake is, the live workers taking
 * each queue), and a workflow's Redis lock, shared by the pages. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "http/dash_internal.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/fetch.h"
#include "queue/keys.h"
#include "queue/redis_conn.h"

static cf_reply *command(cf_dash *d, int argc, const char *const *argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_reply *rep = NULL;
    if (cf_redis_exec(cf_queue_redis(d->queue), argc, argv, lens, &rep) != CF_OK) {
        cf_reply_free(rep);
        return NULL;
    }
    return rep;
}

const char *cf_dash_worker_state(const cf_worker_entry *e)
{
    if (!e->live)
        return "stale";
    if (!e->has_info)
        return "running";
    if (e->quiet != e->quiet_wanted)
        return e->quiet_wanted ? "quieting" : "resuming";
    return e->quiet ? "quiet" : "running";
}

static bool takes(const cf_worker_entry *w, const char *queue)
{
    size_t ql = strlen(queue);
    for (const char *p = w->queues; p && *p;) {
        size_t len = strcspn(p, ", ");
        if (len == ql && strncmp(p, queue, ql) == 0)
            return true;
        p += len;
        p += strspn(p, ", ");
    }
    return false;
}

/* oldest: the age of the oldest ready envelope (the RIGHT end: workers take from there). */
static int64_t oldest(cf_dash *d, const char *queue, int64_t now_ms)
{
    char key[CF_KEY_MAX];
    if (cf_key_ready(key, sizeof key, d->cfg->prefix, queue) < 0)
        return -1;
    const char *argv[] = {"LINDEX", key, "-1"};
    cf_reply *rep = command(d, 3, argv);
    int64_t age = -1;
    cf_envelope env;
    if (rep && rep->type == CF_REPLY_STRING &&
        cf_envelope_decode(rep->str, rep->len, NULL, &env, NULL) == CF_OK) {
        if (env.has_created_at)
            age = now_ms - (int64_t)(env.created_at * 1000.0);
        cf_envelope_deinit(&env);
    }
    cf_reply_free(rep);
    return age;
}

/* overdue: how late the earliest scheduled entry is (<= 0: none due yet). */
static int64_t overdue(cf_dash *d, const char *queue, int64_t now_ms)
{
    char key[CF_KEY_MAX];
    if (cf_key_scheduled(key, sizeof key, d->cfg->prefix, queue) < 0)
        return 0;
    const char *argv[] = {"ZRANGE", key, "0", "0", "WITHSCORES"};
    cf_reply *rep = command(d, 5, argv);
    int64_t late = 0;
    if (rep && rep->type == CF_REPLY_ARRAY && rep->n == 2 && rep->elem[1].type == CF_REPLY_STRING)
        late = now_ms - (int64_t)strtod(rep->elem[1].str, NULL);
    cf_reply_free(rep);
    return late;
}

cf_status cf_dash_queues_read(cf_dash *d, dash_queue *out, size_t cap, size_t *n,
                              cf_worker_entry **workers_out, size_t *nworkers_out)
{
    *n = 0;
    cf_worker_entry *workers = NULL;
    size_t nworkers = 0;
    char key[CF_KEY_MAX];
    cf_status st = cf_workers_list(d->queue, d->cfg->lease_ms, &workers, &nworkers);
    if (st != CF_OK)
        return st;
    if (cf_key_queues(key, sizeof key, d->cfg->prefix) < 0) {
        cf_workers_list_free(workers, nworkers);
        return CF_ERR_INVALID;
    }
    const char *argv[] = {"SMEMBERS", key};
    cf_reply *rep = command(d, 2, argv);
    if (rep == NULL || rep->type != CF_REPLY_ARRAY) {
        cf_reply_free(rep);
        cf_workers_list_free(workers, nworkers);
        return CF_ERR_UNAVAILABLE;
    }
    int64_t now = cf_clock_unix_ms();
    for (size_t i = 0; i < rep->n && *n < cap; i++) {
        const cf_reply *e = &rep->elem[i];
        if (e->type != CF_REPLY_STRING || !cf_queue_name_valid(e->str))
            continue;
        dash_queue *q = &out[*n];
        memset(q, 0, sizeof *q);
        snprintf(q->name, sizeof q->name, "%s", e->str);
        if (cf_queue_depths(d->queue, q->name, &q->ready, &q->scheduled, &q->dead) != CF_OK)
            continue;
        for (size_t w = 0; w < nworkers; w++) {
            int64_t c = 0;
            if (cf_fetch_inflight_count(d->queue, workers[w].id, q->name, &c) == CF_OK)
                q->inflight += c;
            q->live_workers += workers[w].live && takes(&workers[w], q->name);
        }
        q->oldest_ready_ms = q->ready > 0 ? oldest(d, q->name, now) : -1;
        q->overdue_wake_ms = q->scheduled > 0 ? overdue(d, q->name, now) : 0;
        (*n)++;
    }
    cf_reply_free(rep);
    /* sorted by name: a stable page */
    for (size_t i = 1; i < *n; i++)
        for (size_t k = i; k > 0 && strcmp(out[k - 1].name, out[k].name) > 0; k--) {
            dash_queue t = out[k];
            out[k] = out[k - 1];
            out[k - 1] = t;
        }
    if (workers_out) {
        *workers_out = workers;
        *nworkers_out = nworkers;
    } else {
        cf_workers_list_free(workers, nworkers);
    }
    return CF_OK;
}

cf_status cf_dash_lock_read(cf_dash *d, const char *wf_class, const char *key, char *value,
                            size_t cap, int64_t *ttl_ms)
{
    char lk[CF_KEY_MAX + 300];
    value[0] = '\0';
    *ttl_ms = -1;
    if (cf_key_lock(lk, sizeof lk, d->cfg->prefix, wf_class, key) < 0)
        return CF_ERR_INVALID;
    const char *get[] = {"GET", lk};
    cf_reply *rep = command(d, 2, get);
    if (rep == NULL)
        return CF_ERR_UNAVAILABLE;
    if (rep->type == CF_REPLY_STRING)
        snprintf(value, cap, "%s", rep->str);
    cf_reply_free(rep);
    const char *pttl[] = {"PTTL", lk};
    rep = command(d, 2, pttl);
    if (rep && rep->type == CF_REPLY_INTEGER)
        *ttl_ms = rep->integer;
    cf_reply_free(rep);
    return CF_OK;
}
