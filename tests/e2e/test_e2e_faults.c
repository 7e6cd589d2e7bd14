// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_faults.c: what happens to work when processes and servers fail: SIGTERM
 * with steps in flight strands nothing; SIGKILL mid-step is resumed by another worker with at
 * most one re-run of the killed step; a SIGSTOPped run past max_duration has its writes refused
 * by the fence; a crash-looping workflow is stalled while the fleet stays up; Redis and then
 * Postgres down for 20 s lose nothing. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "common/buf.h"
#include "queue/envelope.h"
#include "queue/redis_conn.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000

static cf_e2e E;
static const char *const C4[] = {"-c", "4", NULL};

CF_E2E_EACH(E)

/* keys_matching counts Redis keys matching the glob pattern under this test's prefix. */
static int64_t keys_matching(const char *suffix)
{
    char pattern[256];
    snprintf(pattern, sizeof pattern, "%s:%s", E.prefix, suffix);
    const char *argv[] = {"KEYS", pattern, NULL};
    return cf_e2e_redis_int(argv);
}

static void hold(int64_t ms) /* a fault's duration, not a wait for a condition */
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* aof_ready: appendonly is on and its first rewrite has finished (INFO persistence). */
static bool aof_ready(void *arg)
{
    (void)arg;
    cf_redis *r = NULL;
    cf_error err;
    if (cf_redis_open(cf_test_env("CF_TEST_REDIS_URL"), NULL, &r, &err) != CF_OK)
        return false;
    const char *argv[] = {"INFO", "persistence"};
    size_t lens[] = {4, 11};
    cf_reply *rep = NULL;
    bool ok = cf_redis_exec(r, 2, argv, lens, &rep) == CF_OK && rep->str &&
              strstr(rep->str, "aof_enabled:1") && strstr(rep->str, "aof_rewrite_in_progress:0") &&
              strstr(rep->str, "aof_rewrite_scheduled:0");
    cf_reply_free(rep);
    cf_redis_free(r);
    return ok;
}

static void services(const char *cmd, const char *arg)
{
    char line[600];
    snprintf(line, sizeof line, "deploy/services.sh %s '%s' %s >/dev/null 2>&1", cmd,
             cf_test_env("CF_SERVICES_DIR"), arg ? arg : "");
    assert_int_equal(system(line), 0);
}

static void test_sigterm_drains_and_strands_nothing(void **state)
{
    (void)state;
    char ledger[400], kw[600], key[32];
    snprintf(ledger, sizeof ledger, "%s/ledger-term", E.dir);
    cf_e2e_worker(&E, 0, C4, NULL);
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "term-%d", i);
        snprintf(kw, sizeof kw, "{\"steps\": 3, \"sleep_ms\": 300, \"ledger\": \"%s\"}", ledger);
        cf_e2e_enqueue(&E, "Exerciser", key, kw);
    }
    assert_true(cf_e2e_wait_ledger(ledger, "term-", 4, DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 20000), 0);
    /* nothing in flight, no lock, no registration, no workflow left running */
    assert_int_equal(keys_matching("{default}:inflight:*"), 0);
    assert_int_equal(keys_matching("lock:*"), 0);
    assert_int_equal(keys_matching("held:*"), 0);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE state = $1",
                                    "running"),
                     0);
    cf_e2e_worker(&E, 1, C4, NULL);
    assert_true(cf_e2e_wait_states(&E, "completed", 8, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    /* every step ran exactly once: the drain let running steps finish */
    for (int i = 0; i < 8; i++)
        for (int s = 1; s <= 3; s++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "term-%d step_%d ", i, s);
            assert_int_equal(cf_e2e_ledger_count(ledger, prefix), 1);
        }
}

static void test_second_signal_exits_at_once(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-twice", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 1, \"sleep_ms\": 20000, \"ledger\": \"%s\"}", ledger);
    const char *grace[] = {"CHRONOFORGE_SHUTDOWN_GRACE=60s", NULL};
    cf_e2e_worker(&E, 0, C4, grace);
    cf_e2e_enqueue(&E, "Exerciser", "twice-1", kw);
    assert_true(cf_e2e_wait_ledger(ledger, "twice-1 step_1 ", 1, DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 1000), -1); /* draining: the step is running */
    cf_e2e_signal(&E, 0, SIGTERM);
    /* well before both the 20 s step and the 60 s grace */
    int rc = cf_e2e_wait_exit(&E, 0, 10000);
    assert_true(rc >= 0);
    assert_int_not_equal(rc, 0); /* it gave up on a running step: not a clean drain */
}

static void test_sigkill_mid_step_is_resumed_by_another_worker(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-kill", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 3, \"sleep_ms\": 1500, \"ledger\": \"%s\"}", ledger);
    cf_e2e_worker(&E, 0, C4, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "kill-1", kw);
    assert_true(cf_e2e_wait_ledger(ledger, "kill-1 step_2 ", 1, DEADLINE_MS));
    assert_int_equal(cf_e2e_ledger_count(ledger, "kill-1 step_2 "), 1);
    cf_e2e_signal(&E, 0, SIGKILL); /* max_duration (10 min) is far above the lease (3 s) */
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 5000), 128 + SIGKILL);
    cf_e2e_worker(&E, 1, C4, NULL);
    assert_true(cf_e2e_wait_state(&E, "kill-1", "completed", DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_ledger_count(ledger, "kill-1 step_1 "), 1);
    assert_true(cf_e2e_ledger_count(ledger, "kill-1 step_2 ") <= 2); /* at most one re-run */
    assert_int_equal(cf_e2e_ledger_count(ledger, "kill-1 step_3 "), 1);
}

/* SIGKILL inside the lazy window (docs/healing.md): Postgres never heard of the run; the
 * recovered redelivery takes the lock over from the crash tombstone, counts the crash and
 * completes the workflow exactly once. */
static void test_sigkill_in_the_lazy_window_is_counted_and_resumed(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-lazy", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 1, \"sleep_ms\": 1500, \"ledger\": \"%s\"}", ledger);
    const char *lazy[] = {"CHRONOFORGE_LAZY_BEGIN=10s", NULL}; /* capped at lease/4 */
    cf_e2e_worker(&E, 0, C4, lazy);
    cf_e2e_enqueue(&E, "Exerciser", "lazy-1", kw);
    assert_true(cf_e2e_wait_ledger(ledger, "lazy-1 step_1 ", 1, DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGKILL); /* mid-step, inside the window */
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 5000), 128 + SIGKILL);
    assert_int_equal(
        cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_workflows WHERE key = $1", "lazy-1"),
        0); /* the window: no trace in Postgres */
    cf_e2e_worker(&E, 1, C4, lazy);
    assert_true(cf_e2e_wait_state(&E, "lazy-1", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_log_events(&E, 1, "crash_counted", "key=lazy-1", 1, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_ledger_count(ledger, "lazy-1 step_1 "), 2); /* at-least-once */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name = '$workflow_completion$'",
                                    "lazy-1"),
                     1);
}

static void test_sigstopped_run_past_max_duration_is_fenced_off(void **state)
{
    (void)state;
    char ledger[400], kw[600], lock[300];
    snprintf(ledger, sizeof ledger, "%s/ledger-stop", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 2, \"sleep_ms\": 2500, \"ledger\": \"%s\"}", ledger);
    snprintf(lock, sizeof lock, "%s:lock:Exerciser/stop-1", E.prefix);
    const char *args[] = {"-c", "2", "--max-duration", "1s", NULL};
    const char *long_lease[] = {"CHRONOFORGE_LEASE=120s", NULL}; /* no recovery: only the fence */
    cf_e2e_worker(&E, 0, args, long_lease);
    cf_e2e_enqueue(&E, "Exerciser", "stop-1", kw);
    assert_true(cf_e2e_wait_ledger(ledger, "stop-1 step_1 ", 1, DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGSTOP);
    const char *exists[] = {"EXISTS", lock, NULL};
    /* the lock lived max_duration (1 s): gone well within 10 s */
    assert_true(cf_e2e_wait_redis_int(exists, 0, 0, 10000));
    cf_e2e_worker(&E, 1, args, long_lease);
    cf_e2e_enqueue(&E, "Exerciser", "stop-1", "{}");
    assert_true(cf_e2e_wait_state(&E, "stop-1", "completed", DEADLINE_MS));
    int64_t fence =
        cf_e2e_sql_int(&E, "SELECT fence FROM chrono_forge_workflows WHERE key = $1", "stop-1");
    cf_e2e_signal(&E, 1, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 1, 20000), 0);
    cf_e2e_signal(&E, 0, SIGCONT);
    /* the stopped run wakes, finishes its step, and its write is refused */
    assert_true(cf_e2e_wait_log_events(&E, 0, "fence_conflict", "key=stop-1", 1, DEADLINE_MS));
    assert_int_equal(
        cf_e2e_sql_int(&E, "SELECT fence FROM chrono_forge_workflows WHERE key = $1", "stop-1"),
        fence);
    char buf[32];
    assert_string_equal(cf_e2e_state(&E, "stop-1", buf, sizeof buf), "completed");
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.step_name = '$workflow_completion$'",
                                    "stop-1"),
                     1);
    /* and the stopped worker then serves other work */
    cf_e2e_enqueue(&E, "Exerciser", "after-stop", "{\"steps\": 1}");
    assert_true(cf_e2e_wait_state(&E, "after-stop", "completed", DEADLINE_MS));
}

/* supervise restarts dead workers (as a supervisor would) and says whether crash-1 stalled. */
static bool supervise(void *arg)
{
    int *restarts = arg;
    for (int slot = 0; slot < 2; slot++)
        if (cf_e2e_wait_exit(&E, slot, 0) >= 0) {
            cf_e2e_worker(&E, slot, C4, NULL);
            (*restarts)++;
        }
    char buf[32];
    return strcmp(cf_e2e_state(&E, "crash-1", buf, sizeof buf), "stalled") == 0;
}

static void test_crash_loop_stalls_the_workflow_not_the_fleet(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, C4, NULL);
    cf_e2e_worker(&E, 1, C4, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "crash-1", "{\"steps\": 1, \"abort_step\": 1}");
    int restarts = 0;
    assert_true(cf_test_wait_for(supervise, &restarts, 90000));
    assert_true(restarts >= 3);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_error_logs e JOIN "
                                    "chrono_forge_workflows w ON w.id = e.workflow_id WHERE "
                                    "w.key = $1 AND e.error_class = 'Worker.CrashLoop'",
                                    "crash-1"),
                     1);
    for (int slot = 0; slot < 2; slot++)
        if (cf_e2e_wait_exit(&E, slot, 0) >= 0)
            cf_e2e_worker(&E, slot, C4, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "healthy-1", "{\"steps\": 1}");
    assert_true(cf_e2e_wait_state(&E, "healthy-1", "completed", DEADLINE_MS));
}

static void test_redis_then_postgres_down_for_20s_lose_nothing(void **state)
{
    (void)state;
    if (!cf_test_single_redis())
        return;
    char kw[200], key[32];
    cf_e2e_worker(&E, 0, C4, NULL);
    cf_e2e_worker(&E, 1, C4, NULL);
    int n = 20;
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "outage-%d", i);
        snprintf(kw, sizeof kw, "{\"steps\": 3, \"wait_ms\": %d, \"sleep_ms\": 50}", 300 + i * 100);
        cf_e2e_enqueue(&E, "Exerciser", key, kw);
    }
    /* Redis goes down cleanly with its data on disk (as a managed Redis restart would) */
    const char *aof_always[] = {"CONFIG", "SET", "appendfsync", "always", NULL};
    const char *aof_on[] = {"CONFIG", "SET", "appendonly", "yes", NULL};
    assert_true(cf_e2e_redis_int(aof_always) >= 0);
    assert_true(cf_e2e_redis_int(aof_on) >= 0);
    assert_true(cf_test_wait_for(aof_ready, NULL, 30000));
    services("stop-redis", NULL);
    hold(20000);
    setenv("CF_SERVICES_AOF", "yes", 1);
    services("start-redis", NULL);
    hold(2000);
    services("stop-pg", NULL);
    hold(20000);
    services("start-pg", NULL);
    assert_true(cf_e2e_wait_states(&E, "completed", n, 120000));
}

static void test_unknown_class_is_retried_then_dead_lettered(void **state)
{
    (void)state;
    const char *grace[] = {"CHRONOFORGE_UNKNOWN_CLASS_GRACE=1500ms", NULL};
    cf_e2e_worker(&E, 0, C4, grace);
    cf_e2e_enqueue(&E, "NotDeployedYet", "unknown-1", "{}");
    cf_e2e_enqueue(&E, "Exerciser", "known-1", "{\"steps\": 1}");
    assert_true(cf_e2e_wait_state(&E, "known-1", "completed", DEADLINE_MS));
    char dead[200];
    snprintf(dead, sizeof dead, "%s:{default}:dead", E.prefix);
    const char *llen[] = {"LLEN", dead, NULL};
    assert_true(cf_e2e_wait_redis_int(llen, 1, INT64_MAX, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_redis_int(llen), 1);
    char out[4096];
    const char *list[] = {getenv("CF_BIN"), "dead", "list", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, list), 0);
    assert_non_null(strstr(out, "unknown_class"));
    assert_non_null(strstr(out, "NotDeployedYet"));
    /* it was put back (not dead-lettered) on its first delivery */
    assert_true(cf_e2e_log_events(&E, 0, "unknown_class", "class=NotDeployedYet") >= 1);
    /* nothing of it ever reached Postgres */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE key = $1",
                                    "unknown-1"),
                     0);
}

static void test_live_worker_frees_what_redis_wrongly_says_it_holds(void **state)
{
    (void)state;
    const char *lease[] = {"CHRONOFORGE_LEASE=2s", NULL};
    cf_e2e_worker(&E, 0, C4, lease);
    char workers[200], wid[256];
    snprintf(workers, sizeof workers, "%s:workers", E.prefix);
    const char *zr[] = {"ZRANGE", workers, "0", "-1", NULL};
    const char *zcard[] = {"ZCARD", workers, NULL};
    assert_true(cf_e2e_wait_redis_int(zcard, 1, 1, DEADLINE_MS)); /* it registered */
    cf_e2e_redis_str(zr, wid, sizeof wid);
    assert_true(wid[0] != '\0');
    /* What a Redis restart from an older AOF leaves behind: an envelope the worker had acked,
     * back in its in-flight list, and a lock it had released, back in its held set. */
    cf_envelope env;
    assert_int_equal(cf_envelope_init_job(&env, "Exerciser", "ghost-1", "default", NULL), CF_OK);
    env.kwargs = json_pack("{si}", "steps", 1);
    cf_buf buf = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(&env, &buf), CF_OK);
    cf_envelope_deinit(&env);
    char inflight[400], lock[300], held[400], value[300];
    snprintf(inflight, sizeof inflight, "%s:{default}:inflight:%s", E.prefix, wid);
    snprintf(lock, sizeof lock, "%s:lock:Exerciser/ghost-2", E.prefix);
    snprintf(held, sizeof held, "%s:held:%s", E.prefix, wid);
    snprintf(value, sizeof value, "%s/0123456789ab", wid);
    cf_redis *r = cf_test_redis_open();
    const char *lp[] = {"LPUSH", inflight, buf.data};
    size_t lpl[] = {5, strlen(inflight), buf.len};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 3, lp, lpl, &rep), CF_OK);
    cf_reply_free(rep);
    cf_redis_free(r);
    cf_buf_deinit(&buf);
    const char *set[] = {"SET", lock, value, "PX", "600000", NULL};
    const char *sadd[] = {"SADD", held, lock, NULL};
    assert_true(cf_e2e_redis_int(set) >= 0);
    assert_true(cf_e2e_redis_int(sadd) >= 0);
    cf_e2e_enqueue(&E, "Exerciser", "ghost-2", "{\"steps\": 1}");
    /* without reconciliation: ghost-1 never runs, ghost-2 waits for its lock's 10 minutes */
    assert_true(cf_e2e_wait_state(&E, "ghost-1", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "ghost-2", "completed", DEADLINE_MS));
    assert_true(cf_e2e_log_events(&E, 0, "reconciled", NULL) >= 1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigterm_drains_and_strands_nothing, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_second_signal_exits_at_once, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_sigkill_mid_step_is_resumed_by_another_worker,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_sigkill_in_the_lazy_window_is_counted_and_resumed,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_sigstopped_run_past_max_duration_is_fenced_off,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_crash_loop_stalls_the_workflow_not_the_fleet,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_live_worker_frees_what_redis_wrongly_says_it_holds,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_unknown_class_is_retried_then_dead_lettered,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_redis_then_postgres_down_for_20s_lose_nothing,
                                        setup_each, teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_faults", tests, NULL, NULL);
}
