// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_shutdown.c: how a worker stops when it cannot finish cleanly: a Redis
 * outage that lasts into a SIGTERM leaves the delivery in flight (recovered later, nothing
 * lost) and the worker still exits within its grace period; a second SIGTERM while a step runs
 * makes cf_worker_run abandon that executor and return, and main (not the library) ends the
 * process with exit code 1, without a crash or a sanitizer (leak) report. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/e2e.h"
#include "tests/support/test.h"

static cf_e2e E;
static const char *const C1[] = {"-c", "1", NULL};

CF_E2E_EACH(E)

static void services(const char *cmd)
{
    char line[600];
    snprintf(line, sizeof line, "deploy/services.sh %s '%s' >/dev/null 2>&1", cmd,
             cf_test_env("CF_SERVICES_DIR"));
    assert_int_equal(system(line), 0);
}

typedef struct ledger_wait {
    const char *path, *prefix;
} ledger_wait;

static bool ledger_has(void *arg)
{
    ledger_wait *l = arg;
    return cf_e2e_ledger_count(l->path, l->prefix) > 0;
}

static bool aof_rewritten(void *arg)
{
    (void)arg;
    const char *info[] = {"INFO", "persistence", NULL};
    char out[4096];
    cf_e2e_redis_str(info, out, sizeof out);
    return strstr(out, "aof_enabled:1") && strstr(out, "aof_rewrite_in_progress:0") &&
           strstr(out, "aof_rewrite_scheduled:0");
}

static int64_t inflight_entries(void)
{
    char pattern[256];
    snprintf(pattern, sizeof pattern, "%s:{default}:inflight:*", E.prefix);
    const char *keys[] = {"KEYS", pattern, NULL};
    char key[300];
    cf_e2e_redis_str(keys, key, sizeof key);
    if (key[0] == '\0')
        return 0;
    const char *llen[] = {"LLEN", key, NULL};
    return cf_e2e_redis_int(llen);
}

/* The step is running when Redis goes away; SIGTERM: the step finishes, Postgres records the
 * halt, the end of the delivery cannot reach Redis and gives up (stopping), so the worker
 * exits cleanly well within its 60 s grace period. Before, the executor retried Redis forever,
 * ignoring the stop, until the grace period ran out. The envelope is still in flight when Redis
 * returns, and a new worker finishes the workflow (each step ran once). */
static void test_redis_outage_into_sigterm_leaves_the_envelope_in_flight(void **state)
{
    (void)state;
    if (!cf_test_single_redis())
        return;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-outage", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 4, \"sleep_ms\": 1500, \"ledger\": \"%s\"}", ledger);
    const char *aof_always[] = {"CONFIG", "SET", "appendfsync", "always", NULL};
    const char *aof_on[] = {"CONFIG", "SET", "appendonly", "yes", NULL};
    assert_true(cf_e2e_redis_int(aof_always) >= 0);
    assert_true(cf_e2e_redis_int(aof_on) >= 0);
    assert_true(cf_test_wait_for(aof_rewritten, NULL, 30000));
    const char *grace[] = {"CHRONOFORGE_SHUTDOWN_GRACE=60s", NULL};
    cf_e2e_worker(&E, 0, C1, grace);
    cf_e2e_enqueue(&E, "Exerciser", "outage-1", kw);
    ledger_wait lw = {ledger, "outage-1 step_1 "};
    assert_true(cf_test_wait_for(ledger_has, &lw, 30000));
    services("stop-redis");
    cf_e2e_signal(&E, 0, SIGTERM);
    /* Half the grace period: the drain ends by itself, not by the grace running out. */
    int rc = cf_e2e_wait_exit(&E, 0, 30000);
    setenv("CF_SERVICES_AOF", "yes", 1);
    services("start-redis");
    assert_int_equal(rc, 0);
    assert_true(cf_e2e_log_contains(&E, 0, "event=redis_gave_up"));
    assert_false(cf_e2e_log_contains(&E, 0, "event=worker_abandon"));
    /* Postgres has the outcome (a halt, or the completion if the signal came after step_1);
     * the envelope is still this worker's, in flight. */
    char st[32];
    assert_string_not_equal(cf_e2e_state(&E, "outage-1", st, sizeof st), "running");
    assert_int_equal(inflight_entries(), 1);
    cf_e2e_worker(&E, 1, C1, NULL);
    assert_true(cf_e2e_wait_state(&E, "outage-1", "completed", 60000));
    assert_int_equal(cf_e2e_ledger_count(ledger, "outage-1 step_1 "), 1);
}

/* A second SIGTERM while a step sleeps: the worker abandons that executor and returns; main
 * ends the process with 1. Under ASan, exit runs LeakSanitizer with the abandoned thread still
 * inside its step: its memory is kept reachable on purpose, so nothing is reported (teardown
 * checks the log). Before, the library called _Exit(1) itself. */
static void test_second_sigterm_abandons_and_main_exits_1(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-abandon", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 1, \"sleep_ms\": 20000, \"ledger\": \"%s\"}", ledger);
    const char *grace[] = {"CHRONOFORGE_SHUTDOWN_GRACE=60s", NULL};
    cf_e2e_worker(&E, 0, C1, grace);
    cf_e2e_enqueue(&E, "Exerciser", "abandon-1", kw);
    ledger_wait lw = {ledger, "abandon-1 step_1 "};
    assert_true(cf_test_wait_for(ledger_has, &lw, 30000));
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 1000), -1); /* draining: the step is running */
    cf_e2e_signal(&E, 0, SIGTERM);
    /* well before both the 20 s step and the 60 s grace */
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 10000), 1);
    assert_true(cf_e2e_log_contains(&E, 0, "event=worker_abandon"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_redis_outage_into_sigterm_leaves_the_envelope_in_flight, setup_each,
            teardown_each),
        cmocka_unit_test_setup_teardown(test_second_sigterm_abandons_and_main_exits_1, setup_each,
                                        teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_shutdown", tests, NULL, NULL);
}
