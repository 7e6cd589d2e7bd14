// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_wake.c: wake-ups driven by deadlines, not polling. The worker runs with a
 * promote-interval (the promoter's longest sleep) of CAP_MS, far above the waits here, so a
 * wake that comes well before the cap was driven by its due time: a workflow's own durable wait
 * (published by the worker itself: the in-process hook), and a continuation published by
 * another process (the P:{Q}:wake channel). With promotion on a CAP_MS poll both take up to
 * CAP_MS and fail. The bounds are the due time plus half the cap: wide margins, no timing
 * claim. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "queue/envelope.h"
#include "queue/queue.h"
#include "queue/schedule.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define CAP_MS      10000
#define DEADLINE_MS 60000

static cf_e2e E;
static const char *const C2[] = {"-c", "2", NULL};
static const char *const ENV[] = {"CHRONOFORGE_PROMOTE_INTERVAL=10s", NULL};

CF_E2E_EACH(E)

static void start_worker(void)
{
    cf_e2e_worker(&E, 0, C2, ENV);
    assert_true(cf_e2e_wait_log_events(&E, 0, "worker_ready", NULL, 1, DEADLINE_MS));
}

/* A two-step workflow waiting 1.5 s between its steps completes within 1.5 s + CAP_MS / 2 of
 * its enqueue: the promoter slept until the wait's due time, not until its cap. */
static void test_wait_woken_by_its_due_time_not_the_cap(void **state)
{
    (void)state;
    start_worker();
    const int64_t wait_ms = 1500;
    char kw[128];
    snprintf(kw, sizeof kw, "{\"steps\": 2, \"wait_ms\": %lld}", (long long)wait_ms);
    int64_t t0 = cf_clock_mono_ms();
    cf_e2e_enqueue(&E, "Exerciser", "wake-1", kw);
    bool done = cf_e2e_wait_state(&E, "wake-1", "completed", wait_ms + CAP_MS / 2);
    int64_t took = cf_clock_mono_ms() - t0;
    if (!done)
        fail_msg("not completed within %lld ms of its enqueue (cap %d ms)",
                 (long long)(wait_ms + CAP_MS / 2), CAP_MS);
    assert_true(took >= wait_ms); /* the wait itself was kept */
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

/* A continuation published by another process (this one) wakes the sleeping promoter through
 * P:{Q}:wake: its delivery (an orphan continuation: the workflow does not exist, so the worker
 * logs and acks it) comes within its due time + CAP_MS / 2. */
static void test_continuation_from_another_process_wakes_the_promoter(void **state)
{
    (void)state;
    start_worker();
    /* let the promoter finish its first pass and go to sleep for the cap (empty sets) */
    cf_clock_sleep_ms(1000, NULL);
    cf_queue *q = NULL;
    assert_int_equal(
        cf_queue_open(cf_test_env("CF_TEST_REDIS_URL"), E.prefix, NULL, NULL, &q, NULL), CF_OK);
    cf_buf member = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode_continuation("Exerciser", "nobody", "default", &member),
                     CF_OK);
    const int64_t in_ms = 300;
    assert_int_equal(cf_continuation_publish(q, "default", member.data, member.len,
                                             cf_clock_unix_ms() + in_ms, NULL),
                     CF_OK);
    cf_buf_deinit(&member);
    cf_queue_free(q);
    if (!cf_e2e_wait_log_events(&E, 0, "orphan_continuation", NULL, 1, in_ms + CAP_MS / 2))
        fail_msg("the continuation was not delivered within %lld ms (cap %d ms)",
                 (long long)(in_ms + CAP_MS / 2), CAP_MS);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wait_woken_by_its_due_time_not_the_cap, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_continuation_from_another_process_wakes_the_promoter,
                                        setup_each, teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
