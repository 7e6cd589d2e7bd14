// SPDX-License-Identifier: MIT
/* http/fleet.c: the fleet gauges of http/fleet.h, read from Redis at scrape time. */
#include "http/fleet.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "http/metrics.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/fetch.h"
#include "queue/keys.h"
#include "queue/pause.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "queue/workers.h"

/* command runs argv[0..argc) and returns its reply (NULL on error). */
static cf_reply *command(cf_redis *r, int argc, const char *const *argv)
{
    size_t lens[4];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_reply *rep = NULL;
    if (cf_redis_exec(r, argc, argv, lens, &rep) != CF_OK) {
        cf_reply_free(rep);
        return NULL;
    }
    return rep;
}

static bool holds_lease(cf_redis *r, const char *prefix, const char *worker_id)
{
    char key[CF_KEY_MAX];
    if (cf_key_sweeper(key, sizeof key, prefix) < 0)
        return false;
    const char *argv[] = {"GET", key};
    cf_reply *rep = command(r, 2, argv);
    bool mine = rep && rep->type == CF_REPLY_STRING && strcmp(rep->str, worker_id) == 0;
    cf_reply_free(rep);
    return mine;
}

static void gauge_head(FILE *out, const char *name, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

typedef struct queue_row {
    const char *name;
    int64_t ready, scheduled, dead, inflight, due, paused;
    double oldest_s;
} queue_row;

/* reply_int: an integer reply's value, or 0. */
static int64_t reply_int(const cf_reply *r)
{
    return r && r->type == CF_REPLY_INTEGER ? r->integer : 0;
}

/* ages reads, in one round trip, what waits longest in q->name: the next envelope to be taken
 * from ready (the right end; its age is now - its producer's created_at; a continuation carries
 * none), and the scheduled entries already due (count, and the earliest one's age now - due
 * time). oldest_s is the larger of the two ages, 0 when nothing waits. */
static void ages(cf_redis *r, const char *prefix, queue_row *q, int64_t now_ms)
{
    char rk[CF_KEY_MAX], sk[CF_KEY_MAX], now[32];
    if (cf_key_ready(rk, sizeof rk, prefix, q->name) < 0 ||
        cf_key_scheduled(sk, sizeof sk, prefix, q->name) < 0)
        return;
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *a0[] = {"LINDEX", rk, "-1"};
    const char *a1[] = {"ZCOUNT", sk, "-inf", now};
    const char *a2[] = {"ZRANGEBYSCORE", sk, "-inf", now, "WITHSCORES", "LIMIT", "0", "1"};
    size_t l0[3], l1[4], l2[8];
    for (int i = 0; i < 8; i++) {
        if (i < 3)
            l0[i] = strlen(a0[i]);
        if (i < 4)
            l1[i] = strlen(a1[i]);
        l2[i] = strlen(a2[i]);
    }
    cf_redis_cmd cmds[3] = {
        {NULL, 0, 3, a0, l0},
        {NULL, 0, 4, a1, l1},
        {NULL, 0, 8, a2, l2},
    };
    cf_reply *reps[3] = {NULL, NULL, NULL};
    if (cf_redis_pipeline(r, cmds, 3, reps) == CF_OK) {
        cf_envelope env;
        cf_error err;
        if (reps[0] && reps[0]->type == CF_REPLY_STRING) {
            if (cf_envelope_decode(reps[0]->str, reps[0]->len, NULL, &env, &err) == CF_OK &&
                env.has_created_at && env.created_at * 1000.0 < (double)now_ms)
                q->oldest_s = ((double)now_ms - env.created_at * 1000.0) / 1000.0;
            cf_envelope_deinit(&env);
        }
        q->due = reply_int(reps[1]);
        const cf_reply *first = reps[2];
        if (first && first->type == CF_REPLY_ARRAY && first->n == 2 &&
            first->elem[1].type == CF_REPLY_STRING) {
            double due_s = ((double)now_ms - atof(first->elem[1].str)) / 1000.0;
            if (due_s > q->oldest_s)
                q->oldest_s = due_s;
        }
    }
    for (int i = 0; i < 3; i++)
        cf_reply_free(reps[i]);
}

static void queue_gauges(FILE *out, const queue_row *q, size_t n)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } g[] = {
        {"chronoforge_queue_ready", "Envelopes ready to be taken, per queue (fleet-wide).",
         offsetof(queue_row, ready)},
        {"chronoforge_queue_scheduled", "Envelopes scheduled for later, per queue (fleet-wide).",
         offsetof(queue_row, scheduled)},
        {"chronoforge_queue_in_flight",
         "Envelopes taken by a registered worker and not yet acked, per queue (fleet-wide).",
         offsetof(queue_row, inflight)},
        {"chronoforge_queue_dead", "Dead letters kept, per queue (fleet-wide).",
         offsetof(queue_row, dead)},
        {"chronoforge_queue_due_not_taken",
         "Scheduled envelopes past their due time not yet promoted to ready, per queue "
         "(fleet-wide).",
         offsetof(queue_row, due)},
        {"chronoforge_queue_paused",
         "1 while the queue is paused (`chronoforge queue pause`), else 0.",
         offsetof(queue_row, paused)},
    };
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        gauge_head(out, g[k].name, g[k].help);
        for (size_t i = 0; i < n; i++) {
            fprintf(out, "%s{queue=\"", g[k].name);
            cf_metrics_escape_label(out, q[i].name);
            fprintf(out, "\"} %lld\n",
                    (long long)*(const int64_t *)((const char *)&q[i] + g[k].off));
        }
    }
    gauge_head(out, "chronoforge_queue_oldest_ready_age_seconds",
               "Age of what waits longest to be taken, per queue (fleet-wide): the next ready "
               "envelope since its producer's created_at, or the earliest due scheduled entry "
               "since its due time; 0 when nothing waits.");
    for (size_t i = 0; i < n; i++) {
        fputs("chronoforge_queue_oldest_ready_age_seconds{queue=\"", out);
        cf_metrics_escape_label(out, q[i].name);
        fprintf(out, "\"} %.3f\n", q[i].oldest_s);
    }
}

static void fleet(cf_queue *fq, const cf_config *cfg, FILE *out)
{
    cf_redis *r = cf_queue_redis(fq);
    char key[CF_KEY_MAX];
    cf_worker_entry *workers = NULL;
    size_t nworkers = 0;
    if (cf_key_queues(key, sizeof key, cfg->prefix) < 0 ||
        cf_workers_list(fq, cfg->lease_ms, &workers, &nworkers) != CF_OK)
        return;
    const char *argv[] = {"SMEMBERS", key};
    cf_reply *rep = command(r, 2, argv);
    size_t nq = rep && rep->type == CF_REPLY_ARRAY ? rep->n : 0;
    if (nq > 256)
        nq = 256; /* a bounded label set: P:queues is written by producers */
    queue_row rows[256];
    size_t n = 0;
    for (size_t i = 0; i < nq; i++) {
        const cf_reply *e = &rep->elem[i];
        if (e->type != CF_REPLY_STRING || !cf_queue_name_valid(e->str))
            continue;
        queue_row *q = &rows[n];
        *q = (queue_row){.name = e->str};
        bool paused = false;
        if (cf_queue_depths(fq, q->name, &q->ready, &q->scheduled, &q->dead) != CF_OK ||
            cf_queue_is_paused(fq, q->name, &paused) != CF_OK)
            continue;
        ages(r, cfg->prefix, q, cf_clock_unix_ms());
        q->paused = paused;
        for (size_t w = 0; w < nworkers; w++) {
            int64_t c = 0;
            if (cf_fetch_inflight_count(fq, workers[w].id, q->name, &c) == CF_OK)
                q->inflight += c;
        }
        n++;
    }
    queue_gauges(out, rows, n);
    int64_t live = 0;
    for (size_t w = 0; w < nworkers; w++)
        live += workers[w].live ? 1 : 0;
    gauge_head(out, "chronoforge_fleet_workers", "Registered workers by state: live or stale.");
    fprintf(out, "chronoforge_fleet_workers{state=\"live\"} %lld\n", (long long)live);
    fprintf(out, "chronoforge_fleet_workers{state=\"stale\"} %lld\n",
            (long long)((int64_t)nworkers - live));
    cf_reply_free(rep);
    cf_workers_list_free(workers, nworkers);
}

void cf_fleet_render(const cf_config *cfg, const char *worker_id, FILE *out)
{
    cf_queue *q = NULL;
    bool mine = cf_queue_new(cfg->redis_url, cfg->prefix, NULL, NULL, &q, NULL) == CF_OK &&
                holds_lease(cf_queue_redis(q), cfg->prefix, worker_id);
    gauge_head(out, "chronoforge_fleet_exporter",
               "1 on the one worker exporting the fleet gauges (it holds the healing lease).");
    fprintf(out, "chronoforge_fleet_exporter %d\n", mine ? 1 : 0);
    if (mine)
        fleet(q, cfg, out);
    cf_queue_free(q);
}
