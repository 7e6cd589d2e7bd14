// SPDX-License-Identifier: MIT
/* tests/integration/test_worker_abandon.c: cf_worker_run in this test's own process, against the
 * real Redis and Postgres: a stop request while an executor is inside a user step, then a second
 * one, makes cf_worker_run return CF_WORKER_ABANDONED at once with that thread still in its step;
 * the process (this test) goes on. The library never ends the process: before, it called
 * _Exit(1) and this test died without a result. Under ASan (and valgrind), the abandoned
 * memory stays reachable at exit, so no leak is reported. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chronoforge.h"
#include "common/buf.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/redis_conn.h"
#include "store/migrate.h"
#include "tests/support/test.h"
#include "worker/worker.h"

static atomic_bool in_step, let_step_end, returned;
static cf_config cfg; /* static: abandoned threads keep reading it */
static cf_worker_signals sig;
static cf_worker_result result;

static cf_flow slow_step(cf_run *run, void *arg)
{
    (void)run;
    (void)arg;
    atomic_store(&in_step, true);
    while (!atomic_load(&let_step_end)) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return CF_FLOW_OK;
}

static cf_flow abandon_flow(cf_run *run)
{
    CF_TRY(cf_durably_execute(run, "slow", slow_step, NULL, NULL));
    return CF_FLOW_OK;
}

static void *run_worker(void *arg)
{
    (void)arg;
    result = cf_worker_run(&cfg, &sig);
    atomic_store(&returned, true);
    return NULL;
}

static bool flag_set(void *arg)
{
    return atomic_load((atomic_bool *)arg);
}

static void set(const char *flag, const char *value)
{
    cf_error err;
    if (cf_config_set(&cfg, cf_config_find_flag(flag, 0), value, "test", &err) != CF_OK)
        fail_msg("%s: %s", flag, err.msg);
}

static void test_second_stop_abandons_the_step_and_returns(void **state)
{
    (void)state;
    char dsn[512], prefix[64];
    cf_error why = {0};
    cf_test_fresh_database(dsn, sizeof dsn);
    if (cf_store_migrate(dsn, &why) != CF_OK)
        fail_msg("migrate: %s", why.msg);
    cf_test_prefix(prefix, sizeof prefix);
    assert_int_equal(cf_config_load(&cfg, NULL), CF_OK);
    set("redis-url", cf_test_env("CF_TEST_REDIS_URL"));
    set("database-url", dsn);
    set("prefix", prefix);
    set("queues", "default");
    set("concurrency", "1");
    set("shutdown-grace", "60s");
    static const cf_workflow_def def = {.name = "AbandonTest", .fn = abandon_flow};
    assert_int_equal(cf_register(&def), 0);

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_worker, NULL), 0);
    cf_envelope env;
    cf_error err;
    assert_int_equal(cf_envelope_init_job(&env, "AbandonTest", "a-1", "default", &err), CF_OK);
    cf_buf buf = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(&env, &buf), CF_OK);
    cf_queue *q = cf_test_queue_open(prefix, NULL);
    assert_int_equal(cf_enqueue(q, "default", buf.data, buf.len), CF_OK);
    cf_queue_free(q);
    cf_buf_deinit(&buf);
    cf_envelope_deinit(&env);
    assert_true(cf_test_wait_for(flag_set, &in_step, 30000));

    atomic_store(&sig.drain, true);
    /* Draining: the step is running, so cf_worker_run waits (up to the 60 s grace). */
    assert_false(cf_test_wait_for(flag_set, &returned, 500));
    atomic_store(&sig.hard, true);
    /* Well before the grace period: it gives up on the step and returns. */
    assert_true(cf_test_wait_for(flag_set, &returned, 10000));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(result, CF_WORKER_ABANDONED);
    assert_true(atomic_load(&in_step)); /* the executor is still inside the step */
    /* This process goes on; let the abandoned executor end its pass before the test exits. */
    atomic_store(&let_step_end, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_stop_abandons_the_step_and_returns),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("worker_abandon", tests, NULL, NULL);
}
