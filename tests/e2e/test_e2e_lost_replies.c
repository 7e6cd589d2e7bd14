// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_lost_replies.c: a worker process whose Redis connection goes through
 * tests/support/faultproxy.py, which lets every few SETs (the lock acquisitions) run on the
 * server and then resets the connection before the reply arrives (docs/retries.md). Under load,
 * every workflow completes once with exactly the kwargs that were enqueued (a lost reply once
 * made the retry take the busy path, ack the only copy of the kwargs and let a kwargs-less
 * continuation create the workflow with {}), and the prefix ends quiescent. The same with the
 * worker's Postgres connections behind the proxy, losing the reply to every few Syncs (group
 * commits of run begins and write sets, resolved by reading back the batch's write token). And
 * with the reply to every few acks (the last command of a delivery's end) lost: the retries
 * say what happened (event=release_retried, ack_retried), never lock_lost or ack_missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/redis_conn.h"
#include "tests/support/e2e.h"
#include "tests/support/faultproxy.h"
#include "tests/support/test.h"

/* Lease 3s and the reconciler's two sightings are what free a lock orphaned by a lost reply
 * on the old code; the deadline allows many times that plus the work itself. */
#define DEADLINE_MS 120000

static cf_e2e E;
static cf_faultproxy P;

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    cf_faultproxy_stop(&P);
    return 0;
}

static void enqueue(cf_queue *q, const char *key, int n)
{
    cf_envelope env;
    assert_int_equal(cf_envelope_init_job(&env, "Exerciser", key, NULL, NULL), CF_OK);
    env.kwargs = json_pack("{sisisiss}", "steps", 2, "wait_ms", 20, "n", n, "who", key);
    assert_non_null(env.kwargs);
    cf_buf raw = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(&env, &raw), CF_OK);
    assert_int_equal(cf_enqueue(q, "default", raw.data, raw.len), CF_OK);
    cf_buf_deinit(&raw);
    cf_envelope_deinit(&env);
}

static void test_lost_set_replies_keep_every_kwargs(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    /* every 5th SET from the 2nd on: lock acquisitions (and the sweeper's pass lease) */
    const char *pargs[] = {"--match", "SET", "--after", "2", "--every", "5", NULL};
    cf_faultproxy_start(&P, "redis", pargs);
    char url[1024], env_url[1100];
    cf_faultproxy_redis_url(&P, url, sizeof url);
    snprintf(env_url, sizeof env_url, "CHRONOFORGE_REDIS_URL=%s", url);
    const char *extra_env[] = {env_url, NULL};
    const char *args[] = {"-c", "4", NULL};
    cf_e2e_worker(&E, 0, args, extra_env);

    int n = cf_test_scale(200);
    cf_queue *q = cf_test_queue_open(E.prefix, NULL);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "lost-%d", i);
        enqueue(q, key, i);
    }
    cf_queue_free(q);

    assert_true(cf_e2e_wait_keys_in_state(&E, "lost-%", "completed", n, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    int64_t faults = cf_faultproxy_stat(&P, "faults");
    assert_true(faults >= n / 10); /* the faults really happened, many times */
    /* every stored kwargs is exactly what was enqueued */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows"
                                    " WHERE key LIKE 'lost-%' AND kwargs = jsonb_build_object("
                                    "'steps', 2, 'wait_ms', 20, 'n', substr(key, 6)::int,"
                                    " 'who', key)",
                                    NULL),
                     n);
    assert_int_equal(cf_e2e_log_events(&E, 0, "orphan_continuation", NULL), 0);
    assert_int_equal(cf_e2e_log_events(&E, 0, "lock_lost", NULL), 0);
    fprintf(stderr, "lost SET replies: %lld faults over %d workflows\n", (long long)faults, n);
}

static void test_lost_commit_replies_keep_every_kwargs(void **state)
{
    (void)state;
    /* Armed once the worker is up (its store prepares a statement per Sync), then every 25th
     * Sync: the writer's group commits, its read-backs after an unknown outcome (a fault there
     * once answered an applied begin as failed, and three in a row stalled the workflow as a
     * crash loop) and the readers' queries. Far enough apart that the statements a reconnect
     * prepares again fit between two faults. */
    cf_faultproxy_start(&P, "postgres", NULL);
    char dsn[1024], env_dsn[1100];
    cf_faultproxy_pg_dsn(&P, E.dsn, dsn, sizeof dsn);
    snprintf(env_dsn, sizeof env_dsn, "CHRONOFORGE_DATABASE_URL=%s", dsn);
    const char *extra_env[] = {env_dsn, NULL};
    const char *args[] = {"-c", "4", NULL};
    cf_e2e_worker(&E, 0, args, extra_env);
    assert_true(cf_e2e_wait_log_events(&E, 0, "worker_ready", NULL, 1, DEADLINE_MS));
    char reply[64];
    cf_faultproxy_ctl(&P, "arm SYNC 5 reset 25", reply, sizeof reply);

    int n = cf_test_scale(100);
    cf_queue *q = cf_test_queue_open(E.prefix, NULL);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "lost-%d", i);
        enqueue(q, key, i);
    }
    cf_queue_free(q);

    assert_true(cf_e2e_wait_keys_in_state(&E, "lost-%", "completed", n, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    int64_t faults = cf_faultproxy_stat(&P, "faults");
    assert_true(faults >= n / 10);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows"
                                    " WHERE key LIKE 'lost-%' AND kwargs = jsonb_build_object("
                                    "'steps', 2, 'wait_ms', 20, 'n', substr(key, 6)::int,"
                                    " 'who', key)",
                                    NULL),
                     n);
    fprintf(stderr, "lost Sync replies: %lld faults over %d workflows\n", (long long)faults, n);
}

static void test_lost_ack_replies_logged_as_retries(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    const char *pargs[] = {"--match", "LREM", "--after", "2", "--every", "5", NULL};
    cf_faultproxy_start(&P, "redis", pargs);
    char url[1024], env_url[1100];
    cf_faultproxy_redis_url(&P, url, sizeof url);
    snprintf(env_url, sizeof env_url, "CHRONOFORGE_REDIS_URL=%s", url);
    const char *extra_env[] = {env_url, NULL};
    const char *args[] = {"-c", "4", NULL};
    cf_e2e_worker(&E, 0, args, extra_env);

    int n = cf_test_scale(100);
    cf_queue *q = cf_test_queue_open(E.prefix, NULL);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "lost-%d", i);
        enqueue(q, key, i);
    }
    cf_queue_free(q);

    assert_true(cf_e2e_wait_keys_in_state(&E, "lost-%", "completed", n, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    int64_t faults = cf_faultproxy_stat(&P, "faults");
    assert_true(faults >= n / 10);
    assert_true(cf_e2e_log_events(&E, 0, "release_retried", NULL) > 0);
    assert_true(cf_e2e_log_events(&E, 0, "ack_retried", NULL) > 0);
    assert_int_equal(cf_e2e_log_events(&E, 0, "lock_lost", NULL), 0);
    assert_int_equal(cf_e2e_log_events(&E, 0, "ack_missing", NULL), 0);
    fprintf(stderr, "lost ack replies: %lld faults over %d workflows\n", (long long)faults, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lost_set_replies_keep_every_kwargs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_commit_replies_keep_every_kwargs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lost_ack_replies_logged_as_retries, setup, teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
