// SPDX-License-Identifier: MIT
/* tests/integration/test_store_two.c: several stores in one process (a worker and a dashboard,
 * an embedding program): each has its own group-commit writer, and batches committed at the
 * same time on different stores never see each other's requests. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/migrate.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

enum { NSTORES = 3, THREADS = 4, ITERS = 60 };

static char dsns[2][512];

typedef struct worker_arg {
    cf_store *s;
    int store, t, iters;
    int ok, failed;
    char why[256];
} worker_arg;

/* Each iteration begins its own workflow, commits a step named after the workflow's key and a
 * context naming it, and completes it: a request answered from (or applied by) another batch
 * shows up as a wrong id, a missing row or a step under the wrong workflow. */
static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < a->iters; i++) {
        char key[64], lock[64], step_name[96];
        snprintf(key, sizeof key, "s%d-t%d-%d", a->store, a->t, i);
        snprintf(lock, sizeof lock, "w%d/%d", a->t, i);
        snprintf(step_name, sizeof step_name, "durably_execute$%s", key);
        cf_wf_row r;
        cf_run_begin_args b = {.wf_class = "Two", .key = key, .lock_value = lock};
        cf_status st = cf_store_run_begin(a->s, &b, &r);
        if (st != CF_OK || strcmp(r.key, key) != 0 || r.fence != 1 || !r.created) {
            snprintf(a->why, sizeof a->why, "begin %s: status %d, got key %.60s fence %lld", key,
                     (int)st, r.key, (long long)r.fence);
            a->failed++;
            cf_wf_row_deinit(&r);
            continue;
        }
        cf_ws_step step = {.name = step_name, .state = CF_STEP_COMPLETED, .attempts = 1};
        json_t *ctx = json_pack("{ss}", "key", key);
        cf_write_set ws = {.workflow_id = r.id,
                           .fence = r.fence,
                           .steps = &step,
                           .nsteps = 1,
                           .context = ctx,
                           .outcome = (i % 2) ? CF_WS_COMPLETE : CF_WS_CONTINUE,
                           .attempt = -1};
        st = cf_store_commit(a->s, &ws);
        if (st == CF_OK && ws.outcome == CF_WS_CONTINUE) {
            ws.nsteps = 0;
            ws.outcome = CF_WS_COMPLETE;
            st = cf_store_commit(a->s, &ws);
        }
        if (st == CF_OK) {
            a->ok++;
        } else {
            snprintf(a->why, sizeof a->why, "commit %s: status %d", key, (int)st);
            a->failed++;
        }
        json_decref(ctx);
        cf_wf_row_deinit(&r);
    }
    return NULL;
}

static void test_store_two_stores_commit_concurrently(void **state)
{
    (void)state;
    cf_error err = {0};
    for (int d = 0; d < 2; d++) {
        cf_test_fresh_database(dsns[d], sizeof dsns[d]);
        if (cf_store_migrate(dsns[d], &err) != CF_OK)
            fail_msg("migrate: %s", err.msg);
    }
    /* Stores 0 and 1 share a database, store 2 has its own. Small batches: many per store. */
    cf_store *stores[NSTORES];
    for (int k = 0; k < NSTORES; k++) {
        cf_store_config cfg = {.dsn = dsns[k == 2], .max_connections = 3, .batch_max = 4};
        if (cf_store_open(&cfg, &stores[k], &err) != CF_OK)
            fail_msg("open: %s", err.msg);
    }
    worker_arg args[NSTORES][THREADS];
    pthread_t th[NSTORES][THREADS];
    int iters = cf_test_scale(ITERS);
    for (int k = 0; k < NSTORES; k++)
        for (int t = 0; t < THREADS; t++) {
            args[k][t] = (worker_arg){.s = stores[k], .store = k, .t = t, .iters = iters};
            assert_int_equal(pthread_create(&th[k][t], NULL, worker, &args[k][t]), 0);
        }
    for (int k = 0; k < NSTORES; k++)
        for (int t = 0; t < THREADS; t++) {
            assert_int_equal(pthread_join(th[k][t], NULL), 0);
            if (args[k][t].failed)
                fail_msg("store %d thread %d: %d failed, last: %s", k, t, args[k][t].failed,
                         args[k][t].why);
            assert_int_equal(args[k][t].ok, iters);
        }
    for (int k = 0; k < NSTORES; k++)
        cf_store_close(stores[k]);
    /* Every write landed once, in its store's database, on its own workflow. */
    for (int d = 0; d < 2; d++) {
        PGconn *c = PQconnectdb(dsns[d]);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        int64_t want = (int64_t)(d == 0 ? 2 : 1) * THREADS * iters;
        assert_int_equal(
            cf_test_sql_int(c, "SELECT count(*) FROM chrono_forge_workflows WHERE job_class = "
                               "'Two' AND state = 'completed' AND fence = 1 "
                               "AND context->>'key' = key"),
            want);
        assert_int_equal(cf_test_sql_int(c, "SELECT count(*) FROM chrono_forge_workflows"), want);
        assert_int_equal(cf_test_sql_int(c,
                                         "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                         "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                         "l.step_name = 'durably_execute$' || w.key"),
                         want);
        assert_int_equal(cf_test_sql_int(c, "SELECT count(*) FROM chrono_forge_execution_logs"),
                         2 * want); /* the step and the completion marker */
        assert_int_equal(cf_test_sql_int(c, d == 0 ? "SELECT count(*) FROM chrono_forge_workflows "
                                                     "WHERE key LIKE 's2-%'"
                                                   : "SELECT count(*) FROM chrono_forge_workflows "
                                                     "WHERE key NOT LIKE 's2-%'"),
                         0);
        PQfinish(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_two_stores_commit_concurrently),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_two", tests, NULL, NULL);
}
