// SPDX-License-Identifier: MIT
/* tests/integration/test_store_retention.c: store/retention.h against Postgres: a batch deletes
 * only workflows of the asked finished states that finished before the cutoff, with their
 * execution and error logs; unfinished workflows are never deleted, however old; batches are
 * bounded; a dry run counts and deletes nothing; a row another transaction holds is skipped,
 * not waited for; bad requests are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/retention.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

typedef struct fx {
    char dsn[512];
    cf_store_config cfg;
    cf_store *store;
    PGconn *admin;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    cf_test_store_setup(f->dsn, sizeof f->dsn, &f->cfg, &f->store, &f->admin);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cf_test_store_teardown(f->store, f->admin);
    free(f);
    return 0;
}

/* n workflows named <prefix>-<i> in state, created and finished days_ago days ago, each with
 * two execution-log rows and one error row. */
static void make_rows(PGconn *c, const char *prefix, const char *state, int n, int days_ago)
{
    char q[1024];
    snprintf(q, sizeof q,
             "WITH w AS (INSERT INTO chrono_forge_workflows (key, job_class, state, created_at,"
             " updated_at, completed_at)"
             " SELECT '%s-' || i, 'Retained', '%s', now() - interval '%d days',"
             " now() - interval '%d days',"
             " CASE WHEN '%s' = 'completed' THEN now() - interval '%d days' END"
             " FROM generate_series(1, %d) i RETURNING id),"
             " l AS (INSERT INTO chrono_forge_execution_logs (workflow_id, step_name, state)"
             " SELECT id, s, 'completed' FROM w, unnest(ARRAY['durably_execute$a',"
             " 'durably_execute$b']) s)"
             " INSERT INTO chrono_forge_error_logs (workflow_id, attempt, error_class,"
             " error_message) SELECT id, 1, 'E', 'm' FROM w",
             prefix, state, days_ago, days_ago, state, days_ago, n);
    cf_test_sql_exec(c, q);
}

static int64_t count_of(PGconn *c, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE '%s-%%'",
             prefix);
    return cf_test_sql_int(c, q);
}

static const cf_wf_state completed_only[] = {CF_WF_COMPLETED};

static cf_retention_req older_than_days(int days, const cf_wf_state *states, size_t n, int batch)
{
    return (cf_retention_req){.finished_before_ms = cf_clock_unix_ms() - days * 86400000LL,
                              .states = states,
                              .nstates = n,
                              .batch = batch};
}

static void test_cleanup_deletes_old_finished_workflows_with_their_logs(void **state)
{
    fx *f = *state;
    make_rows(f->admin, "old", "completed", 25, 40);
    make_rows(f->admin, "new", "completed", 5, 1);
    make_rows(f->admin, "oldfail", "failed", 4, 40);
    make_rows(f->admin, "oldstall", "stalled", 3, 40);
    make_rows(f->admin, "oldidle", "idle", 3, 40);
    make_rows(f->admin, "oldrun", "running", 3, 40);
    cf_retention_req req = older_than_days(30, completed_only, 1, 10);
    int64_t n = -1;
    req.dry_run = true;
    assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_OK);
    assert_int_equal(n, 25);
    assert_int_equal(count_of(f->admin, "old"), 25);
    req.dry_run = false;
    int64_t seen[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(cf_store_cleanup_batch(f->store, &req, &seen[i]), CF_OK);
    assert_int_equal(seen[0], 10); /* batches are bounded */
    assert_int_equal(seen[1], 10);
    assert_int_equal(seen[2], 5);
    assert_int_equal(seen[3], 0);
    assert_int_equal(count_of(f->admin, "old"), 0);
    assert_int_equal(count_of(f->admin, "new"), 5);
    assert_int_equal(count_of(f->admin, "oldfail"), 4); /* failed only when asked */
    /* the logs went with their workflows and only with them */
    assert_int_equal(cf_test_sql_int(f->admin,
                                     "SELECT count(*) FROM chrono_forge_execution_logs l WHERE"
                                     " NOT EXISTS (SELECT 1 FROM chrono_forge_workflows w"
                                     " WHERE w.id = l.workflow_id)"),
                     0);
    assert_int_equal(cf_test_sql_int(f->admin, "SELECT count(*) FROM chrono_forge_error_logs"),
                     5 + 4 + 9);
    const cf_wf_state with_failed[] = {CF_WF_COMPLETED, CF_WF_FAILED};
    req = older_than_days(30, with_failed, 2, 1000);
    assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_OK);
    assert_int_equal(n, 4);
    /* stalled, idle and running workflows stay, however old */
    assert_int_equal(count_of(f->admin, "oldstall") + count_of(f->admin, "oldidle") +
                         count_of(f->admin, "oldrun"),
                     9);
}

/* Branches: a child whose parent exists is never deleted alone; deleting a parent deletes its
 * finished subtree with it (an unfinished child stays, and goes later once finished). */
static void test_cleanup_deletes_subtrees_never_a_child_alone(void **state)
{
    fx *f = *state;
    make_rows(f->admin, "tree", "completed", 1, 40); /* tree-1: an old finished parent */
    make_rows(f->admin, "live", "idle", 1, 40);      /* live-1: a parent still waiting */
    make_rows(f->admin, "kid", "completed", 4, 40);  /* kid-1..2 of tree-1, kid-3..4 of live-1 */
    make_rows(f->admin, "gkid", "completed", 2, 40); /* grandchildren of kid-1 */
    make_rows(f->admin, "skid", "stalled", 1, 40);   /* an unfinished child of tree-1 */
    cf_test_sql_exec(f->admin,
                     "UPDATE chrono_forge_workflows c SET parent_id = p.id FROM"
                     " chrono_forge_workflows p WHERE (c.key IN ('kid-1', 'kid-2', 'skid-1')"
                     " AND p.key = 'tree-1') OR (c.key IN ('kid-3', 'kid-4') AND p.key ="
                     " 'live-1') OR (c.key LIKE 'gkid-%' AND p.key = 'kid-1')");
    const cf_wf_state fin[] = {CF_WF_COMPLETED, CF_WF_CANCELLED};
    cf_retention_req req = older_than_days(30, fin, 2, 1000);
    int64_t n = -1;
    assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_OK);
    assert_int_equal(n, 5); /* tree-1, kid-1, kid-2, gkid-1, gkid-2 */
    assert_int_equal(count_of(f->admin, "tree"), 0);
    assert_int_equal(count_of(f->admin, "gkid"), 0);
    assert_int_equal(cf_test_sql_int(f->admin,
                                     "SELECT count(*) FROM chrono_forge_workflows WHERE key IN"
                                     " ('kid-3', 'kid-4', 'skid-1', 'live-1')"),
                     4);
    assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_OK);
    assert_int_equal(n, 0); /* kid-3 and kid-4's parent exists */
    /* once the stalled orphan finishes, it goes on its own: its parent is gone */
    cf_test_sql_exec(f->admin,
                     "UPDATE chrono_forge_workflows SET state = 'cancelled' WHERE key = 'skid-1'");
    assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(count_of(f->admin, "skid"), 0);
}

static void test_cleanup_skips_rows_in_use(void **state)
{
    fx *f = *state;
    make_rows(f->admin, "held", "completed", 3, 40);
    PGconn *other = PQconnectdb(f->dsn);
    cf_test_sql_exec(other, "BEGIN");
    cf_test_sql_exec(other,
                     "SELECT id FROM chrono_forge_workflows WHERE key = 'held-2' FOR UPDATE");
    cf_retention_req req = older_than_days(30, completed_only, 1, 1000);
    int64_t n = -1;
    assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_OK); /* no wait */
    assert_int_equal(n, 2);
    cf_test_sql_exec(other, "COMMIT");
    PQfinish(other);
    assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_OK);
    assert_int_equal(n, 1);
}

static void test_cleanup_refuses_unfinished_states_and_bad_batches(void **state)
{
    fx *f = *state;
    int64_t n = 0;
    const cf_wf_state bad_states[][1] = {
        {CF_WF_IDLE}, {CF_WF_RUNNING}, {CF_WF_STALLED}, {CF_WF_CANCELLING}, {CF_WF_UNKNOWN}};
    for (size_t i = 0; i < sizeof bad_states / sizeof bad_states[0]; i++) {
        cf_retention_req req = older_than_days(1, bad_states[i], 1, 10);
        assert_int_equal(cf_store_cleanup_batch(f->store, &req, &n), CF_ERR_INVALID);
    }
    cf_retention_req none = older_than_days(1, completed_only, 0, 10);
    assert_int_equal(cf_store_cleanup_batch(f->store, &none, &n), CF_ERR_INVALID);
    cf_retention_req huge = older_than_days(1, completed_only, 1, CF_RETENTION_BATCH_MAX + 1);
    assert_int_equal(cf_store_cleanup_batch(f->store, &huge, &n), CF_ERR_INVALID);
    assert_non_null(strstr(cf_store_errstr(f->store), "finished"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cleanup_deletes_old_finished_workflows_with_their_logs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_deletes_subtrees_never_a_child_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_skips_rows_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_refuses_unfinished_states_and_bad_batches,
                                        setup, teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_retention", tests, NULL, NULL);
}
