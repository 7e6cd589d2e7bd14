// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_pause.c: `chronoforge queue pause|resume`. Under load, a pause stops the
 * workers taking from the queue (after the passes already running finish, nothing more starts
 * while it stays paused: no step of any workflow, no promotion of a wake that became due), loses
 * nothing (every envelope waits in Redis), and a resume completes everything. A pause survives
 * FLUSHALL: the healing pass sets the flag again from Postgres and republishes nothing into the
 * paused queue; after the resume healing republishes what Redis lost. The observation windows
 * are derived from the settings (the one-second bound of a pause, the sweep interval), with
 * margins; no pass/fail depends on a measured time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000
#define PAUSE_BOUND 1000 /* SPEC: workers stop taking within a second */
#define OBSERVE_MS  2000 /* how long "nothing is taken" is watched */
#define N_WORKFLOWS 24

static cf_e2e E;
static char ledger[320];
static const char *const ARGS[] = {"-c",    "3", "--sweep-grace", "1s", "--sweep-interval",
                                   "300ms", NULL};

static int setup_each(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    snprintf(ledger, sizeof ledger, "%s/ledger", E.dir);
    return 0;
}

static int teardown_each(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

static int cli(char *out, size_t cap, const char *const *args)
{
    const char *argv[16] = {cf_test_env("CF_BIN")};
    for (int i = 0; args[i] != NULL && i < 14; i++)
        argv[i + 1] = args[i];
    return cf_e2e_cli(&E, out, cap, argv);
}

static void queue_cmd(const char *what)
{
    const char *args[] = {"queue", what, "default", NULL};
    char out[512];
    assert_int_equal(cli(out, sizeof out, args), 0);
}

static int64_t key_int(const char *cmd, const char *suffix)
{
    char key[200];
    snprintf(key, sizeof key, "%s:{default}:%s", E.prefix, suffix);
    const char *argv[] = {cmd, key, NULL};
    return cf_e2e_redis_int(argv);
}

static int64_t running(void)
{
    return cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_workflows WHERE state = $1",
                          "running");
}

static int64_t ledger_lines(void)
{
    return cf_e2e_ledger_count(ledger, "");
}

static bool some_completed(void *arg)
{
    (void)arg;
    return cf_e2e_sql_int(&E,
                          "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE $1"
                          " AND state = 'completed'",
                          "load-%") >= 3;
}

static void test_pause_and_resume_under_load(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        cf_e2e_worker(&E, i, ARGS, NULL);
    for (int i = 0; i < 2; i++)
        assert_true(cf_e2e_wait_log_events(&E, i, "worker_ready", NULL, 1, DEADLINE_MS));
    /* the load is enqueued into the paused queue, so that it is all there when work starts */
    queue_cmd("pause");
    char kw[512];
    snprintf(kw, sizeof kw, "{\"steps\": 2, \"sleep_ms\": 300, \"ledger\": \"%s\"}", ledger);
    for (int i = 0; i < N_WORKFLOWS; i++) {
        char key[32];
        snprintf(key, sizeof key, "load-%d", i);
        cf_e2e_enqueue(&E, "Exerciser", key, kw);
    }
    assert_int_equal(ledger_lines(), 0);
    assert_int_equal(key_int("LLEN", "ready"), N_WORKFLOWS);
    queue_cmd("resume");
    assert_true(cf_test_wait_for(some_completed, NULL, DEADLINE_MS));
    queue_cmd("pause");
    /* the passes running at the pause finish; then nothing more starts */
    cf_clock_sleep_ms(PAUSE_BOUND + 500, NULL);
    int64_t t_wait = cf_clock_mono_ms() + DEADLINE_MS;
    while (running() > 0 && cf_clock_mono_ms() < t_wait)
        cf_clock_sleep_ms(50, NULL);
    assert_int_equal(running(), 0);
    /* a delayed envelope that becomes due while the queue is paused */
    const char *later[] = {"enqueue", "Exerciser", "wake", "--kwargs", kw, "--in", "300ms", NULL};
    assert_int_equal(cli(NULL, 0, later), 0);
    int64_t lines = ledger_lines();
    int64_t done = cf_e2e_sql_int(
        &E, "SELECT count(*) FROM chrono_forge_workflows WHERE state = $1", "completed");
    cf_clock_sleep_ms(OBSERVE_MS, NULL);
    assert_int_equal(ledger_lines(), lines); /* no step started while paused */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE state = $1",
                                    "completed"),
                     done);
    assert_true(done < N_WORKFLOWS); /* the pause really came mid-load */
    assert_int_equal(cf_e2e_ledger_count(ledger, "wake "), 0);
    assert_int_equal(key_int("ZCARD", "scheduled"), 1); /* its due wake was not promoted */
    /* nothing lost: what is left waits in Redis, none in flight */
    int64_t waiting = key_int("LLEN", "ready") + key_int("LLEN", "due");
    assert_true(waiting >= 1);
    char out[4096];
    const char *stats[] = {"stats", NULL};
    assert_int_equal(cli(out, sizeof out, stats), 0);
    assert_non_null(strstr(out, "paused"));
    printf("# paused with %lld of %d completed, %lld envelopes waiting\n", (long long)done,
           N_WORKFLOWS, (long long)waiting);
    queue_cmd("resume");
    assert_true(cf_e2e_wait_states(&E, "completed", N_WORKFLOWS + 1, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    /* each step ran once per workflow: nothing taken twice, nothing lost */
    assert_int_equal(ledger_lines(), 2 * (N_WORKFLOWS + 1));
}

static void test_a_pause_survives_flushall(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, ARGS, NULL);
    assert_true(cf_e2e_wait_log_events(&E, 0, "worker_ready", NULL, 1, DEADLINE_MS));
    char kw[512];
    snprintf(kw, sizeof kw, "{\"steps\": 2, \"wait_ms\": 500, \"ledger\": \"%s\"}", ledger);
    cf_e2e_enqueue(&E, "Exerciser", "flush", kw);
    assert_true(cf_e2e_wait_ledger(ledger, "flush step_1 ", 1, DEADLINE_MS));
    queue_cmd("pause");
    const char *flush[] = {"FLUSHALL", NULL};
    cf_e2e_redis_int(flush);
    assert_int_equal(key_int("EXISTS", "paused"), 0);
    char key[200];
    snprintf(key, sizeof key, "%s:{default}:paused", E.prefix);
    const char *exists[] = {"EXISTS", key, NULL};
    assert_true(cf_e2e_wait_redis_int(exists, 1, 1, DEADLINE_MS)); /* restored by healing */
    assert_true(
        cf_e2e_wait_log_events(&E, 0, "queue_pause_restored", "queue=default", 1, DEADLINE_MS));
    /* the workflow is overdue by more than the grace for several passes: nothing republished
     * into the paused queue, nothing run */
    cf_clock_sleep_ms(OBSERVE_MS, NULL);
    assert_int_equal(key_int("ZCARD", "scheduled") + key_int("LLEN", "ready"), 0);
    assert_int_equal(cf_e2e_ledger_count(ledger, "flush step_2 "), 0);
    queue_cmd("resume");
    assert_true(cf_e2e_wait_state(&E, "flush", "completed", DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_and_resume_under_load, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_a_pause_survives_flushall, setup_each, teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_pause", tests, NULL, NULL);
}
