// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_concurrency.c: one runner per workflow across a fleet: 50 simultaneous
 * deliveries of one key over 4 workers run every step once; a wake delivered while a run holds
 * the lock is not lost; many workflows over the fleet all complete exactly once. Counts are
 * read once the prefix is quiescent (cf_e2e_assert_quiet), so never before the duplicates and
 * continuations they count have run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000

static cf_e2e E;

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    const char *args[] = {"-c", "4", NULL};
    for (int i = 0; i < 4; i++)
        cf_e2e_worker(&E, i, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

static void test_fifty_deliveries_of_one_key_run_each_step_once(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-dup", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 3, \"sleep_ms\": 20, \"ledger\": \"%s\"}", ledger);
    /* 50 envelopes with distinct jids, all due at the same instant: promoted together and
     * fetched at once by the 16 executors of the 4 workers */
    char at[32];
    snprintf(at, sizeof at, "%.3f", (double)(cf_clock_unix_ms() + 5000) / 1000.0);
    char why[1024];
    for (int i = 0; i < 50; i++) {
        const char *args[] = {getenv("CF_BIN"), "enqueue", "Exerciser", "dup-1", "--kwargs", kw,
                              "--at",           at,        NULL};
        assert_int_equal(cf_e2e_cli(&E, NULL, 0, args), 0);
        if (i == 0) /* the check sees a scheduled envelope: an empty ready list is not enough */
            assert_false(cf_e2e_quiet(&E, why, sizeof why));
    }
    assert_true(cf_e2e_wait_state(&E, "dup-1", "completed", DEADLINE_MS));
    /* every delivery, busy redelivery and continuation handled: nothing ready, scheduled or
     * in flight, no lock; only then count */
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    char dead[200];
    snprintf(dead, sizeof dead, "%s:{default}:dead", E.prefix);
    const char *llen_dead[] = {"LLEN", dead, NULL};
    assert_int_equal(cf_e2e_redis_int(llen_dead), 0); /* none was dead-lettered instead */
    assert_int_equal(cf_e2e_log_events(&E, -1, "completed", "key=dup-1"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "dup-1 step_1 "), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "dup-1 step_2 "), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "dup-1 step_3 "), 1);
    assert_int_equal(
        cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_workflows WHERE key = $1", "dup-1"),
        1);
}

static void test_wake_during_a_run_is_not_lost(void **state)
{
    (void)state;
    char ledger[400], gate[400], kw[900];
    snprintf(ledger, sizeof ledger, "%s/ledger-gate", E.dir);
    snprintf(gate, sizeof gate, "%s/gate-open", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"sleep_ms\": 800, \"ledger\": \"%s\", \"gate_file\": \"%s\"}", ledger,
             gate);
    cf_e2e_enqueue(&E, "Exerciser", "gate-1", kw);
    /* wait until step_1 is running (its ledger line is written as it starts) */
    assert_true(cf_e2e_wait_ledger(ledger, "gate-1 step_1 1", 1, DEADLINE_MS));
    assert_int_equal(cf_e2e_ledger_count(ledger, "gate-1 step_1 1"), 1);
    /* the webhook: the gate opens and the workflow is enqueued while the run holds the lock */
    FILE *f = fopen(gate, "w");
    assert_non_null(f);
    fclose(f);
    cf_e2e_enqueue(&E, "Exerciser", "gate-1", "{}");
    assert_true(cf_e2e_wait_state(&E, "gate-1", "completed", DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_ledger_count(ledger, "gate-1 step_1 "), 1);
}

static void test_many_workflows_over_the_fleet_complete_once(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-many", E.dir);
    int n = cf_test_scale(200);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "many-%d", i);
        snprintf(kw, sizeof kw, "{\"steps\": 2, \"wait_ms\": %d, \"ledger\": \"%s\"}", i % 3 * 50,
                 ledger);
        cf_e2e_enqueue(&E, "Exerciser", key, kw);
    }
    /* counted by key: the workflows of the tests before this one are not in the count */
    assert_true(cf_e2e_wait_keys_in_state(&E, "many-%", "completed", n, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE $1",
                                    "many-%"),
                     n);
    assert_int_equal(cf_e2e_ledger_count(ledger, "many-"), 2 * n);
    for (int i = 0; i < n; i++) {
        char line[48];
        snprintf(line, sizeof line, "many-%d step_2 ", i);
        assert_int_equal(cf_e2e_ledger_count(ledger, line), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifty_deliveries_of_one_key_run_each_step_once),
        cmocka_unit_test(test_wake_during_a_run_is_not_lost),
        cmocka_unit_test(test_many_workflows_over_the_fleet_complete_once),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_concurrency", tests, setup, teardown);
}
