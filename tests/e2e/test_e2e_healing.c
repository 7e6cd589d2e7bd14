// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_healing.c: self-healing with real worker processes (docs/healing.md):
 * next_wake_at follows the run; Redis FLUSHALL and SIGKILL (AOF everysec) with 200 workflows
 * waiting or mid-run; a worker killed between lock release and continuation publish; a running
 * workflow with no lock reaped; a stale lock restored by a rollback removed; `heal --dry-run`
 * and `heal`; two sweepers publish each workflow once; a healthy run of 1,000 workflows
 * publishes nothing; the sweeper's queries use indexes over 1,000,000 rows. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "common/buf.h"
#include "common/clock.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "queue/sweep.h"
#include "store/sql.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

/* Settings the workers of these tests run with (e2e.c adds lease 3s, heartbeat 500ms). */
#define LEASE_MS          3000
#define SWEEP_GRACE_MS    1000
#define SWEEP_INTERVAL_MS 300
/* The longest healing can take by design: a stale lock or a lost running row needs the
 * confirmation window (2 x lease) plus a pass; waits allow that several times over. */
#define HEAL_BOUND_MS (2 * LEASE_MS + SWEEP_GRACE_MS + 2 * SWEEP_INTERVAL_MS)
#define DEADLINE_MS   (4 * HEAL_BOUND_MS + 60000)

static cf_e2e E;

static const char *const WORKER_ARGS[] = {"-c",    "4", "--sweep-grace", "1s", "--sweep-interval",
                                          "300ms", NULL};

static int64_t T0;
static int setup(void **state)
{
    (void)state;
    T0 = cf_clock_mono_ms();
    cf_e2e_setup(&E);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("CF_TEST_TIMING"))
        fprintf(stderr, "TIMING %lld ms\n", (long long)(cf_clock_mono_ms() - T0));
    cf_e2e_teardown(&E);
    return 0;
}

/* ---- helpers ---- */

static void enqueue_many(const char *key_prefix, int n, int wait_ms_base, const char *extra_kwargs)
{
    cf_queue *q = cf_test_queue_open(E.prefix, NULL);
    for (int start = 0; start < n; start += 100) {
        cf_buf bufs[100];
        cf_enqueue_item items[100];
        int m = n - start < 100 ? n - start : 100;
        for (int i = 0; i < m; i++) {
            char key[64], kw[256];
            snprintf(key, sizeof key, "%s-%d", key_prefix, start + i);
            snprintf(kw, sizeof kw, "{\"steps\": 2, \"wait_ms\": %d%s}",
                     wait_ms_base + (start + i) % 5 * 100, extra_kwargs);
            cf_envelope env;
            assert_int_equal(cf_envelope_init_job(&env, "Exerciser", key, "default", NULL), CF_OK);
            env.kwargs = json_loads(kw, 0, NULL);
            assert_non_null(env.kwargs);
            bufs[i] = (cf_buf)CF_BUF_INIT;
            assert_int_equal(cf_envelope_encode(&env, &bufs[i]), CF_OK);
            cf_envelope_deinit(&env);
            items[i] = (cf_enqueue_item){"default", bufs[i].data, bufs[i].len, 0};
        }
        assert_int_equal(cf_enqueue_batch(q, items, (size_t)m), CF_OK);
        for (int i = 0; i < m; i++)
            cf_buf_deinit(&bufs[i]);
    }
    cf_queue_free(q);
}

static int64_t rows_total(void)
{
    return cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_workflows", NULL);
}

static bool all_rows_known(void *arg)
{
    return rows_total() >= *(int *)arg;
}

/* services runs deploy/services.sh CMD on the test services (env_prefix: "" or "K=V "). */
static void services(const char *env_prefix, const char *cmd)
{
    char root[512] = ".";
    const char *bin = cf_test_env("CF_BIN");
    const char *b = strstr(bin, "/build/");
    if (access("deploy/services.sh", X_OK) != 0 && b)
        snprintf(root, sizeof root, "%.*s", (int)(b - bin), bin);
    char line[1400];
    snprintf(line, sizeof line, "%s'%s/deploy/services.sh' %s '%s' >/dev/null", env_prefix, root,
             cmd, cf_test_env("CF_SERVICES_DIR"));
    assert_int_equal(system(line), 0);
}

/* a gate workflow: continue_if "gate" halts with nothing scheduled until the file exists */
static void park_on_gate(const char *key, char *gate, size_t cap)
{
    char kw[700];
    snprintf(gate, cap, "%s/gate-%s", E.dir, key);
    snprintf(kw, sizeof kw, "{\"steps\": 1, \"gate_file\": \"%s\"}", gate);
    cf_e2e_enqueue(&E, "Exerciser", key, kw);
    assert_true(cf_e2e_wait_state(&E, key, "idle", DEADLINE_MS));
    FILE *f = fopen(gate, "w");
    assert_non_null(f);
    fclose(f);
}

/* ---- tests ---- */

static void test_next_wake_at_follows_the_run(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "wake-1", "{\"steps\": 2, \"wait_ms\": 1500}");
    cf_e2e_enqueue(&E, "Exerciser", "stall-1",
                   "{\"steps\": 1, \"fail_first\": 9, \"step_max_attempts\": 1}");
    assert_true(cf_e2e_wait_state(&E, "wake-1", "idle", DEADLINE_MS));
    /* halted by the wait: the wake time is in the row, committed with the halt */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE key = $1 "
                                    "AND next_wake_at > now() - interval '1 minute' AND "
                                    "locked_by IS NULL",
                                    "wake-1"),
                     1);
    assert_true(cf_e2e_wait_state(&E, "wake-1", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "stall-1", "stalled", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE "
                                    "next_wake_at IS NOT NULL OR locked_by IS NOT NULL",
                                    NULL),
                     0);
}

static void test_heal_cli_dry_run_then_heal(void **state)
{
    (void)state;
    /* no workers: a workflow the store says is running, with no lock and no run anywhere */
    char *id = cf_e2e_sql(&E,
                          "INSERT INTO chrono_forge_workflows (key, job_class, state, locked_by, "
                          "locked_at, fence) VALUES ($1, 'Exerciser', 'running', "
                          "'gone-host:1:abcdef/0123456789ab', now() - interval '1 hour', 1) "
                          "RETURNING id",
                          "ghost-1");
    free(id);
    char sched[200], out[4096];
    snprintf(sched, sizeof sched, "%s:{default}:scheduled", E.prefix);
    const char *zcard[] = {"ZCARD", sched, NULL};
    const char *dry[] = {getenv("CF_BIN"), "heal", "--dry-run", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, dry), 0);
    assert_non_null(strstr(out, "would republish"));
    assert_non_null(strstr(out, "Exerciser/ghost-1"));
    assert_non_null(strstr(out, "no lock"));
    assert_int_equal(cf_e2e_redis_int(zcard), 0);
    const char *heal[] = {getenv("CF_BIN"), "heal", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, heal), 0);
    assert_non_null(strstr(out, "republished"));
    assert_non_null(strstr(out, "healed: 1 republished"));
    assert_int_equal(cf_e2e_redis_int(zcard), 1);
    /* a worker now runs it: its begin counts the vanished run (crash_count) and it completes */
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    assert_true(cf_e2e_wait_state(&E, "ghost-1", "completed", DEADLINE_MS));
}

/* A crash tombstone (a dead worker's lock, freed by recovery) is not a stale lock to watch and
 * remove: the workflow is published, the tombstone stays for the next acquirer, which counts
 * the crash. */
static void test_crash_tombstone_is_left_for_the_next_run(void **state)
{
    (void)state;
    free(cf_e2e_sql(&E,
                    "INSERT INTO chrono_forge_workflows (key, job_class, state, locked_by, "
                    "locked_at, fence) VALUES ($1, 'Exerciser', 'running', "
                    "'gone-host:1:abcdef/0123456789ab', now() - interval '1 hour', 1) "
                    "RETURNING id",
                    "ghost-2"));
    char lock[200], suspects[200], out[4096];
    snprintf(lock, sizeof lock, "%s:lock:Exerciser/ghost-2", E.prefix);
    snprintf(suspects, sizeof suspects, "%s:sweeper:suspects", E.prefix);
    const char *set[] = {"SET", lock, "!crashed/gone-host:1:abcdef", "PX", "60000", NULL};
    cf_e2e_redis_int(set);
    const char *heal[] = {getenv("CF_BIN"), "heal", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, heal), 0);
    assert_non_null(strstr(out, "Exerciser/ghost-2"));
    assert_non_null(strstr(out, "healed: 1 republished"));
    const char *exists[] = {"EXISTS", lock, NULL};
    assert_int_equal(cf_e2e_redis_int(exists), 1);
    const char *watched[] = {"HEXISTS", suspects, "Exerciser/ghost-2", NULL};
    assert_int_equal(cf_e2e_redis_int(watched), 0);
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    assert_true(cf_e2e_wait_state(&E, "ghost-2", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_log_events(&E, 0, "crash_counted", "key=ghost-2", 1, DEADLINE_MS));
}

static void test_running_without_lock_is_reaped(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_worker(&E, 1, WORKER_ARGS, NULL);
    char gate[400];
    park_on_gate("reap-1", gate, sizeof gate);
    /* its run "died" just now: running in the store, no lock, nothing in Redis */
    free(cf_e2e_sql(&E,
                    "UPDATE chrono_forge_workflows SET state = 'running', locked_at = now(), "
                    "locked_by = 'gone-host:1:abcdef/0123456789ab' WHERE key = $1 RETURNING id",
                    "reap-1"));
    assert_true(cf_e2e_wait_state(&E, "reap-1", "completed", DEADLINE_MS));
    assert_true(cf_e2e_log_events(&E, -1, "sweep_republished", "reason=no_lock key=reap-1") >= 1);
}

static void test_stale_lock_from_a_rollback_is_removed(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_worker(&E, 1, WORKER_ARGS, NULL);
    char gate[400];
    park_on_gate("stale-1", gate, sizeof gate);
    /* a Redis rollback restored an old lock of a live worker's finished run, and lost the
     * continuation: the store says the workflow should have woken long ago */
    char workers[200], live[400], lock[300], value[500];
    snprintf(workers, sizeof workers, "%s:workers", E.prefix);
    const char *zrange[] = {"ZRANGE", workers, "0", "0", NULL};
    cf_e2e_redis_str(zrange, live, sizeof live);
    assert_true(live[0] != '\0');
    snprintf(lock, sizeof lock, "%s:lock:Exerciser/stale-1", E.prefix);
    snprintf(value, sizeof value, "%s/0123456789ab", live);
    const char *set[] = {"SET", lock, value, "PX", "600000", NULL};
    cf_e2e_redis_int(set);
    free(cf_e2e_sql(&E,
                    "UPDATE chrono_forge_workflows SET next_wake_at = now() - interval '1 minute' "
                    "WHERE key = $1 RETURNING id",
                    "stale-1"));
    assert_true(cf_e2e_wait_state(&E, "stale-1", "completed", DEADLINE_MS));
    /* Removed by the healing pass, or, when the worker named in the lock tried to take it
     * first (and so recorded it in its P:held set), by that worker's own reconciliation. */
    assert_true(cf_e2e_log_events(&E, -1, "sweep_republished", "reason=stale_lock key=stale-1") >=
                    1 ||
                cf_e2e_log_events(&E, -1, "reconciled", NULL) >= 1);
}

static void test_crash_between_release_and_publish(void **state)
{
    (void)state;
    /* a long lease: recovery of the crashed worker's in-flight envelope cannot be what saves
     * the workflow within the deadline; only the sweeper can */
    const char *args[] = {
        "-c", "2", "--lease", "120s", "--sweep-grace", "1s", "--sweep-interval", "300ms", NULL};
    const char *crash[] = {"CHRONOFORGE_TEST_CRASH_AFTER_RELEASE=1", NULL};
    /* The hook exists only in the test build of the binary (CF_BIN + "-test-hooks"). */
    char stock[1024], hooks[1100];
    snprintf(stock, sizeof stock, "%s", cf_test_env("CF_BIN"));
    snprintf(hooks, sizeof hooks, "%s-test-hooks", stock);
    if (access(hooks, X_OK) != 0)
        fail_msg("%s not found: build it with `make MODE=... tests`", hooks);
    assert_false(
        cf_e2e_file_contains(stock, "CHRONOFORGE_TEST_CRASH_AFTER_RELEASE")); /* not in prod */
    setenv("CF_BIN", hooks, 1);
    cf_e2e_worker(&E, 0, args, crash);
    setenv("CF_BIN", stock, 1);
    cf_e2e_enqueue(&E, "Exerciser", "crash-1", "{\"steps\": 2, \"wait_ms\": 200}");
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 128 + SIGABRT);
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "crash-1", st, sizeof st), "idle");
    cf_e2e_worker(&E, 1, args, NULL);
    assert_true(cf_e2e_wait_state(&E, "crash-1", "completed", 120000 - 10000));
    assert_true(cf_e2e_log_events(&E, 1, "sweep_republished", "reason=overdue key=crash-1") >= 1);
}

/* lose_redis_mid_flight: n workflows waiting (durable waits) or mid-step when lose() runs;
 * every one must complete. */
static void lose_redis_mid_flight(const char *tag, void (*lose)(void))
{
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_worker(&E, 1, WORKER_ARGS, NULL);
    int n = cf_test_scale(200);
    enqueue_many(tag, n, 1500, ", \"sleep_ms\": 30");
    /* every workflow is known to the store (an envelope no worker ever took is lost with
     * Redis, as in every Redis queue: docs/healing.md) */
    assert_true(cf_test_wait_for(all_rows_known, &n, DEADLINE_MS));
    int64_t done = cf_e2e_sql_int(
        &E, "SELECT count(*) FROM chrono_forge_workflows WHERE state = 'completed'", NULL);
    assert_true(done < n); /* it really happened mid-flight */
    lose();
    assert_true(cf_e2e_wait_states(&E, "completed", n, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(rows_total(), n);
}

static void flushall(void)
{
    const char *argv[] = {"FLUSHALL", NULL};
    cf_e2e_redis_int(argv);
}

static void test_flushall_with_200_waiting_or_running(void **state)
{
    (void)state;
    lose_redis_mid_flight("flush", flushall);
    assert_true(cf_e2e_log_events(&E, -1, "sweep_republished", NULL) >= 1);
}

static void kill_and_restart_redis(void)
{
    services("", "kill-redis");
    services("CF_SERVICES_AOF=yes ", "start-redis");
}

static void test_redis_sigkill_with_aof_with_200_in_flight(void **state)
{
    (void)state;
    if (!cf_test_single_redis())
        return;
    services("CF_SERVICES_AOF=yes ", "restart-redis"); /* now with AOF everysec */
    lose_redis_mid_flight("kill", kill_and_restart_redis);
}

static void test_two_sweepers_publish_each_workflow_once(void **state)
{
    (void)state;
    /* the fleet lease: while one holder has it, nobody else gets it */
    bool won = false;
    char other[120];
    snprintf(other, sizeof other, "%s:lease", E.prefix);
    cf_queue *qa = cf_test_queue_open(other, "a"), *qb = cf_test_queue_open(other, "b");
    assert_int_equal(cf_sweep_claim(qa, 60000, &won), CF_OK);
    assert_true(won);
    assert_int_equal(cf_sweep_claim(qb, 60000, &won), CF_OK);
    assert_false(won);
    cf_queue_free(qa);
    cf_queue_free(qb);
    /* 50 overdue workflows on a queue no worker serves: each pass sees all of them again */
    int n = cf_test_scale(50);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "parked-%d", i);
        free(cf_e2e_sql(&E,
                        "INSERT INTO chrono_forge_workflows (key, job_class, queue, next_wake_at)"
                        " VALUES ($1, 'Exerciser', 'parked', now() - interval '1 hour')"
                        " RETURNING id",
                        key));
    }
    const char *args[] = {"-c",    "2",           "--sweep-grace", "1s", "--sweep-interval",
                          "100ms", "--log-level", "debug",         NULL};
    cf_e2e_worker(&E, 0, args, NULL);
    cf_e2e_worker(&E, 1, args, NULL);
    char sched[200];
    snprintf(sched, sizeof sched, "%s:{parked}:scheduled", E.prefix);
    const char *zcard[] = {"ZCARD", sched, NULL};
    assert_true(cf_e2e_wait_redis_int(zcard, n, INT64_MAX, DEADLINE_MS));
    assert_int_equal(cf_e2e_redis_int(zcard), n);
    /* many more passes by both workers */
    assert_true(cf_e2e_wait_log_events(&E, -1, "sweep_pass", NULL, 20, DEADLINE_MS));
    assert_int_equal(cf_e2e_log_events(&E, -1, "sweep_republished", NULL), n);
}

static bool sweep_totals_logged(void *arg)
{
    (void)arg;
    return cf_e2e_log_events(&E, -1, "sweep_totals", NULL) >= E.nworkers;
}

static void test_healthy_run_of_1000_publishes_nothing(void **state)
{
    (void)state;
    const char *args[] = {"-c", "8", "--sweep-grace", "5s", "--sweep-interval", "100ms", NULL};
    cf_e2e_worker(&E, 0, args, NULL);
    cf_e2e_worker(&E, 1, args, NULL);
    int n = cf_test_scale(1000);
    enqueue_many("healthy", n, 0, "");
    assert_true(cf_e2e_wait_states(&E, "completed", n, DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGTERM);
    cf_e2e_signal(&E, 1, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 0);
    assert_int_equal(cf_e2e_wait_exit(&E, 1, DEADLINE_MS), 0);
    char why[1024];
    if (!cf_e2e_quiet(&E, why, sizeof why)) /* a drained fleet strands nothing */
        fail_msg("left after the drain: %s", why);
    assert_true(cf_test_wait_for(sweep_totals_logged, NULL, 1000));
    /* the fleet lease lets one pass run per interval: at least one worker made passes */
    assert_true(cf_e2e_log_events(&E, -1, "sweep_totals", "passes=0") < E.nworkers);
    assert_int_equal(cf_e2e_log_events(&E, -1, "sweep_totals", "republished=0 locks_removed=0"),
                     E.nworkers);
    assert_int_equal(cf_e2e_log_events(&E, -1, "sweep_republished", NULL), 0);
    assert_int_equal(cf_e2e_log_events(&E, -1, "sweep_watching", NULL), 0);
}

/* assert_indexed checks EXPLAIN (FORMAT JSON) of a prepared sweeper statement, with the
 * generic plan the store uses and with a custom plan: no Seq Scan, an index used. */
static void assert_indexed(PGconn *c, const char *name, const char *execute)
{
    const char *modes[] = {"SET plan_cache_mode = force_generic_plan",
                           "SET plan_cache_mode = force_custom_plan"};
    for (int m = 0; m < 2; m++) {
        PQclear(PQexec(c, modes[m]));
        char sql[200];
        snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON) EXECUTE %s", execute);
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        const char *plan = PQgetvalue(r, 0, 0);
        if (strstr(plan, "\"Seq Scan\""))
            fail_msg("%s (%s) scans the table:\n%s", name, modes[m], plan);
        assert_non_null(strstr(plan, "Index"));
        PQclear(r);
    }
}

static void test_sweeper_queries_use_indexes_over_a_million_rows(void **state)
{
    (void)state;
    PGconn *c = PQconnectdb(E.dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    /* 1% idle with a past wake, 1% running, 1% idle with nothing pending, the rest completed */
    PGresult *r = PQexec(
        c, "INSERT INTO chrono_forge_workflows (key, job_class, state, next_wake_at, locked_by,"
           " locked_at, completed_at)"
           " SELECT 'k' || i, 'Bulk', CASE i % 100 WHEN 0 THEN 'idle' WHEN 1 THEN 'running'"
           " WHEN 2 THEN 'idle' ELSE 'completed' END,"
           " CASE i % 100 WHEN 0 THEN now() - (i % 3600) * interval '1 second' END,"
           " CASE i % 100 WHEN 1 THEN 'w:1:abcdef/' || i END,"
           " CASE i % 100 WHEN 1 THEN now() END,"
           " CASE WHEN i % 100 > 2 THEN now() END"
           " FROM generate_series(1, 1000000) AS i");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQclear(PQexec(c, "ANALYZE chrono_forge_workflows"));
    r = PQprepare(c, "overdue", cf_sql_stmts[CF_SQL_SWEEP_OVERDUE].sql, 0, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQprepare(c, "running", cf_sql_stmts[CF_SQL_SWEEP_RUNNING].sql, 0, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_indexed(c, "cf_sweep_overdue", "overdue(30000, 500, '{}')");
    assert_indexed(c, "cf_sweep_overdue", "overdue(30000, 500, '{paused,other}')");
    assert_indexed(c, "cf_sweep_running", "running(0, 500, '{}')");
    assert_indexed(c, "cf_sweep_running", "running(990000, 500, '{paused}')");
    PQfinish(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_next_wake_at_follows_the_run),
        T(test_heal_cli_dry_run_then_heal),
        T(test_crash_tombstone_is_left_for_the_next_run),
        T(test_running_without_lock_is_reaped),
        T(test_stale_lock_from_a_rollback_is_removed),
        T(test_crash_between_release_and_publish),
        T(test_two_sweepers_publish_each_workflow_once),
        T(test_healthy_run_of_1000_publishes_nothing),
        T(test_sweeper_queries_use_indexes_over_a_million_rows),
        T(test_flushall_with_200_waiting_or_running),
        T(test_redis_sigkill_with_aof_with_200_in_flight),
    };
#undef T
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_healing", tests, NULL, NULL);
}
