// SPDX-License-Identifier: MIT
/* bench/bench_store.c: throughput of the store's write path. N submitter threads each run
 * one-step workflows back to back through one cf_store: run_begin (find-or-create + lock),
 * then one write set (step completed + COMPLETE), exactly what the executor does for a
 * one-step workflow. Prints workflows/s, store calls/s, shared commits (writer batches) and
 * server commits per workflow from pg_stat_database.xact_commit.
 *   bench_store DSN SUBMITTERS SECONDS [BATCH_MAX] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "store/migrate.h"
#include "store/store.h"

static cf_store *store;
static atomic_bool stop_flag;
static _Atomic int64_t done_wf, failed;
static char run_tag[32];

static void *submitter(void *arg)
{
    int id = (int)(intptr_t)arg;
    char key[64], lock[64];
    for (int64_t i = 0; !atomic_load(&stop_flag); i++) {
        snprintf(key, sizeof key, "%s-%d-%lld", run_tag, id, (long long)i);
        snprintf(lock, sizeof lock, "bench/%d", id);
        cf_run_begin_args a = {.wf_class = "Bench", .key = key, .lock_value = lock};
        cf_wf_row r;
        if (cf_store_run_begin(store, &a, &r) != CF_OK) {
            atomic_fetch_add(&failed, 1);
            continue;
        }
        int64_t now = cf_clock_unix_ms();
        cf_ws_step step = {.name = "durably_execute$work",
                           .state = CF_STEP_COMPLETED,
                           .attempts = 1,
                           .started_at_ms = now,
                           .completed_at_ms = now};
        cf_write_set ws = {.workflow_id = r.id,
                           .fence = r.fence,
                           .steps = &step,
                           .nsteps = 1,
                           .context = r.context,
                           .outcome = CF_WS_COMPLETE,
                           .attempt = -1};
        if (cf_store_commit(store, &ws) == CF_OK)
            atomic_fetch_add(&done_wf, 1);
        else
            atomic_fetch_add(&failed, 1);
        cf_wf_row_deinit(&r);
    }
    return NULL;
}

static int64_t xact_commit(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, "SELECT xact_commit FROM pg_stat_database WHERE datname = "
                            "current_database()");
    int64_t v = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

static void wait_stats_flush(void)
{
    /* pg_stat_database is updated when a backend reports (at most every 1 s, PG 15). */
    cf_clock_sleep_ms(1500, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_store DSN SUBMITTERS SECONDS [BATCH_MAX]\n");
        return 2;
    }
    const char *dsn = argv[1];
    int n = atoi(argv[2]);
    double secs = atof(argv[3]);
    int batch = argc > 4 ? atoi(argv[4]) : 64;
    if (n < 1 || n > 1024 || secs <= 0)
        return 2;
    cf_error err = {0};
    if (cf_store_migrate(dsn, &err) != CF_OK) {
        fprintf(stderr, "migrate: %s\n", err.msg);
        return 1;
    }
    cf_store_config cfg = {.dsn = dsn, .max_connections = 2, .batch_max = batch};
    if (cf_store_open(&cfg, &store, &err) != CF_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    snprintf(run_tag, sizeof run_tag, "b%lld", (long long)cf_clock_unix_ms());
    wait_stats_flush();
    int64_t x0 = xact_commit(dsn);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    int64_t t0 = cf_clock_mono_ms();
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, submitter, (void *)(intptr_t)i);
    cf_clock_sleep_ms((int64_t)(secs * 1000), NULL);
    atomic_store(&stop_flag, true);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    double el = (double)(cf_clock_mono_ms() - t0) / 1000.0;
    cf_store_stats st;
    cf_store_get_stats(store, &st);
    cf_store_close(store);
    wait_stats_flush();
    int64_t x1 = xact_commit(dsn);
    int64_t wf = atomic_load(&done_wf);
    /* x1 - x0 also counts the two xact_commit probes' own sessions (a handful). */
    printf("submitters=%d batch_max=%d seconds=%.1f workflows=%lld workflows/s=%.0f "
           "store_calls/s=%.0f shared_commits=%lld commits/s=%.0f writes_per_commit=%.1f "
           "xact_commit_per_workflow=%.3f failed=%lld\n",
           n, batch, el, (long long)wf, (double)wf / el, 2.0 * (double)wf / el,
           (long long)st.batches, (double)st.batches / el,
           st.batches ? (double)st.write_sets / (double)st.batches : 0.0,
           wf ? (double)(x1 - x0) / (double)wf : 0.0, (long long)atomic_load(&failed));
    free(th);
    return atomic_load(&failed) ? 1 : 0;
}
