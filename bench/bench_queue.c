// SPDX-License-Identifier: MIT
/* bench/bench_queue.c: throughput of queue/'s reliable fetch: N jobs are produced (pipelined
 * batches of 1,000), then C consumer threads, each with its own connection, run cf_fetch +
 * cf_fetch_ack until all are done. Prints one line per consumer count.
 *   bench_queue [URL] [JOBS] [CONSUMERS...]      (URL default: $CHRONOFORGE_REDIS_URL) */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rand.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"

#define PAYLOAD_LEN 80

typedef struct run {
    const char *url;
    const char *prefix;
    long jobs;
    atomic_long done;
    atomic_int failed;
} run;

typedef struct consumer {
    run *run;
    int id;
} consumer;

static void *consume(void *arg)
{
    consumer *c = arg;
    run *rn = c->run;
    char worker[64];
    snprintf(worker, sizeof worker, "bench:%d:%06x", c->id, (unsigned)(cf_rand_u64() & 0xffffff));
    cf_queue *q = NULL;
    if (cf_queue_open(rn->url, rn->prefix, worker, NULL, &q, NULL) != CF_OK) {
        atomic_store(&rn->failed, 1);
        return NULL;
    }
    const char *qs[1] = {"bench"};
    while (atomic_load(&rn->done) < rn->jobs && !atomic_load(&rn->failed)) {
        cf_fetched f;
        cf_status st = cf_fetch(q, qs, 1, 200, NULL, &f);
        if (st == CF_ERR_NOT_FOUND)
            continue;
        if (st == CF_OK)
            st = cf_fetch_ack(q, "bench", f.data, f.len);
        cf_fetched_deinit(&f);
        if (st != CF_OK) {
            fprintf(stderr, "bench: %s\n", cf_queue_errstr(q));
            atomic_store(&rn->failed, 1);
            break;
        }
        atomic_fetch_add(&rn->done, 1);
    }
    cf_queue_free(q);
    return NULL;
}

static int produce(cf_queue *q, long jobs, double *rate)
{
    static char payloads[1000][PAYLOAD_LEN];
    cf_enqueue_item items[1000];
    int64_t t0 = cf_clock_mono_ms();
    for (long base = 0; base < jobs; base += 1000) {
        size_t k = (size_t)(jobs - base < 1000 ? jobs - base : 1000);
        for (size_t i = 0; i < k; i++) {
            /* Distinct bytes per job, as real envelopes (each has its own jid). */
            memset(payloads[i], 'p', PAYLOAD_LEN);
            snprintf(payloads[i], 24, "job-%ld", base + (long)i);
            items[i] = (cf_enqueue_item){"bench", payloads[i], PAYLOAD_LEN, 0};
        }
        if (cf_enqueue_batch(q, items, k) != CF_OK) {
            fprintf(stderr, "bench: enqueue: %s\n", cf_queue_errstr(q));
            return -1;
        }
    }
    int64_t ms = cf_clock_mono_ms() - t0;
    *rate = (double)jobs * 1000.0 / (double)(ms > 0 ? ms : 1);
    return 0;
}

static int bench_consumers(const char *url, long jobs, int consumers)
{
    char prefix[64];
    char hex[9];
    cf_rand_hex(hex, 8);
    snprintf(prefix, sizeof prefix, "cf:bench:%s", hex);
    cf_queue *q = NULL;
    cf_error err = {0};
    if (cf_queue_open(url, prefix, NULL, NULL, &q, &err) != CF_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return -1;
    }
    double prod_rate = 0;
    if (produce(q, jobs, &prod_rate) != 0) {
        cf_queue_free(q);
        return -1;
    }
    run rn = {.url = url, .prefix = prefix, .jobs = jobs};
    atomic_init(&rn.done, 0);
    atomic_init(&rn.failed, 0);
    pthread_t t[64];
    consumer cs[64];
    int64_t t0 = cf_clock_mono_ms();
    for (int i = 0; i < consumers; i++) {
        cs[i] = (consumer){&rn, i};
        pthread_create(&t[i], NULL, consume, &cs[i]);
    }
    for (int i = 0; i < consumers; i++)
        pthread_join(t[i], NULL);
    int64_t ms = cf_clock_mono_ms() - t0;
    long done = atomic_load(&rn.done);
    printf("fetch+ack  consumers=%d  jobs=%ld  %.0f jobs/s  (%lld ms; produce %.0f jobs/s)\n",
           consumers, done, (double)done * 1000.0 / (double)(ms > 0 ? ms : 1), (long long)ms,
           prod_rate);
    char key[128];
    snprintf(key, sizeof key, "%s:{bench}:ready", prefix);
    const char *a[3] = {"DEL", key, NULL};
    size_t l[2] = {3, strlen(key)};
    cf_reply *rep = NULL;
    if (cf_redis_exec(cf_queue_redis(q), 2, a, l, &rep) == CF_OK)
        cf_reply_free(rep);
    cf_queue_free(q);
    return atomic_load(&rn.failed) || done != jobs ? -1 : 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *url = argc > 1 ? argv[1] : getenv("CHRONOFORGE_REDIS_URL");
    long jobs = argc > 2 ? atol(argv[2]) : 100000;
    if (url == NULL || jobs <= 0) {
        fprintf(stderr, "usage: bench_queue URL [JOBS] [CONSUMERS...]\n");
        return 2;
    }
    int rc = 0;
    if (argc > 3) {
        for (int i = 3; i < argc && rc == 0; i++) {
            int c = atoi(argv[i]);
            rc = c >= 1 && c <= 64 ? bench_consumers(url, jobs, c) : 2;
        }
    } else {
        rc = bench_consumers(url, jobs, 1);
        if (rc == 0)
            rc = bench_consumers(url, jobs, 4);
    }
    return rc == 0 ? 0 : 1;
}
