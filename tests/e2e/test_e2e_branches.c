// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_branches.c: branches with real worker processes (SPEC §3, docs/replay.md):
 * a parent spawning 1,000 Exerciser children completes once with every child completed once; a
 * worker killed with SIGKILL in the middle of spawn_each leaves no duplicate and no missing
 * child; FLUSHALL while children run; the last two children finishing together wake the parent
 * once; a parent whose wake was lost (the last child's worker died after its commit) is healed; a
 * stalled child under each merge option (wait then requeue, fail, continue, timeout); `status`
 * and `list --parent`; the FanOutImport example. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clock.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000

static cf_e2e E;

static const char *const WORKER_ARGS[] = {"-c",    "4", "--sweep-grace", "1s", "--sweep-interval",
                                          "300ms", NULL};

CF_E2E_EACH(E)

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

static void test_parent_with_1000_children_completes_once(void **state)
{
    (void)state;
    char ledger[400], kw[700];
    ledger_path("fan", ledger, sizeof ledger);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"children\": 1000, \"spawn_batch\": 256, \"ledger\": \"%s\"}",
             ledger);
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "fan", kw);
    assert_true(cf_e2e_wait_state(&E, "fan", "completed", DEADLINE_MS));
    assert_int_equal(children_in("fan", NULL), 1000);
    assert_int_equal(children_in("fan", "completed"), 1000);
    every_child_ran_once("fan", ledger, 1000);
    assert_int_equal(cf_e2e_ledger_count(ledger, "fan step_1 "), 1);
    assert_int_equal(ctx_int("fan", "children_completed"), 1000);
    assert_int_equal(branch_col("fan", "spawned"), 1000);
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
    /* the parent was woken by the last child, not by the merge's backstop nor by healing */
    assert_int_equal(cf_e2e_log_events(&E, -1, "branch_wake", NULL), 1);
    assert_int_equal(cf_e2e_log_events(&E, -1, "sweep_republished", "key=fan"), 0);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

/* wait_sql polls until the query (param key) gives at least min. */
static bool wait_sql(const char *sql, const char *key, int64_t min, int64_t timeout_ms)
{
    int64_t until = cf_clock_mono_ms() + timeout_ms;
    while (cf_e2e_sql_int(&E, sql, key) < min) {
        if (cf_clock_mono_ms() > until)
            return false;
        cf_clock_sleep_ms(50, NULL);
    }
    return true;
}

#define CHILDREN_OF                                                                                \
    "SELECT count(*) FROM chrono_forge_workflows c JOIN chrono_forge_workflows p"                  \
    " ON c.parent_id = p.id WHERE p.key = $1"

static void test_kill_in_the_middle_of_spawn_each(void **state)
{
    (void)state;
    char ledger[400], kw[700];
    ledger_path("kill", ledger, sizeof ledger);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"children\": 60, \"spawn_batch\": 10, \"spawn_pause_ms\": 400,"
             " \"ledger\": \"%s\"}",
             ledger);
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "kill", kw);
    assert_true(wait_sql(CHILDREN_OF, "kill", 20, DEADLINE_MS));
    assert_true(children_in("kill", NULL) < 60); /* mid-dispatch */
    cf_e2e_signal(&E, 0, SIGKILL);
    cf_e2e_wait_exit(&E, 0, 10000);
    cf_e2e_worker(&E, 1, WORKER_ARGS, NULL);
    assert_true(cf_e2e_wait_state(&E, "kill", "completed", DEADLINE_MS));
    assert_int_equal(children_in("kill", NULL), 60);
    assert_int_equal(children_in("kill", "completed"), 60);
    assert_int_equal(branch_col("kill", "spawned"), 60); /* no child inserted or counted twice */
    assert_int_equal(branch_col("kill", "remaining"), 0);
    assert_int_equal(ctx_int("kill", "children_completed"), 60);
    for (int i = 0; i < 60; i++) { /* none missing: each ran (a kill mid-step may repeat one) */
        char prefix[300];
        snprintf(prefix, sizeof prefix, "kill$kids$kid_%d step_1 ", i);
        if (cf_e2e_ledger_count(ledger, prefix) < 1)
            fail_msg("child %d never ran", i);
    }
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_flushall_while_children_run(void **state)
{
    (void)state;
    char ledger[400], kw[700];
    ledger_path("flush", ledger, sizeof ledger);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"children\": 30, \"child_steps\": 2, \"child_sleep_ms\": 200,"
             " \"ledger\": \"%s\"}",
             ledger);
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "flush", kw);
    assert_true(wait_sql(CHILDREN_OF " AND c.state = 'completed'", "flush", 4, DEADLINE_MS));
    assert_true(children_in("flush", "completed") < 30);
    const char *argv[] = {"FLUSHALL", NULL};
    cf_e2e_redis_int(argv);
    assert_true(cf_e2e_wait_state(&E, "flush", "completed", DEADLINE_MS));
    assert_int_equal(children_in("flush", "completed"), 30);
    assert_int_equal(ctx_int("flush", "children_completed"), 30);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_last_two_children_finishing_together_wake_once(void **state)
{
    (void)state;
    char ledger[400], gate[400], kw[1000];
    ledger_path("pair", ledger, sizeof ledger);
    snprintf(gate, sizeof gate, "%s/gate-pair", E.dir);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"children\": 2, \"child_gate_file\": \"%s\", \"ledger\": \"%s\"}",
             gate, ledger);
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "pair", kw);
    /* both children parked on their gate, the parent on its merge */
    assert_true(wait_sql("SELECT count(*) FROM chrono_forge_execution_logs l"
                         " JOIN chrono_forge_workflows c ON c.id = l.workflow_id"
                         " WHERE c.key LIKE $1 || '$kids$kid_%' AND c.state = 'idle'"
                         "   AND l.step_name = 'continue_if$gate'",
                         "pair", 2, DEADLINE_MS));
    assert_true(wait_sql("SELECT count(*) FROM chrono_forge_execution_logs l"
                         " JOIN chrono_forge_workflows p ON p.id = l.workflow_id"
                         " WHERE p.key = $1 AND p.state = 'idle' AND l.step_name = 'merge$kids'",
                         "pair", 1, DEADLINE_MS));
    FILE *f = fopen(gate, "w");
    assert_non_null(f);
    fclose(f);
    cf_e2e_enqueue(&E, "Exerciser", "pair$kids$kid_0", "{}");
    cf_e2e_enqueue(&E, "Exerciser", "pair$kids$kid_1", "{}");
    assert_true(cf_e2e_wait_state(&E, "pair", "completed", DEADLINE_MS));
    assert_int_equal(children_in("pair", "completed"), 2);
    assert_int_equal(cf_e2e_log_events(&E, -1, "branch_wake", NULL), 1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_a_lost_wake_of_the_parent_is_healed(void **state)
{
    (void)state;
    /* a long lease: recovery of the crashed worker's in-flight envelope cannot be what wakes
     * the parent within the deadline; only the sweeper can */
    const char *args[] = {
        "-c", "2", "--lease", "120s", "--sweep-grace", "1s", "--sweep-interval", "300ms", NULL};
    char gate[400], kw[700];
    snprintf(gate, sizeof gate, "%s/gate-lost", E.dir);
    snprintf(kw, sizeof kw, "{\"steps\": 1, \"children\": 2, \"child_gate_file\": \"%s\"}", gate);
    cf_e2e_worker(&E, 0, args, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "lost", kw);
    assert_true(wait_sql("SELECT count(*) FROM chrono_forge_execution_logs l"
                         " JOIN chrono_forge_workflows p ON p.id = l.workflow_id"
                         " WHERE p.key = $1 AND p.state = 'idle' AND l.step_name = 'merge$kids'",
                         "lost", 1, DEADLINE_MS));
    assert_true(wait_sql("SELECT count(*) FROM chrono_forge_execution_logs l"
                         " JOIN chrono_forge_workflows c ON c.id = l.workflow_id"
                         " WHERE c.key LIKE $1 || '$kids$kid_%' AND c.state = 'idle'"
                         "   AND l.step_name = 'continue_if$gate'",
                         "lost", 2, DEADLINE_MS));
    FILE *f = fopen(gate, "w");
    assert_non_null(f);
    fclose(f);
    cf_e2e_enqueue(&E, "Exerciser", "lost$kids$kid_0", "{}");
    assert_true(cf_e2e_wait_state(&E, "lost$kids$kid_0", "completed", DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGKILL);
    cf_e2e_wait_exit(&E, 0, 10000);
    /* the last child commits, then its worker dies before publishing anything: no wake */
    const char *crash[] = {"CHRONOFORGE_TEST_CRASH_AFTER_RELEASE=1", NULL};
    char stock[1024], hooks[1100];
    snprintf(stock, sizeof stock, "%s", cf_test_env("CF_BIN"));
    snprintf(hooks, sizeof hooks, "%s-test-hooks", stock);
    if (access(hooks, X_OK) != 0)
        fail_msg("%s not found: build it with `make MODE=... tests`", hooks);
    setenv("CF_BIN", hooks, 1);
    cf_e2e_worker(&E, 1, args, crash);
    setenv("CF_BIN", stock, 1);
    cf_e2e_enqueue(&E, "Exerciser", "lost$kids$kid_1", "{}");
    assert_int_equal(cf_e2e_wait_exit(&E, 1, DEADLINE_MS), 128 + SIGABRT);
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "lost$kids$kid_1", st, sizeof st), "completed");
    assert_string_equal(cf_e2e_state(&E, "lost", st, sizeof st), "idle");
    cf_e2e_worker(&E, 2, args, NULL);
    assert_true(cf_e2e_wait_state(&E, "lost", "completed", DEADLINE_MS));
    assert_true(cf_e2e_log_events(&E, 2, "sweep_republished", "reason=overdue key=lost") >= 1);
}

/* stalled_child enqueues key with 3 children whose kid_1 stalls at once, merged with
 * child_trouble (and extra kwargs), and waits until the two others completed and kid_1
 * stalled. */
static void stalled_child(const char *key, const char *trouble, const char *extra)
{
    char kw[700];
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"children\": 3, \"stall_kid\": 1, \"child_trouble\": \"%s\"%s}",
             trouble, extra);
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", key, kw);
    char like[200];
    snprintf(like, sizeof like, "%s$kids$kid_1", key);
    assert_true(cf_e2e_wait_state(&E, like, "stalled", DEADLINE_MS));
    assert_true(wait_sql(CHILDREN_OF " AND c.state = 'completed'", key, 2, DEADLINE_MS));
}

static void test_stalled_child_waits_for_an_operator(void **state)
{
    (void)state;
    stalled_child("swait", "wait", "");
    /* the stall woke the parent, which looked and halted again on its merge */
    assert_true(wait_sql("SELECT count(*) FROM chrono_forge_execution_logs l"
                         " JOIN chrono_forge_workflows p ON p.id = l.workflow_id"
                         " WHERE p.key = $1 AND p.state = 'idle' AND l.step_name = 'merge$kids'"
                         "   AND l.state = 'pending' AND l.attempts >= 2",
                         "swait", 1, DEADLINE_MS));
    char out[4096], st[32];
    const char *args[] = {cf_test_env("CF_BIN"), "requeue", "swait$kids$kid_1", NULL};
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out, args), 0);
    assert_true(cf_e2e_wait_state(&E, "swait", "completed", DEADLINE_MS));
    assert_string_equal(cf_e2e_state(&E, "swait$kids$kid_1", st, sizeof st), "completed");
    assert_int_equal(ctx_int("swait", "children_completed"), 3);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

/* The gem's bug (reference §10.C R-15): cleanup deleting an old failed child made its parent's
 * merge "done". Here the merge counts completions, never the rows that still exist. */
static void test_a_deleted_stalled_child_never_makes_the_merge_done(void **state)
{
    (void)state;
    stalled_child("sdel", "wait", "");
    const char *merge_attempts = "SELECT coalesce(max(l.attempts), 0)"
                                 " FROM chrono_forge_execution_logs l"
                                 " JOIN chrono_forge_workflows p ON p.id = l.workflow_id"
                                 " WHERE p.key = $1 AND p.state = 'idle'"
                                 "   AND l.step_name = 'merge$kids'";
    assert_true(wait_sql(merge_attempts, "sdel", 2, DEADLINE_MS));
    int64_t before = cf_e2e_sql_int(&E, merge_attempts, "sdel");
    cf_e2e_sql_exec(&E, "DELETE FROM chrono_forge_workflows WHERE key = 'sdel$kids$kid_1'");
    cf_e2e_enqueue(&E, "Exerciser", "sdel", "{}"); /* wake the parent: it looks again */
    assert_true(wait_sql(merge_attempts, "sdel", before + 1, DEADLINE_MS));
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "sdel", st, sizeof st), "idle");
    assert_int_equal(branch_col("sdel", "remaining"), 1);
}

static void test_stalled_child_fails_the_parent(void **state)
{
    (void)state;
    stalled_child("sfail", "fail", "");
    assert_true(cf_e2e_wait_state(&E, "sfail", "failed", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_error_logs e"
                                    " JOIN chrono_forge_workflows p ON p.id = e.workflow_id"
                                    " WHERE p.key = $1 AND e.error_class = 'Branch.ChildFailed'",
                                    "sfail"),
                     1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_stalled_child_lets_the_parent_continue(void **state)
{
    (void)state;
    stalled_child("scont", "continue", "");
    assert_true(cf_e2e_wait_state(&E, "scont", "completed", DEADLINE_MS));
    assert_int_equal(ctx_int("scont", "children_completed"), 2);
    assert_int_equal(ctx_int("scont", "children_not_completed"), 1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_merge_timeout_stalls_the_parent(void **state)
{
    (void)state;
    stalled_child("stime", "wait", ", \"merge_timeout_ms\": 1500");
    assert_true(cf_e2e_wait_state(&E, "stime", "stalled", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_error_logs e"
                                    " JOIN chrono_forge_workflows p ON p.id = e.workflow_id"
                                    " WHERE p.key = $1 AND e.error_class = 'Timeout'"
                                    "   AND e.step_name = 'merge$kids'",
                                    "stime"),
                     1);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

static void test_the_fan_out_import_example(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "FanOutImport", "imp",
                   "{\"rows\": [{\"sku\": \"A-1\"}, {\"sku\": \"B-2\"}, {\"qty\": 3}]}");
    assert_true(cf_e2e_wait_state(&E, "imp", "completed", DEADLINE_MS));
    assert_int_equal(ctx_int("imp", "imported"), 2);
    assert_int_equal(ctx_int("imp", "rejected"), 1);
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "imp$rows$row_2", st, sizeof st), "stalled");
    assert_string_equal(cf_e2e_state(&E, "imp$rows$row_0", st, sizeof st), "completed");
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows"
                                    " WHERE key = $1 AND context->>'imported_sku' = 'B-2'",
                                    "imp$rows$row_1"),
                     1);
}

#define cli(out, ...)                                                                              \
    cf_e2e_cli(&E, out, sizeof out, (const char *const[]){cf_test_env("CF_BIN"), __VA_ARGS__, NULL})

static json_t *cli_json(char *out, size_t cap)
{
    json_error_t jerr;
    json_t *v = json_loadb(out, strlen(out), 0, &jerr);
    if (!v)
        fail_msg("not JSON (%s): %.*s", jerr.text, (int)(cap < 400 ? cap : 400), out);
    return v;
}

static void test_status_and_list_show_branches_and_children(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "ops", "{\"steps\": 1, \"children\": 5}");
    assert_true(cf_e2e_wait_state(&E, "ops", "completed", DEADLINE_MS));
    static char out[65536];
    assert_int_equal(cli(out, "status", "ops"), 0);
    assert_non_null(strstr(out, "branches:"));
    assert_non_null(strstr(out, "kids"));

    assert_int_equal(cli(out, "status", "ops", "--json"), 0);
    json_t *root = cli_json(out, sizeof out);
    json_t *b = json_array_get(json_object_get(root, "branches"), 0);
    assert_string_equal(json_string_value(json_object_get(b, "name")), "kids");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "merged");
    assert_int_equal(json_integer_value(json_object_get(b, "spawned")), 5);
    assert_int_equal(json_integer_value(json_object_get(b, "completed")), 5);
    assert_null(json_object_get(root, "children"));
    json_decref(root);

    assert_int_equal(cli(out, "status", "ops", "--children", "--limit", "2", "--json"), 0);
    root = cli_json(out, sizeof out);
    json_t *kids = json_object_get(root, "children");
    assert_int_equal(json_array_size(json_object_get(kids, "workflows")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(kids, "workflows"), 0), "key")),
                        "ops$kids$kid_0");
    assert_true(json_integer_value(json_object_get(kids, "next_after")) > 0);
    json_decref(root);

    assert_int_equal(cli(out, "list", "--parent", "ops", "--json"), 0);
    root = cli_json(out, sizeof out);
    assert_int_equal(json_array_size(json_object_get(root, "workflows")), 5);
    json_decref(root);
    assert_int_equal(cli(out, "list", "--parent", "ops"), 0);
    assert_non_null(strstr(out, "ops$kids$kid_4"));
    assert_int_equal(cli(out, "list", "--parent", "ops", "--state", "idle"), 1);
    assert_int_equal(cli(out, "list", "--parent", "nobody"), 1);
}

/* Cancelling a parent whose children wait on a gate: its cleanup pass cancels each unfinished
 * child first (requested by "parent:Exerciser/<key>", with the parent's reason), the children
 * run their on_cancel and end cancelled, a child already completed is left alone, and the
 * parent ends cancelled. */
static void test_cancelling_a_parent_cancels_its_unfinished_children(void **state)
{
    (void)state;
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    char gate[300], kw[800], ledger[300];
    snprintf(gate, sizeof gate, "%s/cascade-gate", E.dir);
    ledger_path("cascade", ledger, sizeof ledger);
    snprintf(kw, sizeof kw,
             "{\"steps\": 1, \"children\": 3, \"child_gate_file\": \"%s\", \"ledger\": \"%s\"}",
             gate, ledger);
    cf_e2e_enqueue(&E, "Exerciser", "cascade", kw);
    /* the children ran step_1 and wait on their gate; the parent waits on its merge */
    assert_true(cf_e2e_wait_ledger(ledger, "cascade$kids$kid_2 step_1 ", 1, DEADLINE_MS));
    assert_true(wait_sql("SELECT count(*) FROM chrono_forge_workflows c JOIN"
                         " chrono_forge_workflows p ON c.parent_id = p.id WHERE p.key = $1"
                         " AND c.state = 'idle' AND c.locked_by IS NULL",
                         "cascade", 3, DEADLINE_MS));
    char out[2048];
    assert_int_equal(cli(out, "cancel", "cascade", "--class", "Exerciser", "--reason", "stop it"),
                     0);
    assert_true(cf_e2e_wait_state(&E, "cascade", "cancelled", DEADLINE_MS));
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, "cascade$kids$kid_%d", i);
        assert_true(cf_e2e_wait_state(&E, key, "cancelled", DEADLINE_MS));
        char line[128];
        snprintf(line, sizeof line, "%s on_cancel 1", key);
        assert_int_equal(cf_e2e_ledger_count(ledger, line), 1);
    }
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows c JOIN"
                                    " chrono_forge_workflows p ON c.parent_id = p.id WHERE"
                                    " p.key = $1 AND c.cancel_requested_by ="
                                    " 'parent:Exerciser/cascade' AND c.cancel_reason = 'stop it'",
                                    "cascade"),
                     3);
    /* no child's step ran again */
    for (int i = 0; i < 3; i++) {
        char line[128];
        snprintf(line, sizeof line, "cascade$kids$kid_%d step_1 ", i);
        assert_int_equal(cf_e2e_ledger_count(ledger, line), 1);
    }
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parent_with_1000_children_completes_once, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_status_and_list_show_branches_and_children, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_the_fan_out_import_example, setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_cancelling_a_parent_cancels_its_unfinished_children,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_kill_in_the_middle_of_spawn_each, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_flushall_while_children_run, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_last_two_children_finishing_together_wake_once,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_a_lost_wake_of_the_parent_is_healed, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_stalled_child_waits_for_an_operator, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_a_deleted_stalled_child_never_makes_the_merge_done,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_stalled_child_fails_the_parent, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_stalled_child_lets_the_parent_continue, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_merge_timeout_stalls_the_parent, setup_each,
                                        teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
