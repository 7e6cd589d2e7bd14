// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_cancel.c: cancellation through the real binary (SPEC §4): `chronoforge
 * cancel` of an idle, a waiting, a stalled and a running workflow (the running step's completion
 * is committed, nothing after it runs, on_cancel runs with the reason, the pending continuation
 * is gone); refusals of completed, failed, cancelled and unknown workflows; a cancel racing a
 * completion (whichever wins, both sides agree); a cleanup that exhausts its policy, then
 * `requeue --cleanup`; bulk cancel by state with --dry-run; status and list show who and why. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000

static cf_e2e E;
static char LEDGER[400];

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    snprintf(LEDGER, sizeof LEDGER, "%s/ledger", E.dir);
    cf_e2e_worker(&E, 0, (const char *const[]){"-c", "4", NULL}, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

#define cli(out, ...)                                                                              \
    cf_e2e_cli(&E, out, sizeof out, (const char *const[]){cf_test_env("CF_BIN"), __VA_ARGS__, NULL})

/* enqueue starts an Exerciser workflow writing to the test's ledger; extra is a JSON fragment
 * of more kwargs ("" or starting with ", "). */
static void enqueue(const char *key, const char *extra)
{
    char kwargs[800];
    snprintf(kwargs, sizeof kwargs, "{\"ledger\": \"%s\"%s}", LEDGER, extra);
    cf_e2e_enqueue(&E, "Exerciser", key, kwargs);
}

static int ledger(const char *key, const char *step)
{
    char prefix[200];
    snprintf(prefix, sizeof prefix, "%s %s ", key, step);
    return cf_e2e_ledger_count(LEDGER, prefix);
}

static bool wait_ledger(const char *key, const char *step, int n)
{
    char prefix[200];
    snprintf(prefix, sizeof prefix, "%s %s ", key, step);
    return cf_e2e_wait_ledger(LEDGER, prefix, n, DEADLINE_MS);
}

/* wf_sql runs a query over the workflow row w of key ($1). */
static char *wf_sql(const char *select, const char *key)
{
    char q[600];
    snprintf(q, sizeof q, "SELECT %s FROM chrono_forge_workflows w WHERE w.key = $1", select);
    return cf_e2e_sql(&E, q, key);
}

static void assert_wf(const char *select, const char *key, const char *want)
{
    char *got = wf_sql(select, key);
    assert_string_equal(got, want);
    free(got);
}

static int64_t step_rows(const char *key, const char *step_like)
{
    char q[600];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w "
             "ON w.id = l.workflow_id WHERE w.key = $1 AND l.step_name LIKE '%s' AND l.state = "
             "'completed'",
             step_like);
    return cf_e2e_sql_int(&E, q, key);
}

/* cancelled_cleanly: key ended cancelled, on_cancel ran once and read the reason. */
static void assert_cancelled_cleanly(const char *key, const char *reason)
{
    assert_true(cf_e2e_wait_state(&E, key, "cancelled", DEADLINE_MS));
    assert_int_equal(ledger(key, "on_cancel"), 1);
    assert_int_equal(step_rows(key, "on\\_cancel$cleanup"), 1);
    assert_wf("w.context->>'cancel_reason'", key, reason);
    assert_wf("w.cancel_reason", key, reason);
    char *by = wf_sql("w.cancel_requested_by", key);
    assert_non_null(strchr(by, '@')); /* user@host */
    free(by);
    assert_int_equal(step_rows(key, "$workflow\\_cancel$%"), 1);
}

static void test_cancel_idle_waiting_and_stalled(void **state)
{
    (void)state;
    char out[8192], st[32];
    enqueue("c-wait", ", \"steps\": 2, \"wait_ms\": 3600000");
    enqueue("c-idle", ", \"steps\": 1, \"gate_file\": \"/nonexistent/gate\"");
    enqueue("c-stall", ", \"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 1");
    assert_true(wait_ledger("c-wait", "step_1", 1));
    assert_true(wait_ledger("c-idle", "step_1", 1));
    assert_true(cf_e2e_wait_state(&E, "c-stall", "stalled", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "c-wait", "idle", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "c-idle", "idle", DEADLINE_MS));

    assert_int_equal(cli(out, "cancel", "c-wait", "--class", "Exerciser", "--reason", "rw"), 0);
    assert_non_null(strstr(out, "cancelled Exerciser/c-wait (was idle"));
    assert_int_equal(cli(out, "cancel", "c-idle", "--class", "Exerciser", "--reason", "ri"), 0);
    assert_int_equal(cli(out, "cancel", "c-stall", "--class", "Exerciser", "--reason", "rs"), 0);
    assert_non_null(strstr(out, "(was stalled"));
    assert_cancelled_cleanly("c-wait", "rw");
    assert_cancelled_cleanly("c-idle", "ri");
    assert_cancelled_cleanly("c-stall", "rs");
    assert_int_equal(ledger("c-wait", "step_2"), 0); /* nothing after the cancel ran */
    assert_int_equal(cf_e2e_log_events(&E, 0, "cancelled", NULL), 3);

    /* status and list show who and why. */
    assert_int_equal(cli(out, "status", "c-wait", "--class", "Exerciser"), 0);
    assert_non_null(strstr(out, "state=cancelled"));
    assert_non_null(strstr(out, "cancel requested"));
    assert_non_null(strstr(out, ": rw"));
    assert_non_null(strstr(out, "on_cancel$cleanup"));
    assert_int_equal(cli(out, "list", "--state", "cancelled"), 0);
    assert_non_null(strstr(out, "c-stall"));
    assert_non_null(strstr(out, "cancelled by "));

    /* Refusals: exit 1 with the reason, nothing written. */
    enqueue("c-done", ", \"steps\": 1");
    enqueue("c-fail", ", \"steps\": 1, \"fail_workflow\": true, \"workflow_max_attempts\": 1");
    assert_true(cf_e2e_wait_state(&E, "c-done", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "c-fail", "failed", DEADLINE_MS));
    assert_int_equal(cli(out, "cancel", "c-done", "--class", "Exerciser"), 1);
    assert_int_equal(cli(out, "cancel", "c-fail", "--class", "Exerciser"), 1);
    assert_int_equal(cli(out, "cancel", "c-wait", "--class", "Exerciser"), 1);
    assert_int_equal(cli(out, "cancel", "no-such", "--class", "Exerciser"), 1);
    assert_int_equal(cli(out, "cancel", "c-done"), 2); /* --class is required */
    assert_string_equal(cf_e2e_state(&E, "c-done", st, sizeof st), "completed");
    assert_string_equal(cf_e2e_state(&E, "c-fail", st, sizeof st), "failed");
    assert_int_equal(step_rows("c-done", "$workflow\\_cancel$%"), 0);
    assert_int_equal(step_rows("c-wait", "$workflow\\_cancel$%"), 1);
    /* The 1 h wait's continuation was removed: nothing is left in Redis. */
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_cancel_running_finishes_its_step_then_stops(void **state)
{
    (void)state;
    char out[4096];
    char hold[400], extra[600];
    snprintf(hold, sizeof hold, "%s/hold", E.dir);
    snprintf(extra, sizeof extra, ", \"steps\": 3, \"sleep_step\": 2, \"hold_file\": \"%s\"", hold);
    enqueue("c-run", extra); /* step_2 runs until the hold file exists */
    assert_true(wait_ledger("c-run", "step_2", 1));
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "c-run", st, sizeof st), "running");
    assert_int_equal(cli(out, "cancel", "c-run", "--class", "Exerciser", "--reason", "stop"), 0);
    assert_non_null(strstr(out, "(was running"));
    FILE *f = fopen(hold, "w"); /* the step in progress finishes */
    assert_non_null(f);
    fclose(f);
    assert_cancelled_cleanly("c-run", "stop");
    assert_int_equal(step_rows("c-run", "durably\\_execute$step\\_2"), 1); /* committed */
    assert_int_equal(ledger("c-run", "step_3"), 0);                        /* nothing after it */
    assert_int_equal(step_rows("c-run", "$workflow\\_completion$"), 0);
    assert_int_equal(cf_e2e_log_events(&E, 0, "cancel_seen", NULL), 1);
    assert_int_equal(cf_e2e_log_events(&E, 0, "fence_conflict", NULL), 0);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

/* A cancel sent while the workflow's last step runs: either it lands first (accepted: the
 * workflow ends cancelled and on_cancel runs) or the completion does (refused "completed": the
 * workflow stays completed, no cancel recorded, no on_cancel). Never a mix. */
static void test_cancel_racing_a_completion(void **state)
{
    (void)state;
    const char *keys[] = {"race-0", "race-1", "race-2"};
    const char *sleeps[] = {"0", "100", "2000"};
    int accepted = 0, refused = 0;
    for (int i = 0; i < 3; i++) {
        char extra[200], out[4096];
        snprintf(extra, sizeof extra, ", \"steps\": 2, \"sleep_step\": 2, \"sleep_ms\": %s",
                 sleeps[i]);
        enqueue(keys[i], extra);
        assert_true(wait_ledger(keys[i], "step_2", 1));
        int rc = cli(out, "cancel", keys[i], "--class", "Exerciser", "--reason", "race");
        if (rc == 0) {
            accepted++;
            assert_cancelled_cleanly(keys[i], "race");
            assert_int_equal(step_rows(keys[i], "durably\\_execute$step\\_2"), 1);
        } else {
            refused++;
            assert_int_equal(rc, 1);
            assert_true(cf_e2e_wait_state(&E, keys[i], "completed", DEADLINE_MS));
            assert_int_equal(ledger(keys[i], "on_cancel"), 0);
            assert_wf("coalesce(w.cancel_requested_by, 'none')", keys[i], "none");
        }
    }
    print_message("race: %d cancels accepted, %d refused (completed first)\n", accepted, refused);
    assert_int_equal(accepted + refused, 3);
    assert_true(accepted >= 1); /* the 2 s step leaves the cancel a wide window */
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_cleanup_exhausting_then_requeue_cleanup(void **state)
{
    (void)state;
    char out[4096];
    enqueue("c-clean", ", \"steps\": 2, \"wait_ms\": 3600000, \"cleanup_fail_first\": 1, "
                       "\"step_max_attempts\": 1");
    assert_true(wait_ledger("c-clean", "step_1", 1));
    assert_true(cf_e2e_wait_state(&E, "c-clean", "idle", DEADLINE_MS));
    assert_int_equal(cli(out, "cancel", "c-clean", "--class", "Exerciser", "--reason", "cl"), 0);
    assert_true(cf_e2e_wait_state(&E, "c-clean", "cancelled", DEADLINE_MS));
    assert_int_equal(ledger("c-clean", "on_cancel"), 1);
    assert_int_equal(step_rows("c-clean", "on\\_cancel$cleanup"), 0);
    assert_wf("(SELECT e.error_class FROM chrono_forge_error_logs e WHERE e.workflow_id = w.id "
              "ORDER BY e.id DESC LIMIT 1)",
              "c-clean", "Exerciser.CleanupFailed");

    /* Only --cleanup requeues a cancelled workflow; it runs on_cancel again. */
    assert_int_equal(cli(out, "requeue", "c-clean", "--class", "Exerciser"), 1);
    assert_int_equal(cli(out, "requeue", "c-clean", "--cleanup"), 2); /* needs --class */
    assert_int_equal(
        cli(out, "requeue", "c-clean", "--cleanup", "--class", "Exerciser", "--reason", "fixed"),
        0);
    assert_true(wait_ledger("c-clean", "on_cancel", 2));
    assert_true(cf_e2e_wait_state(&E, "c-clean", "cancelled", DEADLINE_MS));
    assert_int_equal(cf_e2e_ledger_count(LEDGER, "c-clean on_cancel 2"), 1);
    assert_int_equal(step_rows("c-clean", "on\\_cancel$cleanup"), 1);
    assert_wf("w.context->>'cancel_reason'", "c-clean", "cl");
    assert_int_equal(ledger("c-clean", "step_2"), 0);

    enqueue("c-done2", ", \"steps\": 1");
    assert_true(cf_e2e_wait_state(&E, "c-done2", "completed", DEADLINE_MS));
    assert_int_equal(cli(out, "requeue", "c-done2", "--cleanup", "--class", "Exerciser"), 1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_bulk_cancel_by_state_with_dry_run(void **state)
{
    (void)state;
    char out[8192];
    const char *keys[] = {"b-1", "b-2", "b-3"};
    for (int i = 0; i < 3; i++)
        enqueue(keys[i], ", \"steps\": 2, \"wait_ms\": 3600000");
    enqueue("b-stall", ", \"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 1");
    enqueue("b-done", ", \"steps\": 1");
    for (int i = 0; i < 3; i++)
        assert_true(wait_ledger(keys[i], "step_1", 1));
    assert_true(cf_e2e_wait_keys_in_state(&E, "b-_", "idle", 3, DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "b-stall", "stalled", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "b-done", "completed", DEADLINE_MS));

    assert_int_equal(
        cli(out, "cancel", "--state", "idle,stalled", "--class", "Exerciser", "--dry-run"), 0);
    assert_non_null(strstr(out, "would cancel 4 workflows"));
    assert_non_null(strstr(out, "would cancel Exerciser/b-stall"));
    assert_true(cf_e2e_wait_keys_in_state(&E, "b-_", "idle", 3, DEADLINE_MS));
    assert_int_equal(cli(out, "cancel", "--state", "idle", "--class", "Other"), 0);
    assert_non_null(strstr(out, "cancelled 0 workflows"));

    assert_int_equal(cli(out, "cancel", "--state", "completed"), 1);
    assert_int_equal(cli(out, "cancel", "--state", "idle", "b-1"), 2);
    assert_int_equal(cli(out, "cancel", "--state", "idle,stalled", "--reason", "bulk"), 0);
    assert_non_null(strstr(out, "cancelled 4 workflows"));
    assert_true(cf_e2e_wait_keys_in_state(&E, "b-%", "cancelled", 4, DEADLINE_MS));
    for (int i = 0; i < 3; i++)
        assert_cancelled_cleanly(keys[i], "bulk");
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "b-done", st, sizeof st), "completed");
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_cancel_idle_waiting_and_stalled),
        T(test_cancel_running_finishes_its_step_then_stops),
        T(test_cancel_racing_a_completion),
        T(test_cleanup_exhausting_then_requeue_cleanup),
        T(test_bulk_cancel_by_state_with_dry_run),
    };
#undef T
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_cancel", tests, NULL, NULL);
}
