// SPDX-License-Identifier: MIT
/* tests/integration/test_worker_fetcher.c: worker/fetcher against the real Redis: it takes no
 * more envelopes than there are idle executors (the rest stays ready), records each in the
 * receiving executor's slot of the active table, takes nothing while quiet, and ends on a
 * stop. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/mux.h"
#include "queue/queue.h"
#include "tests/support/test.h"
#include "worker/active.h"
#include "worker/config.h"
#include "worker/fetcher.h"

#define W "host:1:fetchr"

static void test_fetcher_takes_no_more_than_idle_executors(void **state)
{
    (void)state;
    static cf_config cfg; /* large: not on the stack */
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.redis_url, sizeof cfg.redis_url, "%s", cf_test_env("CF_TEST_REDIS_URL"));
    cf_test_prefix(cfg.prefix, sizeof cfg.prefix);
    snprintf(cfg.queues[0], sizeof cfg.queues[0], "default");
    cfg.nqueues = 1;
    cfg.concurrency = 3;
    const char *queues[1] = {cfg.queues[0]};
    cf_queue *q = cf_test_queue_open(cfg.prefix, W);
    for (int i = 0; i < 5; i++) {
        char env[8];
        int n = snprintf(env, sizeof env, "e%d", i);
        assert_int_equal(cf_enqueue(q, "default", env, (size_t)n), CF_OK);
    }
    cf_mux *mux = NULL;
    cf_error err = {0};
    assert_int_equal(cf_mux_new(cfg.redis_url, NULL, &mux, &err), CF_OK);
    cf_active *active = cf_active_new(cfg.concurrency);
    atomic_bool stopping = false, quiet = false;
    cf_fetcher_config fc = {&cfg, W, queues, active, &stopping, &quiet, mux};
    cf_fetcher *f = NULL;
    assert_int_equal(cf_fetcher_new(&fc, &f, &err), CF_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cf_fetcher_main, f), 0);
    /* One idle executor: one envelope, the oldest, recorded in its slot; the other four stay
     * ready (no other executor is idle, so the fetcher takes nothing more). */
    cf_fetched got[2];
    assert_true(cf_fetcher_next(f, 1, &got[0]));
    assert_int_equal(got[0].len, 2);
    assert_memory_equal(got[0].data, "e0", 2);
    assert_int_equal(cf_active_count_env(active, 0, got[0].data, got[0].len), 1);
    int64_t inflight = -1, ready = -1;
    assert_int_equal(cf_fetch_inflight_count(q, W, "default", &inflight), CF_OK);
    assert_int_equal(inflight, 1);
    assert_int_equal(cf_queue_depths(q, "default", &ready, NULL, NULL), CF_OK);
    assert_int_equal(ready, 4);
    /* A second idle executor gets the next one. */
    assert_true(cf_fetcher_next(f, 2, &got[1]));
    assert_memory_equal(got[1].data, "e1", 2);
    assert_int_equal(cf_fetch_inflight_count(q, W, "default", &inflight), CF_OK);
    assert_int_equal(inflight, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cf_fetch_ack(q, "default", got[i].data, got[i].len), CF_OK);
        cf_active_clear(active, i + 1);
        cf_fetched_deinit(&got[i]);
    }
    /* Stop: the loop ends, an idle executor's wait ends empty-handed, nothing more was taken. */
    atomic_store(&stopping, true);
    cf_fetcher_wake(f);
    pthread_join(th, NULL);
    cf_fetched none;
    assert_false(cf_fetcher_next(f, 0, &none));
    cf_fetcher_free(f);
    assert_int_equal(cf_fetch_inflight_count(q, W, "default", &inflight), CF_OK);
    assert_int_equal(inflight, 0);
    assert_int_equal(cf_queue_depths(q, "default", &ready, NULL, NULL), CF_OK);
    assert_int_equal(ready, 3);
    cf_active_free(active);
    cf_mux_free(mux);
    cf_queue_free(q);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetcher_takes_no_more_than_idle_executors),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
