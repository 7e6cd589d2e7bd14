// SPDX-License-Identifier: MIT
/* tests/integration/test_store_repeat.c: a durably_repeat's rows in Postgres: a write set's
 * repeat prune (CF_SQL_WRITE_SETS's rp) deletes exactly the named repeat's tick rows older than
 * its bound, of its own workflow, at most CF_WS_PRUNE_MAX per write set, oldest first, and
 * nothing when the write set is refused; a malformed prune is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

#define TICK0 1700000000000LL

static char dsn[512];
static cf_store *st_;
static PGconn *admin;

static int group_setup(void **state)
{
    (void)state;
    cf_store_config cfg = {.max_connections = 3};
    cf_test_store_setup(dsn, sizeof dsn, &cfg, &st_, &admin);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cf_test_store_teardown(st_, admin);
    return 0;
}

static void begin(const char *key, cf_wf_row *row)
{
    cf_run_begin_args a = {.wf_class = "Rep", .key = key, .lock_value = "w/1"};
    assert_int_equal(cf_store_run_begin(st_, &a, row), CF_OK);
}

/* commit writes the steps named names (n, completed) in one write set with prune (may be NULL). */
static cf_status commit(const cf_wf_row *r, char (*names)[64], size_t n,
                        const cf_ws_repeat_prune *prune)
{
    cf_ws_step *steps = calloc(n ? n : 1, sizeof *steps);
    assert_non_null(steps);
    for (size_t i = 0; i < n; i++)
        steps[i] = (cf_ws_step){.name = names[i], .state = CF_STEP_COMPLETED, .attempts = 1};
    cf_write_set ws = {.workflow_id = r->id,
                       .fence = r->fence,
                       .steps = steps,
                       .nsteps = n,
                       .outcome = CF_WS_CONTINUE,
                       .attempt = -1,
                       .repeat_prune = prune};
    cf_status st = cf_store_commit(st_, &ws);
    free(steps);
    return st;
}

/* has says whether workflow key has a row named step. */
static bool has(const char *key, const char *step)
{
    const char *params[2] = {key, step};
    PGresult *res = PQexecParams(admin,
                                 "SELECT count(*) FROM chrono_forge_execution_logs l"
                                 " JOIN chrono_forge_workflows w ON w.id = l.workflow_id"
                                 " WHERE w.key = $1 AND l.step_name = $2",
                                 2, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    bool yes = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    return yes;
}

static int64_t rows_like(const char *key, const char *like)
{
    const char *params[2] = {key, like};
    PGresult *res = PQexecParams(admin,
                                 "SELECT count(*) FROM chrono_forge_execution_logs l"
                                 " JOIN chrono_forge_workflows w ON w.id = l.workflow_id"
                                 " WHERE w.key = $1 AND l.step_name LIKE $2",
                                 2, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    int64_t n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

static void tick_name(char *buf, const char *repeat, int64_t k)
{
    snprintf(buf, 64, "durably_repeat$%s$%lld", repeat, (long long)(TICK0 + k * 1000));
}

static void test_store_repeat_prune_deletes_only_old_ticks_of_its_repeat(void **state)
{
    (void)state;
    cf_wf_row a, b;
    begin("prune-a", &a);
    begin("prune-b", &b);
    char names[12][64];
    for (int k = 0; k < 5; k++)
        tick_name(names[k], "tick", k);
    tick_name(names[5], "tick2", 0); /* another repeat whose name extends this one's */
    tick_name(names[6], "tic", 0);   /* and one whose name this one's extends */
    snprintf(names[7], 64, "durably_repeat$tick");
    snprintf(names[8], 64, "durably_execute$tick");
    assert_int_equal(commit(&a, names, 9, NULL), CF_OK);
    assert_int_equal(commit(&b, names, 9, NULL), CF_OK);

    /* a stale write set (another run took over) prunes nothing */
    cf_ws_repeat_prune p = {.prefix = "durably_repeat$tick$", .before_ms = TICK0 + 3000};
    cf_wf_row stale = a;
    stale.fence = a.fence + 1; /* not the running fence */
    assert_int_equal(commit(&stale, NULL, 0, &p), CF_ERR_CONFLICT);
    assert_true(has("prune-a", names[0]));

    char next[1][64];
    tick_name(next[0], "tick", 5);
    assert_int_equal(commit(&a, next, 1, &p), CF_OK);
    for (int k = 0; k < 3; k++)
        assert_false(has("prune-a", names[k]));
    for (int k = 3; k < 5; k++)
        assert_true(has("prune-a", names[k]));
    assert_true(has("prune-a", next[0]));
    for (int i = 5; i < 9; i++) /* other repeats, the coordination row, other steps */
        assert_true(has("prune-a", names[i]));
    assert_int_equal(rows_like("prune-b", "durably_repeat$tick$%"), 5); /* another workflow */

    /* malformed prunes are refused, writing nothing */
    const char *bad[] = {"durably_execute$x$",
                         "durably_repeat$",
                         "durably_repeat$a$b$",
                         "durably_repeat$tick",
                         "",
                         NULL};
    for (int i = 0; i < 6; i++) {
        cf_ws_repeat_prune q = {.prefix = bad[i], .before_ms = TICK0 + 9000};
        assert_int_equal(commit(&a, NULL, 0, &q), CF_ERR_INVALID);
    }
    cf_ws_repeat_prune neg = {.prefix = "durably_repeat$tick$", .before_ms = -1};
    assert_int_equal(commit(&a, NULL, 0, &neg), CF_ERR_INVALID);
    assert_true(has("prune-a", names[3]));
    cf_wf_row_deinit(&a);
    cf_wf_row_deinit(&b);
}

static void test_store_repeat_prune_is_bounded_per_write_set_oldest_first(void **state)
{
    (void)state;
    cf_wf_row a;
    begin("prune-many", &a);
    enum { N = 1100 };
    static char names[N][64];
    for (int k = 0; k < N; k++)
        tick_name(names[k], "tick", k);
    assert_int_equal(commit(&a, names, 1000, NULL), CF_OK);
    assert_int_equal(commit(&a, names + 1000, N - 1000, NULL), CF_OK);
    cf_ws_repeat_prune p = {.prefix = "durably_repeat$tick$", .before_ms = TICK0 + N * 1000};
    assert_int_equal(commit(&a, NULL, 0, &p), CF_OK);
    assert_int_equal(rows_like("prune-many", "durably_repeat$tick$%"), N - CF_WS_PRUNE_MAX);
    assert_false(has("prune-many", names[CF_WS_PRUNE_MAX - 1]));
    assert_true(has("prune-many", names[CF_WS_PRUNE_MAX]));
    assert_int_equal(commit(&a, NULL, 0, &p), CF_OK); /* the next write set takes the rest */
    assert_int_equal(rows_like("prune-many", "durably_repeat$tick$%"), 0);
    cf_wf_row_deinit(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_repeat_prune_deletes_only_old_ticks_of_its_repeat),
        cmocka_unit_test(test_store_repeat_prune_is_bounded_per_write_set_oldest_first),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_repeat", tests, group_setup, group_teardown);
}
