// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_schedules.c: schedules through the real binary. A schedule ticking every
 * second with three workers racing: every workflow it created between add and pause has a
 * distinct tick, each fired by exactly one worker (no worker ever found its tick's key taken),
 * each reading its own tick (cf_run_scheduled_at_ms); after a downtime of an hour only the
 * latest missed tick fires, not a burst; overlap skip creates nothing while the previous
 * workflow is unfinished and allow does; `schedule run` fires once now without moving the
 * ticks; the CLI refuses bad definitions and unknown names, changing nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000

static cf_e2e E;

CF_E2E_EACH(E)

static void start_workers(int n)
{
    for (int i = 0; i < n; i++)
        cf_e2e_worker(&E, i, NULL, NULL);
    for (int i = 0; i < n; i++)
        assert_true(cf_e2e_wait_log_events(&E, i, "worker_ready", NULL, 1, DEADLINE_MS));
}

/* cli runs the binary with args (NULL-terminated, without the binary). */
static int cli(char *out, size_t cap, const char *const *args)
{
    const char *argv[24] = {cf_test_env("CF_BIN")};
    for (int i = 0; args[i] != NULL && i < 22; i++)
        argv[i + 1] = args[i];
    return cf_e2e_cli(&E, out, cap, argv);
}

static int64_t count_keys(const char *like)
{
    return cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE $1",
                          like);
}

typedef struct keys_arg {
    const char *like;
    int64_t n;
} keys_arg;

static bool enough_completed(void *arg)
{
    keys_arg *k = arg;
    return cf_e2e_sql_int(&E,
                          "SELECT count(*) FROM chrono_forge_workflows"
                          " WHERE key LIKE $1 AND state = 'completed'",
                          k->like) >= k->n;
}

static void test_every_second_with_three_workers_fires_each_tick_once(void **state)
{
    (void)state;
    start_workers(3);
    const char *add[] = {"schedule",       "add",       "tick",  "--class",
                         "Exerciser",      "--every",   "1s",    "--kwargs",
                         "{\"steps\": 1}", "--overlap", "allow", NULL};
    char out[4096];
    assert_int_equal(cli(out, sizeof out, add), 0);
    assert_non_null(strstr(out, "added schedule tick (Exerciser): next fire "));
    keys_arg k = {"tick@%", 5};
    assert_true(cf_test_wait_for(enough_completed, &k, DEADLINE_MS));
    const char *pause[] = {"schedule", "pause", "tick", NULL};
    assert_int_equal(cli(out, sizeof out, pause), 0);
    int64_t n = count_keys("tick@%");
    assert_true(cf_e2e_wait_keys_in_state(&E, "tick@%", "completed", n, DEADLINE_MS));
    /* one workflow per tick: ticks are distinct whole seconds, and each workflow's own tick
     * (its context, from cf_run_scheduled_at_ms) is the one its key names */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(DISTINCT (options->>'scheduled_at')::bigint)"
                                    " FROM chrono_forge_workflows WHERE key LIKE $1"
                                    " AND (options->>'scheduled_at')::bigint % 1000 = 0"
                                    " AND (context->>'scheduled_at')::bigint ="
                                    "     (options->>'scheduled_at')::bigint"
                                    " AND key = 'tick@' || to_char(to_timestamp("
                                    "     (options->>'scheduled_at')::bigint / 1000.0) AT TIME"
                                    "     ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                                    "tick@%"),
                     n);
    /* every tick between the first and the last fired one has its workflow */
    int64_t span = cf_e2e_sql_int(&E,
                                  "SELECT (max((options->>'scheduled_at')::bigint)"
                                  " - min((options->>'scheduled_at')::bigint)) / 1000 + 1"
                                  " FROM chrono_forge_workflows WHERE key LIKE $1",
                                  "tick@%");
    assert_int_equal(span, n);
    /* each fired by exactly one worker: as many fire events as workflows, none ever finding
     * its key taken by another worker's fire */
    assert_int_equal(cf_e2e_log_events(&E, -1, "schedule_fired", "schedule=tick"), n);
    assert_int_equal(cf_e2e_log_events(&E, -1, "schedule_key_exists", NULL), 0);
    printf("# %lld ticks fired by 3 workers; fires per worker: %d %d %d\n", (long long)n,
           cf_e2e_log_events(&E, 0, "schedule_fired", NULL),
           cf_e2e_log_events(&E, 1, "schedule_fired", NULL),
           cf_e2e_log_events(&E, 2, "schedule_fired", NULL));
    const char *list[] = {"schedule", "list", "--json", NULL};
    assert_int_equal(cli(out, sizeof out, list), 0);
    assert_non_null(strstr(out, "\"name\":\"tick\""));
    assert_non_null(strstr(out, "\"paused\":true"));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

/* Downtime: the schedule's next fire is set an hour back (as if no worker ran for an hour);
 * a worker then fires the latest minute tick alone, not sixty. */
static void test_after_downtime_one_missed_run_fires(void **state)
{
    (void)state;
    const char *add[] = {"schedule",       "add",    "down",          "--class",
                         "Exerciser",      "--cron", "* * * * *",     "--kwargs",
                         "{\"steps\": 1}", "--tz",   "Europe/Berlin", NULL};
    assert_int_equal(cli(NULL, 0, add), 0);
    cf_e2e_sql_exec(&E, "UPDATE chrono_forge_schedules SET next_fire_at ="
                        " date_trunc('minute', now()) - interval '1 hour' WHERE name = 'down'");
    int64_t start = cf_clock_unix_ms();
    start_workers(1);
    keys_arg k = {"down@%", 1};
    assert_true(cf_test_wait_for(enough_completed, &k, DEADLINE_MS));
    const char *pause[] = {"schedule", "pause", "down", NULL};
    assert_int_equal(cli(NULL, 0, pause), 0);
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)start);
    /* of the ticks before the worker started, exactly one fired: the latest */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows"
                                    " WHERE key LIKE 'down@%'"
                                    " AND (options->>'scheduled_at')::bigint < $1::bigint",
                                    ms),
                     1);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows"
                                    " WHERE key LIKE 'down@%' AND (options->>'scheduled_at')"
                                    "::bigint = $1::bigint / 60000 * 60000",
                                    ms),
                     1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

/* Overlap skip: the first workflow parks on a gate (unfinished), later ticks are skipped and
 * logged; allow creates one per tick regardless. */
static void test_overlap_skip_fires_nothing_while_the_previous_is_unfinished(void **state)
{
    (void)state;
    start_workers(1);
    char kw[512];
    snprintf(kw, sizeof kw, "{\"steps\": 1, \"gate_file\": \"%s/never\"}", E.dir);
    const char *skip[] = {"schedule", "add", "skip",     "--class", "Exerciser",
                          "--every",  "1s",  "--kwargs", kw,        NULL};
    const char *allow[] = {"schedule", "add",      "allow", "--class",   "Exerciser", "--every",
                           "1s",       "--kwargs", kw,      "--overlap", "allow",     NULL};
    assert_int_equal(cli(NULL, 0, skip), 0);
    assert_int_equal(cli(NULL, 0, allow), 0);
    assert_true(cf_e2e_wait_log_events(&E, 0, "schedule_skipped", "schedule=skip", 3, DEADLINE_MS));
    assert_true(cf_e2e_wait_log_events(&E, 0, "schedule_fired", "schedule=allow", 3, DEADLINE_MS));
    const char *p1[] = {"schedule", "pause", "skip", NULL};
    const char *p2[] = {"schedule", "pause", "allow", NULL};
    assert_int_equal(cli(NULL, 0, p1), 0);
    assert_int_equal(cli(NULL, 0, p2), 0);
    assert_int_equal(count_keys("skip@%"), 1);
    assert_true(count_keys("allow@%") >= 3);
}

static void test_schedule_run_and_refusals(void **state)
{
    (void)state;
    char out[4096];
    const char *notick[] = {"schedule",  "add",     "bad", "--class",
                            "Exerciser", "--every", "1m",  "--key-template",
                            "fixed",     NULL};
    assert_int_equal(cli(out, sizeof out, notick), 1);
    const char *badcron[] = {"schedule",  "add",    "bad",        "--class",
                             "Exerciser", "--cron", "0 25 * * *", NULL};
    assert_int_equal(cli(out, sizeof out, badcron), 1);
    const char *badclass[] = {"schedule", "add", "bad", "--class", "Nope", "--every", "1m", NULL};
    assert_int_equal(cli(out, sizeof out, badclass), 1);
    const char *both[] = {"schedule", "add", "bad",    "--class",   "Exerciser",
                          "--every",  "1m",  "--cron", "* * * * *", NULL};
    assert_int_equal(cli(out, sizeof out, both), 2);
    assert_int_equal(cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_schedules", NULL), 0);
    const char *yearly[] = {"schedule", "add",       "yearly",   "--class",        "Exerciser",
                            "--cron",   "0 0 1 1 *", "--kwargs", "{\"steps\": 1}", NULL};
    assert_int_equal(cli(out, sizeof out, yearly), 0);
    start_workers(1);
    const char *run[] = {"schedule", "run", "yearly", NULL};
    assert_int_equal(cli(out, sizeof out, run), 0);
    char *key = strstr(out, "Exerciser/yearly@");
    assert_non_null(key);
    key += strlen("Exerciser/");
    key[strcspn(key, "\n")] = '\0';
    assert_true(cf_e2e_wait_state(&E, key, "completed", DEADLINE_MS));
    /* its tick is now (in its key and its context); the schedule's own ticks did not move */
    assert_true(cf_e2e_sql_int(&E,
                               "SELECT (context->>'scheduled_at')::bigint FROM"
                               " chrono_forge_workflows WHERE key = $1",
                               key) > 0);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_schedules WHERE name ="
                                    " 'yearly' AND last_fire_at IS NULL AND last_key = $1",
                                    key),
                     1);
    const char *unknown[] = {"schedule", "run", "nope", NULL};
    assert_int_equal(cli(out, sizeof out, unknown), 1);
    const char *rm[] = {"schedule", "remove", "yearly", NULL};
    assert_int_equal(cli(out, sizeof out, rm), 0);
    assert_int_equal(cli(out, sizeof out, rm), 1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_second_with_three_workers_fires_each_tick_once,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_after_downtime_one_missed_run_fires, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(
            test_overlap_skip_fires_nothing_while_the_previous_is_unfinished, setup_each,
            teardown_each),
        cmocka_unit_test_setup_teardown(test_schedule_run_and_refusals, setup_each, teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_schedules", tests, NULL, NULL);
}
