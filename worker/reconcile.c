// SPDX-License-Identifier: MIT
/* worker/reconcile.c: the two-sighting reconciliation of a live worker's Redis holdings. */
#include "worker/reconcile.h"

#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "queue/fetch.h"
#include "queue/holdings.h"
#include "queue/queue.h"

#define SCAN_MAX 10000

typedef struct suspect {
    uint64_t hash;
    int64_t first_seen_ms;
} suspect;

/* Sightings of this pass (cur) and of the previous one (old); the buffers swap every pass. */
struct cf_reconciler {
    suspect *old, *cur;
    size_t nold, ncur, cap_old, cap_cur;
};

cf_reconciler *cf_reconciler_new(void)
{
    return cf_calloc(1, sizeof(cf_reconciler));
}

void cf_reconciler_free(cf_reconciler *rc)
{
    if (rc == NULL)
        return;
    cf_free(rc->old);
    cf_free(rc->cur);
    cf_free(rc);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* sighting records a stale item in this pass and says whether it was already stale at least
 * min_age_ms ago (then it may be acted on). */
static bool sighting(cf_reconciler *rc, uint64_t hash, int64_t now, int64_t min_age_ms)
{
    int64_t first = now;
    for (size_t i = 0; i < rc->nold; i++)
        if (rc->old[i].hash == hash)
            first = rc->old[i].first_seen_ms;
    if (cf_grow(&rc->cur, &rc->cap_cur, rc->ncur, sizeof *rc->cur, 16) != 0)
        return false; /* not remembered: acted on at a later pass */
    rc->cur[rc->ncur++] = (suspect){hash, first};
    return now - first >= min_age_ms;
}

static cf_status reconcile_envelopes(cf_reconciler *rc, cf_queue *q, const char *const *queues,
                                     const cf_holdings *h, cf_active *active, int64_t now,
                                     int64_t min_age_ms, cf_reconcile_stats *stats)
{
    for (size_t i = 0; i < h->nenvelopes; i++) {
        const cf_held_envelope *e = &h->envelopes[i];
        bool first_of_kind = true;
        size_t count = 0;
        for (size_t j = 0; j < h->nenvelopes; j++) {
            const cf_held_envelope *o = &h->envelopes[j];
            if (o->queue_index == e->queue_index && o->len == e->len &&
                memcmp(o->env, e->env, e->len) == 0) {
                if (j < i)
                    first_of_kind = false;
                count++;
            }
        }
        if (!first_of_kind)
            continue;
        size_t held = cf_active_count_env(active, e->queue_index, e->env, e->len);
        if (count <= held)
            continue;
        uint64_t hash =
            fnv(fnv(14695981039346656037ULL, "env", 3), &e->queue_index, sizeof e->queue_index);
        hash = fnv(hash, e->env, e->len);
        if (!sighting(rc, hash, now, min_age_ms))
            continue;
        for (size_t k = held; k < count; k++) {
            cf_status st = cf_fetch_requeue(q, queues[e->queue_index], e->env, e->len);
            if (st == CF_OK)
                stats->requeued++;
            else if (st != CF_ERR_NOT_FOUND)
                return st;
        }
    }
    return CF_OK;
}

static cf_status reconcile_locks(cf_reconciler *rc, cf_queue *q, const cf_holdings *h,
                                 cf_active *active, int64_t now, int64_t min_age_ms,
                                 cf_reconcile_stats *stats)
{
    const char *worker_id = cf_queue_worker_id(q);
    size_t idlen = strlen(worker_id);
    for (size_t i = 0; i < h->nlocks; i++) {
        const cf_held_lock *l = &h->locks[i];
        bool mine = l->value && strncmp(l->value, worker_id, idlen) == 0 && l->value[idlen] == '/';
        if (mine && cf_active_has_token(active, l->value))
            continue;
        uint64_t hash =
            fnv(fnv(14695981039346656037ULL, "lock", 4), l->lock_key, strlen(l->lock_key));
        if (l->value)
            hash = fnv(hash, l->value, strlen(l->value));
        if (!sighting(rc, hash, now, min_age_ms))
            continue;
        cf_status st = cf_holdings_free_lock(q, l->lock_key, mine ? l->value : NULL);
        if (st != CF_OK)
            return st;
        if (mine)
            stats->locks_freed++;
        else
            stats->held_dropped++;
    }
    return CF_OK;
}

cf_status cf_reconcile_pass(cf_reconciler *rc, cf_queue *q, const char *const *queues,
                            size_t nqueues, cf_active *active, int64_t min_age_ms,
                            cf_reconcile_stats *stats)
{
    cf_reconcile_stats local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    cf_holdings h;
    cf_status st = cf_holdings_scan(q, queues, nqueues, SCAN_MAX, &h);
    if (st != CF_OK)
        return st;
    int64_t now = cf_clock_mono_ms();
    rc->ncur = 0;
    st = reconcile_envelopes(rc, q, queues, &h, active, now, min_age_ms, stats);
    if (st == CF_OK)
        st = reconcile_locks(rc, q, &h, active, now, min_age_ms, stats);
    cf_holdings_deinit(&h);
    if (st != CF_OK)
        return st; /* keep the old sightings: nothing was decided */
    suspect *t = rc->old;
    size_t tcap = rc->cap_old;
    rc->old = rc->cur;
    rc->cap_old = rc->cap_cur;
    rc->nold = rc->ncur;
    rc->cur = t;
    rc->cap_cur = tcap;
    if (stats->requeued || stats->locks_freed || stats->held_dropped)
        log_warn("event=reconciled requeued=%lld locks_freed=%lld held_dropped=%lld: Redis held "
                 "work for this worker that it no longer runs (Redis lost recent writes?)",
                 (long long)stats->requeued, (long long)stats->locks_freed,
                 (long long)stats->held_dropped);
    return CF_OK;
}
