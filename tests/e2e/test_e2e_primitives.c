// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_primitives.c: real worker processes against real Redis and Postgres:
 * each primitive's replay behaviour, retries with backoff, stalls and requeue, workflow-level
 * failure, requeue refusals, dead letters for malformed envelopes. Effects that could still be
 * on their way (a late duplicate, a refused requeue) are counted once the prefix is quiescent
 * (cf_e2e_assert_quiet). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000 /* generous: every wait below is a few hundred ms of backoff */

static cf_e2e E;

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    const char *args[] = {"-c", "4", NULL};
    cf_e2e_worker(&E, 0, args, NULL);
    cf_e2e_worker(&E, 1, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

static int64_t steps_completed(const char *key)
{
    return cf_e2e_sql_int(&E,
                          "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                          "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 AND "
                          "l.state = 'completed'",
                          key);
}

static int64_t errors_of(const char *key)
{
    return cf_e2e_sql_int(&E,
                          "SELECT count(*) FROM chrono_forge_error_logs e JOIN "
                          "chrono_forge_workflows w ON w.id = e.workflow_id WHERE w.key = $1",
                          key);
}

static void test_exerciser_runs_every_step_once_and_saves_context(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-basic", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 3, \"ledger\": \"%s\"}", ledger);
    cf_e2e_enqueue(&E, "Exerciser", "basic-1", kw);
    assert_true(cf_e2e_wait_state(&E, "basic-1", "completed", DEADLINE_MS));
    assert_int_equal(cf_e2e_ledger_count(ledger, "basic-1 step_1 1"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "basic-1 step_3 1"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "basic-1 "), 3);
    /* 3 steps + the completion marker, all completed; context saved with the steps */
    assert_int_equal(steps_completed("basic-1"), 4);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT (context->>'last_step')::int FROM "
                                    "chrono_forge_workflows WHERE key = $1",
                                    "basic-1"),
                     3);
    assert_int_equal(errors_of("basic-1"), 0);
    /* a late duplicate delivery of a completed workflow is acked, nothing runs again */
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_log_events(&E, -1, "not_executable", "key=basic-1"), 0);
    cf_e2e_enqueue(&E, "Exerciser", "basic-1", kw);
    assert_true(cf_e2e_wait_log_events(&E, -1, "not_executable", "key=basic-1 state=completed", 1,
                                       DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_log_events(&E, -1, "not_executable", "key=basic-1"), 1);
    assert_int_equal(cf_e2e_log_events(&E, -1, "completed", "key=basic-1"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "basic-1 "), 3);
}

static void test_wait_halts_until_its_target(void **state)
{
    (void)state;
    cf_e2e_enqueue(&E, "Exerciser", "wait-1", "{\"steps\": 2, \"wait_ms\": 400}");
    assert_true(cf_e2e_wait_state(&E, "wait-1", "completed", DEADLINE_MS));
    /* step_2 started no earlier than the wait's recorded target */
    int64_t gap =
        cf_e2e_sql_int(&E,
                       "SELECT (extract(epoch from s2.started_at) * 1000)::bigint - "
                       "(w.metadata->>'wait_until_ms')::bigint FROM chrono_forge_execution_logs w "
                       "JOIN chrono_forge_execution_logs s2 ON s2.workflow_id = w.workflow_id "
                       "JOIN chrono_forge_workflows f ON f.id = w.workflow_id "
                       "WHERE f.key = $1 AND w.step_name = 'wait$pause' AND s2.step_name = "
                       "'durably_execute$step_2'",
                       "wait-1");
    assert_true(gap >= 0);
    assert_int_equal(steps_completed("wait-1"), 4);
}

/* A workflow in a state this release does not know (a newer release's, during a rolling
 * deploy) is never run, and its delivery is not dropped: it is put back until a worker that
 * knows the state (here: the state set back) takes it. On a release that acked it, the
 * workflow, left with nothing scheduled, would never complete. */
static void test_unknown_state_is_never_run_and_never_dropped(void **state)
{
    (void)state;
    cf_e2e_enqueue(&E, "Exerciser", "future-1", "{\"steps\": 2, \"wait_ms\": 4000}");
    assert_true(cf_e2e_wait_state(&E, "future-1", "idle", DEADLINE_MS)); /* in its wait */
    /* what a newer release's migration would do: allow its new state */
    cf_e2e_sql_exec(&E, "ALTER TABLE chrono_forge_workflows DROP CONSTRAINT IF EXISTS "
                        "chrono_forge_workflows_state_check");
    char *r = cf_e2e_sql(&E,
                         "UPDATE chrono_forge_workflows SET state = 'from_a_newer_release', "
                         "next_wake_at = NULL WHERE key = $1 RETURNING 1",
                         "future-1");
    assert_string_equal(r, "1");
    free(r);
    /* the wait's continuation comes due: not run, put back into the scheduled set */
    assert_true(cf_e2e_wait_log_events(&E, -1, "unknown_state", "key=future-1", 1, DEADLINE_MS));
    char scheduled[300];
    snprintf(scheduled, sizeof scheduled, "%s:{default}:scheduled", E.prefix);
    const char *zcard[] = {"ZCARD", scheduled, NULL};
    assert_true(cf_e2e_wait_redis_int(zcard, 1, 1, DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name = 'durably_execute$step_2'",
                                    "future-1"),
                     0);
    /* a worker that knows the state takes it (here: the state set back); the put-back is due
     * up to the workflow's time in that state later (doubling), hence the longer deadline */
    char *r2 = cf_e2e_sql(
        &E, "UPDATE chrono_forge_workflows SET state = 'idle' WHERE key = $1 RETURNING 1",
        "future-1");
    free(r2);
    assert_true(cf_e2e_wait_state(&E, "future-1", "completed", 4 * DEADLINE_MS));
    assert_int_equal(cf_e2e_log_events(&E, -1, "not_executable", "key=future-1"), 0);
}

static void test_retry_with_backoff_then_success(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-retry", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"fail_first\": 2, \"step_max_attempts\": 5, "
             "\"step_backoff_ms\": 50, \"ledger\": \"%s\"}",
             ledger);
    cf_e2e_enqueue(&E, "Exerciser", "retry-1", kw);
    assert_true(cf_e2e_wait_state(&E, "retry-1", "completed", DEADLINE_MS));
    assert_int_equal(cf_e2e_ledger_count(ledger, "retry-1 step_1 1"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "retry-1 step_1 2"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "retry-1 step_1 3"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "retry-1 "), 3);
    assert_int_equal(errors_of("retry-1"), 2);
    /* the completed row carries no error and counts executions */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name = 'durably_execute$step_1' AND "
                                    "l.attempts = 3 AND l.error_class IS NULL",
                                    "retry-1"),
                     1);
}

static void test_exhaustion_stalls_and_requeue_completes(void **state)
{
    (void)state;
    char ledger[400], kw[600], out[256];
    snprintf(ledger, sizeof ledger, "%s/ledger-stall", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"fail_first\": 3, \"step_max_attempts\": 2, "
             "\"step_backoff_ms\": 50, \"ledger\": \"%s\"}",
             ledger);
    cf_e2e_enqueue(&E, "Exerciser", "stall-1", kw);
    assert_true(cf_e2e_wait_state(&E, "stall-1", "stalled", DEADLINE_MS));
    assert_int_equal(errors_of("stall-1"), 2); /* one error row per attempt */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_error_logs e JOIN "
                                    "chrono_forge_workflows w ON w.id = e.workflow_id WHERE "
                                    "w.key = $1 AND e.attempt IN (1, 2) AND e.error_class = "
                                    "'Exerciser.Flaky'",
                                    "stall-1"),
                     2);
    const char *req[] = {getenv("CF_BIN"), "requeue", "stall-1", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, req), 0);
    assert_true(cf_e2e_wait_state(&E, "stall-1", "completed", DEADLINE_MS));
    /* fresh budget, attempt numbers keep counting: attempt 3 fails, attempt 4 succeeds */
    assert_int_equal(cf_e2e_ledger_count(ledger, "stall-1 step_1 3"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "stall-1 step_1 4"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "stall-1 step_1 5"), 0);
    assert_int_equal(errors_of("stall-1"), 3);
}

static void test_workflow_level_exhaustion_fails(void **state)
{
    (void)state;
    cf_e2e_enqueue(&E, "Exerciser", "boom-1",
                   "{\"steps\": 1, \"fail_workflow\": true, \"workflow_max_attempts\": 3, "
                   "\"workflow_backoff_ms\": 50}");
    assert_true(cf_e2e_wait_state(&E, "boom-1", "failed", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_error_logs e JOIN "
                                    "chrono_forge_workflows w ON w.id = e.workflow_id WHERE "
                                    "w.key = $1 AND e.step_name IS NULL AND e.error_class = "
                                    "'Exerciser.Boom'",
                                    "boom-1"),
                     3);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name LIKE '$workflow_failure$%'",
                                    "boom-1"),
                     1);
    /* the step itself ran once: completed steps are skipped on the retries */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT attempts FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name = 'durably_execute$step_1'",
                                    "boom-1"),
                     1);
}

static void test_requeue_refuses_completed_and_running(void **state)
{
    (void)state;
    char out[256], ready_key[200];
    snprintf(ready_key, sizeof ready_key, "%s:{default}:ready", E.prefix);
    cf_e2e_enqueue(&E, "Exerciser", "done-1", "{\"steps\": 1}");
    assert_true(cf_e2e_wait_state(&E, "done-1", "completed", DEADLINE_MS));
    const char *req[] = {getenv("CF_BIN"), "requeue", "done-1", NULL};
    const char *llen[] = {"LLEN", ready_key, NULL};
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, req), 1);
    assert_int_equal(cf_e2e_redis_int(llen), 0);
    /* had it published anyway, a worker would now take it and log it as not executable */
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_log_events(&E, -1, "not_executable", "key=done-1"), 0);

    /* two steps: the first one's commit makes the run known as running (its begin is lazy
     * until then, docs/healing.md); the second keeps it running for 1.5 s */
    cf_e2e_enqueue(&E, "Exerciser", "slow-1", "{\"steps\": 2, \"sleep_ms\": 1500}");
    assert_true(cf_e2e_wait_state(&E, "slow-1", "running", DEADLINE_MS));
    const char *req2[] = {getenv("CF_BIN"), "requeue", "slow-1", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, req2), 1);
    const char *missing[] = {getenv("CF_BIN"), "requeue", "no-such-key", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, missing), 1);
    assert_true(cf_e2e_wait_state(&E, "slow-1", "completed", DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_log_events(&E, -1, "not_executable", "key=slow-1"), 0);
    assert_int_equal(cf_e2e_log_events(&E, -1, "completed", "key=slow-1"), 1);
}

static void test_wait_until_and_one_step_per_item(void **state)
{
    (void)state;
    cf_e2e_enqueue(&E, "OrderProcessing", "order-1",
                   "{\"items\": [{\"sku\": \"A-1\", \"qty\": 2}, {\"sku\": \"B-2\", \"qty\": 1}], "
                   "\"open_after_ms\": 1000}");
    assert_true(cf_e2e_wait_state(&E, "order-1", "completed", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name LIKE "
                                    "'durably_execute$reserve_item_%'",
                                    "order-1"),
                     2);
    /* the condition was polled more than once, and completed without an error */
    assert_true(cf_e2e_sql_int(&E,
                               "SELECT attempts FROM chrono_forge_execution_logs l JOIN "
                               "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = "
                               "$1 AND l.step_name = 'wait_until$warehouse_open' AND "
                               "l.error_class IS NULL",
                               "order-1") >= 2);
}

static void test_continue_if_waits_for_an_external_enqueue(void **state)
{
    (void)state;
    char flag[400], kw[600];
    snprintf(flag, sizeof flag, "%s/payment-confirmed", E.dir);
    snprintf(kw, sizeof kw, "{\"amount_cents\": 1250, \"confirmation_file\": \"%s\"}", flag);
    cf_e2e_enqueue(&E, "PaymentCapture", "pay-1", kw);
    assert_true(cf_e2e_wait_state(&E, "pay-1", "idle", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE key = $1 "
                                    "AND next_wake_at IS NULL",
                                    "pay-1"),
                     1);
    FILE *f = fopen(flag, "w");
    assert_non_null(f);
    fclose(f);
    cf_e2e_enqueue(&E, "PaymentCapture", "pay-1", "{}"); /* the webhook handler */
    assert_true(cf_e2e_wait_state(&E, "pay-1", "completed", DEADLINE_MS));
}

static void test_malformed_envelopes_go_to_dead_letters(void **state)
{
    (void)state;
    char ready[200], dead[200];
    snprintf(ready, sizeof ready, "%s:{default}:ready", E.prefix);
    snprintf(dead, sizeof dead, "%s:{default}:dead", E.prefix);
    const char *garbage[][3] = {
        {"LPUSH", ready, "\xc1 never-used byte"},
        {"LPUSH", ready, "\x81\xa1v\x02"}, /* {v: 2} */
        {"LPUSH", ready, "\x92\x01\x02"},  /* an array */
    };
    for (int i = 0; i < 3; i++) {
        const char *argv[] = {garbage[i][0], garbage[i][1], garbage[i][2], NULL};
        assert_true(cf_e2e_redis_int(argv) > 0);
        cf_e2e_enqueue(&E, "Exerciser",
                       i == 0   ? "good-0"
                       : i == 1 ? "good-1"
                                : "good-2",
                       "{\"steps\": 1}");
    }
    assert_true(cf_e2e_wait_state(&E, "good-2", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "good-0", "completed", DEADLINE_MS));
    const char *llen[] = {"LLEN", dead, NULL};
    assert_true(cf_e2e_wait_redis_int(llen, 3, INT64_MAX, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_redis_int(llen), 3);
    assert_int_equal(cf_e2e_log_events(&E, -1, "dead_letter", NULL), 3);
    char out[4096];
    const char *list[] = {getenv("CF_BIN"), "dead", "list", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, list), 0);
    assert_non_null(strstr(out, "not_msgpack"));
    assert_non_null(strstr(out, "unsupported_version"));
    assert_non_null(strstr(out, "not_a_map"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exerciser_runs_every_step_once_and_saves_context),
        cmocka_unit_test(test_wait_halts_until_its_target),
        cmocka_unit_test(test_unknown_state_is_never_run_and_never_dropped),
        cmocka_unit_test(test_retry_with_backoff_then_success),
        cmocka_unit_test(test_exhaustion_stalls_and_requeue_completes),
        cmocka_unit_test(test_workflow_level_exhaustion_fails),
        cmocka_unit_test(test_requeue_refuses_completed_and_running),
        cmocka_unit_test(test_wait_until_and_one_step_per_item),
        cmocka_unit_test(test_continue_if_waits_for_an_external_enqueue),
        cmocka_unit_test(test_malformed_envelopes_go_to_dead_letters),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_primitives", tests, setup, teardown);
}
