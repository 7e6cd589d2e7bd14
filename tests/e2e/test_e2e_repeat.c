// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_repeat.c: durably_repeat through real workers, Redis and Postgres, with the
 * Exerciser's repeat_* kwargs: ticks on the grid, one ledger line each; till ending the repeat
 * and the workflow going on past it; a failing tick under on_error continue and stall (then a
 * requeue); the SubscriptionRenewal example; a worker stopped for ~30 ticks: one fast-forward
 * row, then only the recent ticks, with no pass per missed tick. Periods are short (1 s, 200 ms);
 * waits are bounded by generous deadlines, never asserted as timings. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000

static cf_e2e E;
static const char *const worker_args[] = {"-c", "4", "--log-level", "debug", NULL};

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    cf_e2e_worker(&E, 0, worker_args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

/* ledger_ticks reads the tick lines of key ("<key> tick@<ms> <attempt>") in file order. */
static int ledger_ticks(const char *path, const char *key, long long *ticks, int *attempts, int cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[512], prefix[300];
    snprintf(prefix, sizeof prefix, "%s tick@", key);
    int n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        long long t;
        int a;
        if (strncmp(line, prefix, strlen(prefix)) == 0 &&
            sscanf(line + strlen(prefix), "%lld %d", &t, &a) == 2) {
            ticks[n] = t;
            attempts[n++] = a;
        }
    }
    fclose(f);
    return n;
}

/* tick_rows counts key's rows of the repeat "tick" (tick rows and summaries) in state. */
static int64_t tick_rows(const char *key, const char *state)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w "
             "ON w.id = l.workflow_id WHERE w.key = $1 AND l.step_name LIKE "
             "'durably\\_repeat$tick$%%' AND l.state = '%s'",
             state);
    return cf_e2e_sql_int(&E, sql, key);
}

static int64_t coord_int(const char *key, const char *field)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((l.metadata->>'%s')::bigint, 0) FROM chrono_forge_execution_logs l "
             "JOIN chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 AND "
             "l.step_name = 'durably_repeat$tick'",
             field);
    return cf_e2e_sql_int(&E, sql, key);
}

static char *coord_col(const char *key, const char *col)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(l.%s, '') FROM chrono_forge_execution_logs l JOIN "
             "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 AND "
             "l.step_name = 'durably_repeat$tick'",
             col);
    return cf_e2e_sql(&E, sql, key);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void test_repeat_five_ticks_of_one_second_on_the_grid(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-five", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"ledger\": \"%s\", \"repeat_ticks\": 5, \"repeat_every_ms\": 1000}",
             ledger);
    cf_e2e_enqueue(&E, "Exerciser", "five-1", kw);
    assert_true(cf_e2e_wait_state(&E, "five-1", "completed", DEADLINE_MS));
    long long t[16];
    int a[16];
    int n = ledger_ticks(ledger, "five-1", t, a, 16);
    assert_int_equal(n, 5); /* one line per tick: each ran once */
    for (int i = 0; i < n; i++) {
        assert_int_equal(a[i], 1);
        if (i > 0)
            assert_int_equal(t[i] - t[i - 1], 1000); /* on the grid, whatever the lateness */
    }
    assert_int_equal(tick_rows("five-1", "completed"), 5);
    assert_int_equal(coord_int("five-1", "completed"), 5);
    char *st = coord_col("five-1", "state");
    assert_string_equal(st, "completed");
    free(st);
    cf_e2e_assert_quiet(&E, DEADLINE_MS); /* nothing left scheduled */
    assert_int_equal(ledger_ticks(ledger, "five-1", t, a, 16), 5);
}

static void test_repeat_till_ends_it_and_the_workflow_goes_on(void **state)
{
    (void)state;
    char ledger[400], gate[400], kw[900];
    snprintf(ledger, sizeof ledger, "%s/ledger-till", E.dir);
    snprintf(gate, sizeof gate, "%s/gate-till", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"ledger\": \"%s\", \"repeat_ticks\": 2, \"repeat_every_ms\": 200, "
             "\"gate_file\": \"%s\"}",
             ledger, gate);
    cf_e2e_enqueue(&E, "Exerciser", "till-1", kw);
    /* the workflow reaches the gate after the repeat: idle with nothing scheduled */
    const char *sql = "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                      "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 AND "
                      "l.step_name = 'continue_if$gate'";
    for (int i = 0; i < DEADLINE_MS / 50 && cf_e2e_sql_int(&E, sql, "till-1") == 0; i++)
        sleep_ms(50);
    assert_int_equal(cf_e2e_sql_int(&E, sql, "till-1"), 1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS); /* no tick continuation is left behind */
    long long t[16];
    int a[16];
    assert_int_equal(ledger_ticks(ledger, "till-1", t, a, 16), 2);
    char *st = coord_col("till-1", "state");
    assert_string_equal(st, "completed");
    free(st);
    FILE *g = fopen(gate, "w");
    assert_non_null(g);
    fclose(g);
    cf_e2e_enqueue(&E, "Exerciser", "till-1", kw); /* wakes the gate */
    assert_true(cf_e2e_wait_state(&E, "till-1", "completed", DEADLINE_MS));
    assert_int_equal(ledger_ticks(ledger, "till-1", t, a, 16), 2);
}

static void test_repeat_failed_tick_under_continue_goes_on(void **state)
{
    (void)state;
    char ledger[400], fail[400], kw[1200];
    snprintf(ledger, sizeof ledger, "%s/ledger-cont", E.dir);
    snprintf(fail, sizeof fail, "%s/fail-cont", E.dir);
    FILE *f = fopen(fail, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"ledger\": \"%s\", \"repeat_ticks\": 2, \"repeat_every_ms\": 200, "
             "\"repeat_fail_file\": \"%s\", \"repeat_max_attempts\": 1, "
             "\"repeat_backoff_ms\": 50}",
             ledger, fail);
    cf_e2e_enqueue(&E, "Exerciser", "cont-1", kw);
    for (int i = 0; i < DEADLINE_MS / 50 && tick_rows("cont-1", "failed") < 2; i++)
        sleep_ms(50);
    assert_true(tick_rows("cont-1", "failed") >= 2); /* the repeat went on past a failed tick */
    unlink(fail);
    assert_true(cf_e2e_wait_state(&E, "cont-1", "completed", DEADLINE_MS));
    int64_t failed = tick_rows("cont-1", "failed");
    assert_int_equal(tick_rows("cont-1", "completed"), 2);
    assert_int_equal(coord_int("cont-1", "failed"), failed);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_error_logs e JOIN "
                                    "chrono_forge_workflows w ON w.id = e.workflow_id WHERE "
                                    "w.key = $1 AND e.error_class = 'Exerciser.TickFailed'",
                                    "cont-1"),
                     failed);
    long long t[64];
    int a[64];
    int n = ledger_ticks(ledger, "cont-1", t, a, 64);
    assert_int_equal(n, failed + 2);
    for (int i = 0; i < n; i++)
        assert_int_equal(a[i], 1); /* max_attempts 1: never retried */
}

static void test_repeat_failed_tick_under_stall_then_requeue(void **state)
{
    (void)state;
    char ledger[400], fail[400], kw[1200], out[256];
    snprintf(ledger, sizeof ledger, "%s/ledger-stall", E.dir);
    snprintf(fail, sizeof fail, "%s/fail-stall", E.dir);
    FILE *f = fopen(fail, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"ledger\": \"%s\", \"repeat_ticks\": 2, \"repeat_every_ms\": 200, "
             "\"repeat_fail_file\": \"%s\", \"repeat_on_error\": \"stall\", "
             "\"repeat_max_attempts\": 2, \"repeat_backoff_ms\": 50}",
             ledger, fail);
    cf_e2e_enqueue(&E, "Exerciser", "rstall-1", kw);
    assert_true(cf_e2e_wait_state(&E, "rstall-1", "stalled", DEADLINE_MS));
    long long t[16];
    int a[16];
    assert_int_equal(ledger_ticks(ledger, "rstall-1", t, a, 16), 2); /* one tick, 2 attempts */
    assert_int_equal(t[0], t[1]);
    assert_int_equal(a[1], 2);
    char *st = coord_col("rstall-1", "state"), *cls = coord_col("rstall-1", "error_class");
    assert_string_equal(st, "failed");
    assert_string_equal(cls, "Exerciser.TickFailed");
    free(st);
    free(cls);
    assert_int_equal(tick_rows("rstall-1", "failed"), 1);
    unlink(fail);
    const char *req[] = {getenv("CF_BIN"), "requeue", "rstall-1", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, req), 0);
    assert_true(cf_e2e_wait_state(&E, "rstall-1", "completed", DEADLINE_MS));
    int n = ledger_ticks(ledger, "rstall-1", t, a, 16);
    assert_int_equal(n, 4);
    assert_int_equal(t[2], t[0]); /* the same tick ran again, attempt numbers counting on */
    assert_int_equal(a[2], 3);
    assert_int_equal(t[3] - t[2], 200);
    assert_int_equal(tick_rows("rstall-1", "completed"), 2);
    assert_int_equal(tick_rows("rstall-1", "failed"), 0);
}

/* The example a user would copy (workflows/renewal.c), its monthly period shortened by kwargs. */
static void test_repeat_renewal_example_renews_then_closes(void **state)
{
    (void)state;
    cf_e2e_enqueue(&E, "SubscriptionRenewal", "sub-1",
                   "{\"customer\": \"ada\", \"renewals\": 3, \"every_ms\": 200}");
    assert_true(cf_e2e_wait_state(&E, "sub-1", "completed", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT (context->>'renewals')::int FROM "
                                    "chrono_forge_workflows WHERE key = $1",
                                    "sub-1"),
                     3);
    char *status = cf_e2e_sql(
        &E, "SELECT context->>'status' FROM chrono_forge_workflows WHERE key = $1", "sub-1");
    assert_string_equal(status, "ended");
    free(status);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name LIKE 'durably\\_repeat$renew$%' "
                                    "AND l.state = 'completed'",
                                    "sub-1"),
                     3);
}

/* Last: it stops worker 0 and leaves worker 1 running. */
static void test_repeat_after_downtime_fast_forwards_once_without_a_burst(void **state)
{
    (void)state;
    char ledger[400], kw[900];
    snprintf(ledger, sizeof ledger, "%s/ledger-down", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"ledger\": \"%s\", \"repeat_ticks\": 8, \"repeat_every_ms\": 200, "
             "\"repeat_timeout_ms\": 600}",
             ledger);
    cf_e2e_enqueue(&E, "Exerciser", "down-1", kw);
    assert_true(cf_e2e_wait_ledger(ledger, "down-1 tick@", 2, DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 0);
    long long t[64];
    int a[64];
    int before = ledger_ticks(ledger, "down-1", t, a, 64);
    assert_true(before >= 2 && before < 8);
    sleep_ms(30 * 200); /* the outage: 30 ticks of the 200 ms repeat, 10 times its timeout */
    cf_e2e_worker(&E, 1, worker_args, NULL);
    assert_true(cf_e2e_wait_state(&E, "down-1", "completed", DEADLINE_MS));

    /* one summary row for every expired tick; they never ran */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name LIKE 'durably\\_repeat$tick$%' AND "
                                    "l.metadata ? 'fast_forwarded'",
                                    "down-1"),
                     1);
    int64_t skipped =
        cf_e2e_sql_int(&E,
                       "SELECT (l.metadata->>'fast_forwarded')::bigint FROM "
                       "chrono_forge_execution_logs l JOIN chrono_forge_workflows w "
                       "ON w.id = l.workflow_id WHERE w.key = $1 AND l.step_name LIKE "
                       "'durably\\_repeat$tick$%' AND l.metadata ? 'fast_forwarded'",
                       "down-1");
    assert_true(skipped >= 20); /* >= 6 s down, 200 ms ticks, at most 3 within the timeout */
    assert_int_equal(coord_int("down-1", "fast_forwarded"), skipped);
    int n = ledger_ticks(ledger, "down-1", t, a, 64);
    assert_int_equal(n, 8); /* only ticks that completed ran: skipped ones do not count */
    for (int i = 1; i < n; i++)
        assert_true((t[i] - t[i - 1]) % 200 == 0 && t[i] > t[i - 1]); /* one grid */
    assert_true(t[before] - t[before - 1] >= 200 * (skipped + 1));
    /* no burst: one pass per remaining tick, plus the one where till is met (and slack for a
     * duplicate delivery), never one per missed tick */
    int passes = cf_e2e_log_events(&E, 1, "run_start", "key=down-1");
    assert_true(passes >= 8 - before);
    if (passes > 8 - before + 3)
        fail_msg("%d passes after the outage for %d ticks: a burst", passes, 8 - before);
    assert_int_equal(cf_e2e_log_events(&E, 1, "repeat_fast_forward", "key=down-1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_five_ticks_of_one_second_on_the_grid),
        cmocka_unit_test(test_repeat_till_ends_it_and_the_workflow_goes_on),
        cmocka_unit_test(test_repeat_failed_tick_under_continue_goes_on),
        cmocka_unit_test(test_repeat_failed_tick_under_stall_then_requeue),
        cmocka_unit_test(test_repeat_renewal_example_renews_then_closes),
        cmocka_unit_test(test_repeat_after_downtime_fast_forwards_once_without_a_burst),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_repeat", tests, setup, teardown);
}
