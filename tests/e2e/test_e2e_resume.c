// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_resume.c: what a workflow keeps from one run to the next: its stored
 * options (every run's lock lives the workflow's max_duration, continuations included), and
 * requeues, which are durable intents in Postgres and so are not lost when their delivery meets
 * a busy lock, whether they come from `chronoforge requeue` or a client's retry_later envelope;
 * `status` shows the `$workflow_retry$` row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/redis_conn.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000

static cf_e2e E;
static const char *const C2[] = {"-c", "2", NULL};

CF_E2E_EACH(E)

typedef struct ledger_wait {
    const char *path, *prefix;
} ledger_wait;

static bool ledger_has(void *arg)
{
    ledger_wait *l = arg;
    return cf_e2e_ledger_count(l->path, l->prefix) > 0;
}

static void lock_key(char *buf, size_t cap, const char *wf_class, const char *key)
{
    snprintf(buf, cap, "%s:lock:%s/%s", E.prefix, wf_class, key);
}

/* Enqueued with options.max_duration 2h on a worker whose setting is 10 min: the first run's
 * lock lives 2 h (the envelope's options), and so does the run after the durable wait, whose
 * delivery is a continuation without options. Before, that run's lock got the 10 min default. */
static void test_max_duration_option_applies_to_continuation_runs(void **state)
{
    (void)state;
    char ledger[400], kw[600];
    snprintf(ledger, sizeof ledger, "%s/ledger-ttl", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 2, \"wait_ms\": 300, \"sleep_ms\": 3000, \"ledger\": \"%s\"}", ledger);
    const char *args[] = {getenv("CF_BIN"),
                          "enqueue",
                          "Exerciser",
                          "ttl-1",
                          "--kwargs",
                          kw,
                          "--options",
                          "{\"max_duration\": \"2h\"}",
                          NULL};
    assert_int_equal(cf_e2e_cli(&E, NULL, 0, args), 0);
    const char *const w[] = {"-c", "2", "--max-duration", "10m", NULL};
    cf_e2e_worker(&E, 0, w, NULL);
    /* step_2 runs in the second run (after the wait), delivered by the continuation */
    ledger_wait lw = {ledger, "ttl-1 step_2 "};
    assert_true(cf_test_wait_for(ledger_has, &lw, DEADLINE_MS));
    char key[300];
    lock_key(key, sizeof key, "Exerciser", "ttl-1");
    const char *pttl[] = {"PTTL", key, NULL};
    int64_t ms = cf_e2e_redis_int(pttl);
    assert_true(ms > 3600000);  /* more than an hour left: not the 10 min setting */
    assert_true(ms <= 7200000); /* bound by the option */
    assert_int_equal(cf_e2e_ledger_count(ledger, "ttl-1 step_1 "), 1);
    assert_true(cf_e2e_wait_state(&E, "ttl-1", "completed", DEADLINE_MS));
}

/* stall creates workflow key, which stalls on its first run (its only step fails once with a
 * budget of one attempt), then holds its lock under a foreign live-looking token for 3 s, so
 * that the next delivery of key finds the lock busy. */
static void stall_then_hold_lock(const char *key)
{
    cf_e2e_enqueue(&E, "Exerciser", key,
                   "{\"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 1}");
    assert_true(cf_e2e_wait_state(&E, key, "stalled", DEADLINE_MS));
    char lk[300];
    lock_key(lk, sizeof lk, "Exerciser", key);
    const char *set[] = {"SET", lk, "ghost-host:1:abcdef/r1", "PX", "3000", NULL};
    char ok[16];
    cf_e2e_redis_str(set, ok, sizeof ok);
    assert_string_equal(ok, "OK");
}

static bool logged(void *needle)
{
    return cf_e2e_log_contains(&E, 0, needle);
}

/* retry_meta returns field of the metadata of key's only $workflow_retry$ row (owned). */
static char *retry_meta(const char *key, const char *field)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT l.metadata->>'%s' FROM chrono_forge_execution_logs l JOIN "
             "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 AND "
             "l.step_name LIKE '$workflow\\_retry$%%'",
             field);
    return cf_e2e_sql(&E, sql, key);
}

/* `chronoforge requeue` while the lock is busy: the requeue is in Postgres before any
 * delivery, so the busy path (which turns the wake into a plain continuation) cannot lose it.
 * Before, the CLI pushed a retry_workflow envelope whose flag the busy path dropped: the
 * workflow stayed stalled after `requeue` printed success. */
static void test_cli_requeue_while_lock_busy_is_not_lost(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, C2, NULL);
    stall_then_hold_lock("rq-busy");
    char out[512];
    const char *req[] = {getenv("CF_BIN"), "requeue",        "rq-busy",
                         "--reason",       "provider fixed", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, req), 0);
    assert_non_null(strstr(out, "requeued Exerciser/rq-busy (was stalled)"));
    assert_true(cf_e2e_wait_state(&E, "rq-busy", "completed", DEADLINE_MS));
    char *v = retry_meta("rq-busy", "previous_state");
    assert_string_equal(v, "stalled");
    free(v);
    v = retry_meta("rq-busy", "reason");
    assert_string_equal(v, "provider fixed");
    free(v);
    v = retry_meta("rq-busy", "requested_by");
    assert_non_null(strchr(v, '@')); /* user@host */
    free(v);
    /* `status` shows the retry row in the timeline */
    char status[8192];
    const char *st[] = {getenv("CF_BIN"), "status", "rq-busy", NULL};
    assert_int_equal(cf_e2e_cli(&E, status, sizeof status, st), 0);
    assert_non_null(strstr(status, "$workflow_retry$"));
    /* refused once it is completed: nothing changes */
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, req), 1);
}

/* A client's retry_later (a retry_workflow envelope, naming who asks and why) while the lock is
 * busy: the worker applies the requeue before trying the lock, then the delivery is a plain
 * wake. Before, the busy path dropped the flag and the requeue was lost. */
static void test_retry_workflow_envelope_while_lock_busy_is_not_lost(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, C2, NULL);
    stall_then_hold_lock("rl-busy");
    cf_envelope env;
    cf_error err;
    assert_int_equal(cf_envelope_init_job(&env, "Exerciser", "rl-busy", "default", &err), CF_OK);
    env.retry_workflow = true;
    snprintf(env.requested_by, sizeof env.requested_by, "%s", "ops-dashboard");
    snprintf(env.reason, sizeof env.reason, "%s", "upstream back");
    cf_buf buf = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(&env, &buf), CF_OK);
    cf_queue *q = cf_test_queue_open(E.prefix, NULL);
    assert_int_equal(cf_enqueue(q, "default", buf.data, buf.len), CF_OK);
    cf_queue_free(q);
    cf_buf_deinit(&buf);
    assert_true(cf_e2e_wait_state(&E, "rl-busy", "completed", DEADLINE_MS));
    char *v = retry_meta("rl-busy", "requested_by");
    assert_string_equal(v, "ops-dashboard");
    free(v);
    v = retry_meta("rl-busy", "reason");
    assert_string_equal(v, "upstream back");
    free(v);
    v = retry_meta("rl-busy", "job_id");
    assert_string_equal(v, env.jid);
    free(v);
    cf_envelope_deinit(&env);
    /* retry_workflow for a workflow that does not exist creates nothing */
    assert_int_equal(cf_envelope_init_job(&env, "Exerciser", "rl-none", "default", &err), CF_OK);
    env.retry_workflow = true;
    assert_int_equal(cf_envelope_encode(&env, &buf), CF_OK);
    q = cf_test_queue_open(E.prefix, NULL);
    assert_int_equal(cf_enqueue(q, "default", buf.data, buf.len), CF_OK);
    cf_queue_free(q);
    cf_buf_deinit(&buf);
    char needle[120];
    snprintf(needle, sizeof needle, "jid=%s event=not_executable", env.jid);
    cf_envelope_deinit(&env);
    assert_true(cf_test_wait_for(logged, needle, DEADLINE_MS));
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "rl-none", st, sizeof st), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_max_duration_option_applies_to_continuation_runs,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_cli_requeue_while_lock_busy_is_not_lost, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_retry_workflow_envelope_while_lock_busy_is_not_lost,
                                        setup_each, teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_resume", tests, NULL, NULL);
}
