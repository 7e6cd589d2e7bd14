// SPDX-License-Identifier: MIT
/* tests/integration/test_store_dashboard.c: the dashboard's reads (store/dashboard.h) on a
 * populated table (30,000 workflows, most completed, analysed): every filter combination the
 * workflows page offers, EXPLAINed as the generic plan the store runs, reads no table
 * sequentially and sorts nothing (an index drives it in id order); the counts and throughput
 * statements scan no workflows table either; and the filters, keyset pages, counts and
 * throughput return the right rows. (The same plans on 10M rows: a bench, docs/indexes.md.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/dashboard.h"
#include "store/sql.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

static char dsn[512];
static cf_store *st_;
static PGconn *admin;

/* 30,000 workflows: ids 1-27000 completed (completed_at over the last 2 hours, newest ids last),
 * then 1000 idle (a third waiting on a timer, 5 of them on a merge, a third on a retry, a third on
 * continue_if, 10 of them on a signal), 500
 * running, 1000 stalled and 500 failed with errors (Net.Timeout or Db); classes A, B, C. */
static int group_setup(void **state)
{
    (void)state;
    cf_store_config cfg = {.max_connections = 2};
    cf_test_store_setup(dsn, sizeof dsn, &cfg, &st_, &admin);
    cf_test_sql_exec(
        admin,
        "INSERT INTO chrono_forge_workflows (key, job_class, state, completed_at, created_at,"
        " next_wake_at, retry_counts)"
        " SELECT 'k-' || g, (ARRAY['A','B','C'])[1 + g % 3],"
        "  CASE WHEN g <= 27000 THEN 'completed' WHEN g <= 28000 THEN 'idle'"
        "       WHEN g <= 28500 THEN 'running' WHEN g <= 29500 THEN 'stalled' ELSE 'failed' END,"
        "  CASE WHEN g <= 27000 THEN now() - (27000 - g) * interval '266 milliseconds' END,"
        "  now() - (30000 - g) * interval '1 second',"
        "  CASE WHEN g > 27000 AND g <= 28000 AND g % 3 <> 0 THEN now() + interval '1 hour' END,"
        "  CASE WHEN g > 27000 AND g <= 28000 AND g % 3 = 2 THEN '{\"$workflow\": 1}'::jsonb"
        "       ELSE '{}'::jsonb END"
        " FROM generate_series(1, 30000) g");
    cf_test_sql_exec(
        admin,
        "INSERT INTO chrono_forge_error_logs (workflow_id, attempt, error_class, error_message)"
        " SELECT id, 1, CASE WHEN id % 2 = 0 THEN 'Net.Timeout' ELSE 'Db' END, 'boom ' || id"
        " FROM chrono_forge_workflows WHERE state IN ('stalled', 'failed')");
    /* 10 of the continue_if ones await a signal, 5 of the timer ones a merge (a pending step) */
    cf_test_sql_exec(admin,
                     "INSERT INTO chrono_forge_execution_logs (workflow_id, step_name, state)"
                     " SELECT id, 'await_signal$pay', 'pending' FROM chrono_forge_workflows"
                     " WHERE state = 'idle' AND next_wake_at IS NULL ORDER BY id LIMIT 10");
    cf_test_sql_exec(admin,
                     "INSERT INTO chrono_forge_execution_logs (workflow_id, step_name, state)"
                     " SELECT id, 'merge$kids', 'pending' FROM chrono_forge_workflows"
                     " WHERE state = 'idle' AND next_wake_at IS NOT NULL AND retry_counts = '{}'"
                     " ORDER BY id LIMIT 5");
    cf_test_sql_exec(admin, "ANALYZE chrono_forge_workflows");
    cf_test_sql_exec(admin, "ANALYZE chrono_forge_error_logs");
    cf_test_sql_exec(admin, "SET plan_cache_mode = force_generic_plan");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cf_test_store_teardown(st_, admin);
    return 0;
}

/* plan returns the EXPLAIN text of sql executed as a prepared, generic plan with vals. */
static char *plan(const char *sql, int n, const char *const *vals)
{
    cf_test_sql_exec(admin, "DEALLOCATE ALL");
    PGresult *r = PQprepare(admin, "q", sql, n, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("prepare: %s", PQerrorMessage(admin));
    PQclear(r);
    char q[512] = "EXPLAIN EXECUTE q";
    if (n > 0)
        strcat(q, "(");
    for (int i = 0; i < n; i++) {
        char *lit = vals[i] ? PQescapeLiteral(admin, vals[i], strlen(vals[i])) : NULL;
        snprintf(q + strlen(q), sizeof q - strlen(q), "%s%s", i ? ", " : "", lit ? lit : "NULL");
        PQfreemem(lit);
    }
    if (n > 0)
        strcat(q, ")");
    r = PQexec(admin, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(admin));
    size_t cap = 1, len = 0;
    for (int i = 0; i < PQntuples(r); i++)
        cap += strlen(PQgetvalue(r, i, 0)) + 1;
    char *out = calloc(1, cap);
    for (int i = 0; i < PQntuples(r); i++)
        len += (size_t)sprintf(out + len, "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    return out;
}

/* assert_indexed: no table is read sequentially or by bitmap (an unordered read), and a sort,
 * if any, sorts only the chunk (at most CF_DASH_CHUNK rows), never a read of a table. */
static void assert_indexed(const char *what, const char *p)
{
    if (strstr(p, "Seq Scan on chrono_forge_workflows") ||
        strstr(p, "Bitmap Heap Scan on chrono_forge_workflows") ||
        strstr(p, "Seq Scan on chrono_forge_error_logs"))
        fail_msg("%s: a sequential or bitmap scan:\n%s", what, p);
    for (const char *s = strstr(p, "Sort  ("); s; s = strstr(s + 1, "Sort  (")) {
        const char *child = strstr(s, "->");
        const char *line_end = child ? strchr(child, '\n') : NULL;
        if (!child || !line_end || !strstr(child, "CTE Scan on chunk") ||
            strstr(child, "CTE Scan on chunk") > line_end)
            fail_msg("%s: a sort of something other than the chunk:\n%s", what, p);
    }
}

static void test_every_filter_combination_is_driven_by_an_index(void **state)
{
    (void)state;
    const char *states[] = {NULL, "idle", "running", "stalled", "failed", "completed"};
    int checked = 0;
    for (size_t s = 0; s < sizeof states / sizeof states[0]; s++) {
        for (unsigned mask = 0; mask < 64; mask++) { /* class, key, from, to, error, waits */
            cf_dash_filter f = {.state = states[s]};
            f.wf_class = mask & 1 ? "B" : NULL;
            f.key_prefix = mask & 2 ? "k-29" : NULL;
            const char *from = mask & 4 ? "1700000000000" : NULL;
            const char *to = mask & 8 ? "4102444800000" : NULL;
            f.error_class = mask & 16 ? "Net" : NULL;
            f.waits = mask & 32 ? "timer" : NULL;
            const char *vals[] = {f.state, "9223372036854775807", f.wf_class, f.key_prefix, from,
                                  to,      f.error_class,         f.waits,    "50",         "1000"};
            char what[128];
            snprintf(what, sizeof what, "state=%s mask=%u", f.state ? f.state : "-", mask);
            char *p = plan(cf_dash_list_sql(&f), 10, vals);
            assert_indexed(what, p);
            /* The driving index, read backwards under the chunk's LIMIT (for a class, the
             * planner may prefer the primary key while a class is a third of the rows). */
            const char *want = f.wf_class ? "chrono_forge_workflows_class_id"
                               : f.state && strcmp(f.state, "completed") != 0
                                   ? "chrono_forge_workflows_not_completed"
                                   : "chrono_forge_workflows_pkey";
            char scan[96];
            snprintf(scan, sizeof scan, "Index Scan Backward using %s", want);
            if (!strstr(p, scan) &&
                !(f.wf_class && strstr(p, "Index Scan Backward using chrono_forge_workflows_pkey")))
                fail_msg("%s: not driven by %s:\n%s", what, want, p);
            free(p);
            checked++;
        }
    }
    assert_int_equal(checked, 6 * 64);
}

static void test_counts_and_throughput_scan_no_table(void **state)
{
    (void)state;
    const char *cs[] = {"idle", "100000"};
    char *p = plan(cf_sql_stmts[CF_SQL_DASH_COUNT_STATE].sql, 2, cs);
    if (strstr(p, "Seq Scan on chrono_forge_workflows") ||
        !strstr(p, "Index Only Scan using chrono_forge_workflows_not_completed"))
        fail_msg("a state's count does not read only its index:\n%s", p);
    free(p);
    p = plan(cf_sql_stmts[CF_SQL_DASH_COUNTS].sql, 0, NULL);
    if (strstr(p, "Seq Scan on chrono_forge_workflows") ||
        !strstr(p, "Index Scan on chrono_forge_workflows_not_completed"))
        fail_msg("counts do not read only the rows not completed:\n%s", p);
    free(p);
    const char *w[] = {"50000"};
    p = plan(cf_sql_stmts[CF_SQL_DASH_THROUGHPUT].sql, 1, w);
    if (strstr(p, "Seq Scan on chrono_forge_workflows"))
        fail_msg("throughput scans the table:\n%s", p);
    assert_non_null(strstr(p, "Index Scan Backward using chrono_forge_workflows_pkey"));
    free(p);
}

static size_t count_all(cf_dash_filter f)
{
    size_t total = 0;
    int64_t last = INT64_MAX;
    for (;;) {
        cf_dash_list l = {0};
        f.limit = 500;
        assert_int_equal(cf_dash_list_workflows(st_, &f, &l), CF_OK);
        for (size_t i = 0; i < l.n; i++) {
            assert_true(l.rows[i].wf.id < last); /* newest first, each row once */
            last = l.rows[i].wf.id;
        }
        total += l.n;
        f.before_id = l.next_before_id;
        cf_dash_list_deinit(&l);
        if (f.before_id == 0)
            return total;
    }
}

static void test_filters_and_pages_return_the_right_rows(void **state)
{
    (void)state;
    assert_int_equal(count_all((cf_dash_filter){.state = "stalled"}), 1000);
    assert_int_equal(count_all((cf_dash_filter){.state = "completed", .wf_class = "A"}), 9000);
    assert_int_equal(count_all((cf_dash_filter){.waits = "timer"}), 334 - 5);
    assert_int_equal(count_all((cf_dash_filter){.waits = "retry"}), 333);
    assert_int_equal(count_all((cf_dash_filter){.waits = "continue_if"}), 333 - 10);
    assert_int_equal(count_all((cf_dash_filter){.waits = "signal"}), 10);
    assert_int_equal(count_all((cf_dash_filter){.waits = "merge"}), 5);
    assert_int_equal(count_all((cf_dash_filter){.error_class = "Net"}), 750);
    assert_int_equal(count_all((cf_dash_filter){.error_class = "Ne"}), 0); /* not a prefix */
    assert_int_equal(count_all((cf_dash_filter){.state = "failed", .error_class = "Db"}), 250);
    assert_int_equal(count_all((cf_dash_filter){.key_prefix = "k-2999"}), 11);
    int64_t newest =
        cf_test_sql_int(admin, "SELECT (extract(epoch FROM max(created_at)) * 1000)::bigint"
                               " FROM chrono_forge_workflows");
    assert_int_equal(count_all((cf_dash_filter){.from_ms = newest - 9999}), 10);
    assert_int_equal(count_all((cf_dash_filter){.to_ms = newest - 29999000 + 1}), 1);

    cf_dash_list l = {0};
    cf_dash_filter f = {.state = "stalled", .limit = 2};
    assert_int_equal(cf_dash_list_workflows(st_, &f, &l), CF_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.rows[0].wf.id, 29500);
    assert_string_equal(l.rows[0].last_error_class, "Net.Timeout");
    assert_string_equal(l.rows[0].last_error_message, "boom 29500");
    assert_int_equal(l.next_before_id, 29499);
    cf_dash_list_deinit(&l);

    cf_dash_filter bad = {.state = "sleeping"};
    assert_int_equal(cf_dash_list_workflows(st_, &bad, &l), CF_ERR_INVALID);
    cf_dash_filter badw = {.waits = "sleep"};
    assert_int_equal(cf_dash_list_workflows(st_, &badw, &l), CF_ERR_INVALID);
}

static void test_counts_exact_and_estimated_and_throughput(void **state)
{
    (void)state;
    cf_dash_counts_out c;
    assert_int_equal(cf_dash_counts(st_, 100000, 100000, &c), CF_OK);
    assert_true(c.completed_exact);
    assert_int_equal(c.by_state[CF_WF_COMPLETED], 27000);
    assert_int_equal(c.by_state[CF_WF_IDLE], 1000);
    assert_int_equal(c.by_state[CF_WF_RUNNING], 500);
    assert_int_equal(c.by_state[CF_WF_STALLED], 1000);
    assert_int_equal(c.by_state[CF_WF_FAILED], 500);
    assert_false(c.at_cap[CF_WF_STALLED]);
    assert_true(c.queues_counted);
    int64_t sum = 0;
    for (size_t i = 0; i < c.nqueue; i++) {
        assert_string_equal(c.by_queue[i].queue, "default");
        sum += c.by_queue[i].n;
    }
    assert_int_equal(sum, 3000);
    cf_dash_counts_deinit(&c);
    /* A cap of 600: idle and stalled stop at it, and the by-queue count is skipped. Above the
     * size limit the completed count is the estimate minus the others. */
    assert_int_equal(cf_dash_counts(st_, 600, 1000, &c), CF_OK);
    assert_int_equal(c.by_state[CF_WF_IDLE], 600);
    assert_true(c.at_cap[CF_WF_IDLE]);
    assert_int_equal(c.by_state[CF_WF_RUNNING], 500);
    assert_false(c.at_cap[CF_WF_RUNNING]);
    assert_false(c.queues_counted);
    assert_false(c.completed_exact);
    assert_int_equal(c.by_state[CF_WF_COMPLETED], 30000 - (600 + 500 + 600 + 500));
    cf_dash_counts_deinit(&c);

    int64_t pm[60];
    int64_t now = cf_test_sql_int(admin, "SELECT (extract(epoch FROM now()) * 1000)::bigint");
    assert_int_equal(cf_dash_throughput(st_, now, 50000, pm), CF_OK);
    int64_t total = 0;
    for (int i = 0; i < 60; i++)
        total += pm[i];
    int64_t want = cf_test_sql_int(
        admin, "SELECT count(*) FROM chrono_forge_workflows WHERE state = 'completed'"
               " AND completed_at >= date_trunc('minute', now())"
               "   - interval '59 minutes'");
    assert_true(want > 13000 && want < 14000); /* the fixture's spread */
    assert_int_equal(total, want);
    /* A window of the newest 2000 rows holds no completed workflow (ids 28001-30000). */
    assert_int_equal(cf_dash_throughput(st_, now, 2000, pm), CF_OK);
    total = 0;
    for (int i = 0; i < 60; i++)
        total += pm[i];
    assert_int_equal(total, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_filter_combination_is_driven_by_an_index),
        cmocka_unit_test(test_counts_and_throughput_scan_no_table),
        cmocka_unit_test(test_filters_and_pages_return_the_right_rows),
        cmocka_unit_test(test_counts_exact_and_estimated_and_throughput),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_dashboard", tests, group_setup, group_teardown);
}
