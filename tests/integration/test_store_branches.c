// SPDX-License-Identifier: MIT
/* tests/integration/test_store_branches.c: the branch part of the write-set statement
 * (store/sql.c BRANCH_CTES) against Postgres: a dispatch inserts its children with their parent
 * link and counts them, a re-sent batch inserts and counts nothing, a stale write set inserts
 * no child; the last two children of a sealed branch committed at the same moment by two
 * stores (two writers, two transactions) wake the parent exactly once, and record the wake in
 * the parent's next_wake_at. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

static char dsn[512];
static cf_store *S1, *S2;
static PGconn *admin;

static int setup(void **state)
{
    (void)state;
    cf_store_config cfg = {.max_connections = 3};
    cf_test_store_setup(dsn, sizeof dsn, &cfg, &S1, &admin);
    cf_error err = {0};
    cf_store_config cfg2 = {.dsn = dsn, .max_connections = 3};
    if (cf_store_open(&cfg2, &S2, &err) != CF_OK)
        fail_msg("open: %s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_store_close(S2);
    cf_test_store_teardown(S1, admin);
    return 0;
}

static void begin(cf_store *s, const char *cls, const char *key, bool must_exist, cf_wf_row *out)
{
    cf_run_begin_args b = {
        .wf_class = cls, .key = key, .lock_value = "t/1", .must_exist = must_exist};
    assert_int_equal(cf_store_run_begin(s, &b, out), CF_OK);
}

/* dispatch commits, as the parent run r, branch "b" with children <key>$b$k_<i> for i in
 * [first, first+n), sealing it when seal; outcome as given. Returns the commit's status. */
static cf_status dispatch(cf_store *s, const cf_wf_row *r, int first, int n, bool seal,
                          cf_ws_outcome outcome)
{
    char keys[8][300];
    cf_ws_child kids[8];
    json_t *kw = json_object();
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%s$b$k_%d", r->key, first + i);
        kids[i] =
            (cf_ws_child){.wf_class = "Kid", .key = keys[i], .queue = "default", .kwargs = kw};
    }
    cf_ws_branch b = {.name = "b", .seal = seal, .children = kids, .nchildren = (size_t)n};
    cf_write_set ws = {.workflow_id = r->id,
                       .fence = r->fence,
                       .outcome = outcome,
                       .attempt = -1,
                       .branches = &b,
                       .nbranches = 1};
    cf_status st = cf_store_commit(s, &ws);
    json_decref(kw);
    return st;
}

static void test_dispatch_inserts_counts_and_never_twice(void **state)
{
    (void)state;
    cf_wf_row p;
    begin(S1, "Parent", "d1", false, &p);
    assert_int_equal(dispatch(S1, &p, 0, 3, false, CF_WS_CONTINUE), CF_OK);
    assert_int_equal(cf_test_sql_int(admin,
                                     "SELECT count(*) FROM chrono_forge_workflows c"
                                     " JOIN chrono_forge_workflows p ON p.id = c.parent_id"
                                     " WHERE p.key = 'd1' AND c.branch = 'b' AND c.state = 'idle'"
                                     "   AND c.next_wake_at IS NOT NULL AND c.fence = 0"),
                     3);
    /* the same batch again (a crash after its commit, before the cursor was seen): nothing */
    assert_int_equal(dispatch(S1, &p, 1, 3, true, CF_WS_CONTINUE), CF_OK);
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT count(*) FROM chrono_forge_workflows WHERE parent_id IS NOT NULL"),
        4);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT spawned FROM chrono_forge_branches WHERE name = 'b'"), 4);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT remaining FROM chrono_forge_branches WHERE name = 'b'"), 4);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_branches WHERE state = 'sealed'"),
        1);
    /* a stale run (another run took the workflow over: the fence moved) inserts no child */
    cf_wf_row taken;
    begin(S1, "Parent", "d1", true, &taken);
    assert_int_equal(dispatch(S1, &p, 10, 2, false, CF_WS_CONTINUE), CF_ERR_CONFLICT);
    cf_wf_row_deinit(&taken);
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT count(*) FROM chrono_forge_workflows WHERE parent_id IS NOT NULL"),
        4);
    cf_wf_row_deinit(&p);
}

typedef struct finisher {
    cf_store *s;
    cf_wf_row row;
    pthread_barrier_t *go;
    cf_ws_wake wake;
    cf_status st;
} finisher;

static void *finish_child(void *p)
{
    finisher *f = p;
    cf_write_set ws = {.workflow_id = f->row.id,
                       .fence = f->row.fence,
                       .outcome = CF_WS_COMPLETE,
                       .attempt = -1,
                       .wake_out = &f->wake,
                       .child = f->row.parent_id != 0};
    pthread_barrier_wait(f->go);
    f->st = cf_store_commit(f->s, &ws);
    return NULL;
}

static void test_the_last_two_children_at_once_wake_the_parent_once(void **state)
{
    (void)state;
    int rounds = cf_test_scale(20);
    for (int k = 0; k < rounds; k++) {
        char key[32], sql[300];
        snprintf(key, sizeof key, "w%d", k);
        cf_wf_row p;
        begin(S1, "Parent", key, false, &p);
        assert_int_equal(dispatch(S1, &p, 0, 2, true, CF_WS_HALT), CF_OK); /* idle, sealed */
        finisher f[2] = {{.s = S1}, {.s = S2}};
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            char ck[64];
            snprintf(ck, sizeof ck, "%s$b$k_%d", key, i);
            begin(f[i].s, "Kid", ck, true, &f[i].row);
            f[i].go = &go;
            assert_int_equal(pthread_create(&th[i], NULL, finish_child, &f[i]), 0);
        }
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&go);
        assert_int_equal(f[0].st, CF_OK);
        assert_int_equal(f[1].st, CF_OK);
        if (f[0].wake.set + f[1].wake.set != 1)
            fail_msg("round %d: %d wakes", k, f[0].wake.set + f[1].wake.set);
        const cf_ws_wake *w = f[0].wake.set ? &f[0].wake : &f[1].wake;
        assert_string_equal(w->wf_class, "Parent");
        assert_string_equal(w->key, key);
        assert_string_equal(w->queue, "default");
        snprintf(sql, sizeof sql,
                 "SELECT b.remaining FROM chrono_forge_branches b JOIN chrono_forge_workflows p"
                 " ON p.id = b.workflow_id WHERE p.key = '%s'",
                 key);
        assert_int_equal(cf_test_sql_int(admin, sql), 0);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM chrono_forge_workflows WHERE key = '%s'"
                 " AND state = 'idle' AND next_wake_at IS NOT NULL",
                 key);
        assert_int_equal(cf_test_sql_int(admin, sql),
                         1); /* durable: the sweeper heals a lost wake */
        for (int i = 0; i < 2; i++)
            cf_wf_row_deinit(&f[i].row);
        cf_wf_row_deinit(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_inserts_counts_and_never_twice),
        cmocka_unit_test(test_the_last_two_children_at_once_wake_the_parent_once),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, setup, teardown);
}
