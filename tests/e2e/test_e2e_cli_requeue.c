// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_cli_requeue.c: `chronoforge requeue` through the real binary: one
 * workflow by KEY (recorded with who and why, then resumed by a worker), --now (run in the CLI
 * process: completed or halted exits 0 with the timeline, stalled again exits 1, lock and
 * registration left clean), and bulk --state with --class, --error-class, --older-than and
 * --dry-run over more than one batch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000

static cf_e2e E;

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
    return 0;
}

#define cli(out, ...)                                                                              \
    cf_e2e_cli(&E, out, sizeof out, (const char *const[]){cf_test_env("CF_BIN"), __VA_ARGS__, NULL})

/* stall_with makes workflow key stall (its step fails once and may not retry), with extra
 * kwargs (a JSON fragment starting with ", " or ""), using worker slot 0, which it stops. */
static void make_stalled(const char *const *keys, const char *extra)
{
    char ledger[400], kwargs[800];
    snprintf(ledger, sizeof ledger, "%s/ledger", E.dir);
    cf_e2e_worker(&E, 0, (const char *const[]){"-c", "2", NULL}, NULL);
    for (const char *const *k = keys; *k; k++) {
        snprintf(kwargs, sizeof kwargs,
                 "{\"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 1, \"ledger\": "
                 "\"%s\"%s}",
                 ledger, extra);
        cf_e2e_enqueue(&E, "Exerciser", *k, kwargs);
    }
    for (const char *const *k = keys; *k; k++)
        assert_true(cf_e2e_wait_state(&E, *k, "stalled", DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 0);
}

static int64_t retry_rows(const char *key)
{
    return cf_e2e_sql_int(&E,
                          "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                          "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 AND "
                          "l.step_name LIKE '$workflow_retry$%'",
                          key);
}

static int64_t redis_count(const char *cmd, const char *suffix)
{
    char key[200];
    snprintf(key, sizeof key, "%s%s", E.prefix, suffix);
    return cf_e2e_redis_int((const char *const[]){cmd, key, NULL});
}

static void test_requeue_key_records_who_and_why_then_a_worker_resumes_it(void **state)
{
    (void)state;
    char out[4096];
    make_stalled((const char *const[]){"rq-1", NULL}, "");
    assert_int_equal(cli(out, "requeue", "rq-1", "--reason", "partner API fixed"), 0);
    assert_string_equal(out, "requeued Exerciser/rq-1 (was stalled)\n");
    char *meta = cf_e2e_sql(&E,
                            "SELECT l.metadata::text FROM chrono_forge_execution_logs l JOIN "
                            "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 "
                            "AND l.step_name LIKE '$workflow_retry$%'",
                            "rq-1");
    assert_non_null(strstr(meta, "\"reason\": \"partner API fixed\""));
    assert_non_null(strstr(meta, "\"previous_state\": \"stalled\""));
    assert_non_null(strstr(meta, "\"requested_by\": \""));
    assert_non_null(strchr(strstr(meta, "\"requested_by\": \""), '@'));
    free(meta);
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "rq-1", st, sizeof st), "idle");
    assert_int_equal(redis_count("ZCARD", ":{default}:scheduled"), 1); /* its wake */
    cf_e2e_worker(&E, 1, (const char *const[]){"-c", "1", NULL}, NULL);
    assert_true(cf_e2e_wait_state(&E, "rq-1", "completed", DEADLINE_MS));
    /* Not resumable: refused, nothing written. */
    assert_int_equal(cli(out, "requeue", "rq-1"), 1);
    assert_int_equal(retry_rows("rq-1"), 1);
    assert_int_equal(cli(out, "requeue", "no-such-key"), 1);
}

static void test_requeue_now_runs_it_here(void **state)
{
    (void)state;
    char out[16384], st[32];
    make_stalled((const char *const[]){"now-ok", NULL}, "");
    make_stalled((const char *const[]){"now-again", NULL}, "");
    make_stalled((const char *const[]){"now-wait", NULL}, ", \"wait_ms\": 3600000");
    char ledger[400];
    snprintf(ledger, sizeof ledger, "%s/ledger", E.dir);

    /* No worker runs: completing proves the CLI process ran the pass. */
    assert_int_equal(cli(out, "requeue", "now-ok", "--now"), 0);
    assert_non_null(strstr(out, "Exerciser/now-ok  state=completed"));
    assert_non_null(strstr(out, "step_1"));
    assert_int_equal(cf_e2e_ledger_count(ledger, "now-ok step_1 2"), 1);
    assert_string_equal(cf_e2e_state(&E, "now-ok", st, sizeof st), "completed");
    assert_int_equal(retry_rows("now-ok"), 1);

    /* Halts healthily: exit 0, its next wake printed and published. */
    assert_int_equal(cli(out, "requeue", "now-wait", "--now"), 0);
    assert_non_null(strstr(out, "state=idle"));
    assert_non_null(strstr(out, "next wake "));
    assert_int_equal(redis_count("ZCARD", ":{default}:scheduled"), 1);

    /* Stalls again (fails until attempt 5 and may not retry): exit 1 with its timeline. */
    char kw[400];
    snprintf(kw, sizeof kw,
             "UPDATE chrono_forge_workflows SET kwargs = kwargs || "
             "'{\"fail_first\": 5}' WHERE key = $1 RETURNING 1");
    free(cf_e2e_sql(&E, kw, "now-again"));
    assert_int_equal(cli(out, "requeue", "now-again", "--now"), 1);
    assert_non_null(strstr(out, "state=stalled"));
    assert_string_equal(cf_e2e_state(&E, "now-again", st, sizeof st), "stalled");

    /* Held by another run: refused before anything changes. */
    char lock[300];
    snprintf(lock, sizeof lock, "%s:lock:Exerciser/now-again", E.prefix);
    cf_e2e_redis_str((const char *const[]){"SET", lock, "other:1:abcdef/run", "PX", "60000", NULL},
                     st, sizeof st);
    assert_int_equal(cli(out, "requeue", "now-again", "--now"), 1);
    assert_int_equal(retry_rows("now-again"), 1);
    assert_string_equal(cf_e2e_state(&E, "now-again", st, sizeof st), "stalled");
    cf_e2e_redis_str((const char *const[]){"DEL", lock, NULL}, st, sizeof st);

    /* Not resumable: refused, nothing run. */
    assert_int_equal(cli(out, "requeue", "now-ok", "--now"), 1);
    assert_int_equal(cf_e2e_ledger_count(ledger, "now-ok step_1 3"), 0);

    /* It left no lock and no registration behind. */
    char pattern[200];
    snprintf(pattern, sizeof pattern, "%s:lock:*", E.prefix);
    assert_int_equal(cf_e2e_redis_int((const char *const[]){"KEYS", pattern, NULL}), 0);
    assert_int_equal(redis_count("ZCARD", ":workers"), 0);
}

static void test_bulk_requeue_by_state_and_filters(void **state)
{
    (void)state;
    char out[65536];
    make_stalled((const char *const[]){"b-1", "b-2", "b-3", NULL}, "");
    /* 250 more stalled workflows of another class, written directly: three batches. */
    free(cf_e2e_sql(&E,
                    "WITH i AS (INSERT INTO chrono_forge_workflows (key, job_class, state) "
                    "SELECT 'bulk-' || g, 'Bulk', 'stalled' FROM generate_series(1, 250) g "
                    "RETURNING 1) SELECT count(*) FROM i",
                    NULL));

    /* --now needs the class in this binary: refused, nothing changed. */
    assert_int_equal(cli(out, "requeue", "bulk-1", "--now"), 1);
    assert_int_equal(retry_rows("bulk-1"), 0);

    assert_int_equal(cli(out, "requeue", "--state", "stalled", "--error-class", "Other"), 0);
    assert_non_null(strstr(out, "requeued 0 stalled workflows\n"));
    assert_int_equal(cli(out, "requeue", "--state", "stalled", "--older-than", "1h"), 0);
    assert_non_null(strstr(out, "requeued 0 stalled workflows\n"));
    assert_int_equal(cli(out, "requeue", "--state", "stalled", "--class", "Exerciser", "--dry-run"),
                     0);
    assert_non_null(strstr(out, "would requeue Exerciser/b-2 (id "));
    assert_non_null(strstr(out, "would requeue 3 stalled workflows\n"));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE state = "
                                    "'stalled'",
                                    NULL),
                     253);

    /* "Exerciser" takes its last error Exerciser.Flaky; the Bulk rows have no error. */
    assert_int_equal(cli(out, "requeue", "--state", "stalled", "--error-class", "Exerciser",
                         "--reason", "flaky"),
                     0);
    assert_non_null(strstr(out, "requeued 3 stalled workflows\n"));
    assert_int_equal(retry_rows("b-1") + retry_rows("b-2") + retry_rows("b-3"), 3);
    assert_int_equal(redis_count("ZCARD", ":{default}:scheduled"), 3);

    assert_int_equal(cli(out, "requeue", "--state", "stalled", "--class", "Bulk"), 0);
    assert_non_null(strstr(out, "requeued 100 so far\nrequeued 200 so far\n"));
    assert_non_null(strstr(out, "requeued 250 stalled workflows\n"));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE state = "
                                    "'idle' AND job_class = 'Bulk'",
                                    NULL),
                     250);

    assert_int_equal(cli(out, "requeue", "--state", "idle"), 1);
    assert_int_equal(cli(out, "requeue", "--state", "failed", "b-1"), 2);
    assert_int_equal(cli(out, "requeue", "b-1", "--dry-run"), 2);
    assert_int_equal(cli(out, "requeue"), 2);

    /* A worker resumes the three Exerciser workflows (their step succeeds on attempt 2). */
    cf_e2e_worker(&E, 1, (const char *const[]){"-c", "2", "-q", "default", NULL}, NULL);
    for (const char *const *k = (const char *const[]){"b-1", "b-2", "b-3", NULL}; *k; k++)
        assert_true(cf_e2e_wait_state(&E, *k, "completed", DEADLINE_MS));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_requeue_key_records_who_and_why_then_a_worker_resumes_it),
        T(test_requeue_now_runs_it_here),
        T(test_bulk_requeue_by_state_and_filters),
    };
#undef T
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_cli_requeue", tests, NULL, NULL);
}
