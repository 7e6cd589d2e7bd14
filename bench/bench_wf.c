// SPDX-License-Identifier: MIT
/* bench/bench_wf.c: the producer and the completion probe of bench/run.sh's workflow
 * benchmarks. Envelopes are real SPEC §1 envelopes (cf_envelope_encode), pushed with
 * cf_enqueue_batch (SADD + LPUSH, or ZADD for a due time) in pipelined batches of 1,000.
 *
 *   bench_wf produce REDIS_URL PREFIX QUEUE CLASS TAG N KWARGS_JSON [SPREAD_MS]
 *       N envelopes with keys TAG-0 .. TAG-(N-1); SPREAD_MS > 0 schedules envelope i at
 *       now + i * SPREAD_MS / N (evenly spread first runs) instead of the ready list.
 *   bench_wf paced REDIS_URL PREFIX QUEUE CLASS TAG N RATE KWARGS_JSON
 *       N envelopes at RATE per second (in slices of 5 ms); each envelope's kwargs get
 *       "enq_ms": its Unix ms at enqueue (stored with the workflow at creation), so the
 *       latency to the first step is started_at - kwargs.enq_ms, read from Postgres.
 *   bench_wf await DSN CLASS TAG N TIMEOUT_S
 *       polls Postgres every 200 ms until N workflows with keys TAG-* are completed; prints
 *       "waited_s=<since the call> span_s=<first started_at .. last completed_at>".
 * Exit status 0 on success, 1 on error or timeout, 2 on usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/clock.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"

#define BATCH 1000

typedef struct producer {
    cf_queue *q;
    const char *queue, *wf_class, *tag;
    json_t *kwargs;
    cf_buf bufs[BATCH];
    cf_enqueue_item items[BATCH];
    size_t n;
} producer;

static int flush(producer *p)
{
    if (p->n == 0)
        return 0;
    cf_status st = cf_enqueue_batch(p->q, p->items, p->n);
    if (st != CF_OK) {
        fprintf(stderr, "bench_wf: enqueue: %s\n", cf_queue_errstr(p->q));
        return -1;
    }
    for (size_t i = 0; i < p->n; i++)
        cf_buf_reset(&p->bufs[i]);
    p->n = 0;
    return 0;
}

/* Adds envelope `i` (kwargs: p->kwargs plus enq_ms when enq_ms > 0) to the current batch. */
static int add(producer *p, long long i, int64_t due_ms, int64_t enq_ms)
{
    char key[160];
    snprintf(key, sizeof key, "%s-%lld", p->tag, i);
    cf_envelope env;
    cf_error err = {0};
    if (cf_envelope_init_job(&env, p->wf_class, key, p->queue, &err) != CF_OK) {
        fprintf(stderr, "bench_wf: %s\n", err.msg);
        return -1;
    }
    env.kwargs = json_deep_copy(p->kwargs);
    if (enq_ms > 0)
        json_object_set_new(env.kwargs, "enq_ms", json_integer(enq_ms));
    cf_buf *b = &p->bufs[p->n];
    cf_status st = cf_envelope_encode(&env, b);
    cf_envelope_deinit(&env);
    if (st != CF_OK) {
        fprintf(stderr, "bench_wf: encode failed (%s)\n", cf_status_str(st));
        return -1;
    }
    p->items[p->n] = (cf_enqueue_item){p->queue, b->data, b->len, due_ms};
    return ++p->n == BATCH ? flush(p) : 0;
}

static int producer_init(producer *p, char **argv, const char *kwargs_json)
{
    memset(p, 0, sizeof *p);
    cf_error err = {0};
    if (cf_queue_open(argv[0], argv[1], NULL, NULL, &p->q, &err) != CF_OK) {
        fprintf(stderr, "bench_wf: redis: %s\n", err.msg);
        return -1;
    }
    p->queue = argv[2];
    p->wf_class = argv[3];
    p->tag = argv[4];
    json_error_t je;
    p->kwargs = json_loads(kwargs_json, 0, &je);
    if (!json_is_object(p->kwargs)) {
        fprintf(stderr, "bench_wf: KWARGS_JSON must be a JSON object: %s\n", je.text);
        return -1;
    }
    for (size_t i = 0; i < BATCH; i++)
        p->bufs[i] = (cf_buf)CF_BUF_INIT;
    return 0;
}

static void producer_deinit(producer *p)
{
    for (size_t i = 0; i < BATCH; i++)
        cf_buf_deinit(&p->bufs[i]);
    json_decref(p->kwargs);
    cf_queue_free(p->q);
}

static int cmd_produce(int argc, char **argv)
{
    if (argc < 7)
        return 2;
    producer p;
    if (producer_init(&p, argv, argv[6]) != 0)
        return 1;
    long long n = atoll(argv[5]);
    int64_t spread = argc > 7 ? atoll(argv[7]) : 0;
    int64_t t0 = cf_clock_unix_ms(), m0 = cf_clock_mono_ms();
    int rc = 0;
    for (long long i = 0; i < n && rc == 0; i++)
        rc = add(&p, i, spread > 0 ? t0 + 1000 + i * spread / n : 0, 0);
    if (rc == 0)
        rc = flush(&p);
    double el = (double)(cf_clock_mono_ms() - m0) / 1000.0;
    if (rc == 0)
        printf("enqueued=%lld seconds=%.3f per_s=%.0f\n", n, el, el > 0 ? (double)n / el : 0.0);
    producer_deinit(&p);
    return rc == 0 ? 0 : 1;
}

static int cmd_paced(int argc, char **argv)
{
    if (argc < 8)
        return 2;
    producer p;
    if (producer_init(&p, argv, argv[7]) != 0)
        return 1;
    long long n = atoll(argv[5]);
    double rate = atof(argv[6]);
    if (n <= 0 || rate <= 0) {
        producer_deinit(&p);
        return 2;
    }
    int64_t m0 = cf_clock_mono_ms();
    long long sent = 0;
    int rc = 0;
    while (sent < n && rc == 0) {
        /* everything due by now goes out in one pipeline; then sleep one 5 ms slice */
        long long due = (long long)((double)(cf_clock_mono_ms() - m0) * rate / 1000.0) + 1;
        if (due > n)
            due = n;
        int64_t now = cf_clock_unix_ms();
        while (sent < due && rc == 0)
            rc = add(&p, sent++, 0, now);
        if (rc == 0)
            rc = flush(&p);
        if (sent < n)
            cf_clock_sleep_ms(5, NULL);
    }
    double el = (double)(cf_clock_mono_ms() - m0) / 1000.0;
    if (rc == 0)
        printf("enqueued=%lld seconds=%.3f offered_per_s=%.0f\n", n, el, (double)n / el);
    producer_deinit(&p);
    return rc == 0 ? 0 : 1;
}

static int cmd_await(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    PGconn *c = PQconnectdb(argv[0]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_wf: postgres: %s", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    /* The keys TAG-0 .. TAG-(n-1), as a range of the (key, job_class) index: `key LIKE 'TAG-%'`
     * cannot use it under a non-C collation and would scan every row of a large table (section
     * 6 of bench/run.sh) on each poll. '.' follows '-' in the codepoint order of C.UTF-8. */
    char lo[200], hi[200];
    snprintf(lo, sizeof lo, "%s-", argv[2]);
    snprintf(hi, sizeof hi, "%s.", argv[2]);
    long long n = atoll(argv[3]);
    int64_t deadline = cf_clock_mono_ms() + atoll(argv[4]) * 1000;
    int64_t m0 = cf_clock_mono_ms();
    const char *vals[] = {argv[1], lo, hi};
    int rc = 1;
    for (;;) {
        PGresult *r =
            PQexecParams(c,
                         "SELECT count(*), extract(epoch FROM max(completed_at) - min(started_at))"
                         " FROM chrono_forge_workflows WHERE job_class = $1 AND key >= $2"
                         " AND key < $3 AND state = 'completed'",
                         3, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench_wf: %s", PQerrorMessage(c));
            PQclear(r);
            break;
        }
        long long done = atoll(PQgetvalue(r, 0, 0));
        if (done >= n) {
            printf("waited_s=%.3f span_s=%s\n", (double)(cf_clock_mono_ms() - m0) / 1000.0,
                   PQgetvalue(r, 0, 1));
            PQclear(r);
            rc = 0;
            break;
        }
        PQclear(r);
        if (cf_clock_mono_ms() > deadline) {
            fprintf(stderr, "bench_wf: timeout: %lld of %lld completed\n", done, n);
            break;
        }
        cf_clock_sleep_ms(200, NULL);
    }
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "produce") == 0)
        rc = cmd_produce(argc - 2, argv + 2);
    else if (argc >= 2 && strcmp(argv[1], "paced") == 0)
        rc = cmd_paced(argc - 2, argv + 2);
    else if (argc >= 2 && strcmp(argv[1], "await") == 0)
        rc = cmd_await(argc - 2, argv + 2);
    if (rc == 2)
        fprintf(stderr, "usage: bench_wf produce|paced|await ... (see bench/bench_wf.c)\n");
    return rc;
}
