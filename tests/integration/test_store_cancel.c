// SPDX-License-Identifier: MIT
/* tests/integration/test_store_cancel.c: store/cancel.h against a real Postgres: idle and
 * stalled workflows become cancelling and due now, a running one only records the request (its
 * next commit reports it; a releasing outcome then leaves it cancelling, even a completion that
 * raced it); refusals and their codes write nothing; a retried request is answered accepted
 * again; a set of ids in one call; an on_cancel pass begins on a cancelling row and ends it
 * cancelled; a lazy run's compare-and-set accepts a row cancelled in its window; requeue
 * --cleanup; the sweeper lists overdue cancelling workflows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/cancel.h"
#include "store/query.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

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

static cf_status begin(const char *key, const char *lock, cf_wf_row *row)
{
    cf_run_begin_args a = {.wf_class = "Flow", .key = key, .lock_value = lock};
    return cf_store_run_begin(st_, &a, row);
}

/* commit writes one completed step of row's run with outcome; *cx receives cancel_out. */
static cf_status commit(const cf_wf_row *row, const char *step, cf_ws_outcome outcome,
                        int64_t wake_ms, bool *cx)
{
    cf_ws_step s = {.name = step, .state = CF_STEP_COMPLETED, .attempts = 1};
    cf_write_set ws = {.workflow_id = row->id,
                       .fence = row->fence,
                       .steps = step ? &s : NULL,
                       .nsteps = step ? 1 : 0,
                       .outcome = outcome,
                       .next_wake_at_ms = wake_ms,
                       .attempt = -1,
                       .cancel_out = cx};
    return cf_store_commit(st_, &ws);
}

/* make_in creates Flow/key in state: idle (halted, waiting an hour), stalled or running. */
static int64_t make_in(const char *key, cf_ws_outcome outcome, cf_wf_row *running)
{
    cf_wf_row r;
    assert_int_equal(begin(key, "w/1", &r), CF_OK);
    if (outcome != CF_WS_CONTINUE)
        assert_int_equal(commit(&r, "durably_execute$a", outcome, 4102444800000LL, NULL), CF_OK);
    int64_t id = r.id;
    if (running)
        *running = r;
    else
        cf_wf_row_deinit(&r);
    return id;
}

static const char *state_of(const char *key)
{
    static char buf[32];
    char q[200];
    snprintf(q, sizeof q, "SELECT state FROM chrono_forge_workflows WHERE key = '%s'", key);
    PGresult *r = PQexec(admin, q);
    snprintf(buf, sizeof buf, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return buf;
}

static cf_cancel_req req_of(const char *reason, int64_t at)
{
    return (cf_cancel_req){.requested_by = "alice@host1", .reason = reason, .requested_at_ms = at};
}

static void test_cancel_idle_and_stalled_become_cancelling_due_now(void **state)
{
    (void)state;
    int64_t idle = make_in("cx-idle", CF_WS_HALT, NULL);
    make_in("cx-stall", CF_WS_STALL, NULL);
    cf_cancel_req req = req_of("user left", 1700000000123LL);
    cf_cancel_result res;
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-idle", &req, &res), CF_OK);
    assert_true(res.accepted);
    assert_string_equal(res.code, "cancelling");
    assert_int_equal(res.previous_state, CF_WF_IDLE);
    assert_int_equal(res.workflow_id, idle);
    assert_string_equal(res.queue, "default");
    assert_string_equal(state_of("cx-idle"), "cancelling");
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows WHERE key = 'cx-idle'"
                               " AND next_wake_at <= now() AND cancel_requested_by = 'alice@host1'"
                               " AND cancel_reason = 'user left'"),
        1);
    assert_int_equal(cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_execution_logs"
                                            " WHERE step_name = '$workflow_cancel$1700000000123'"
                                            " AND metadata->>'previous_state' = 'idle'"
                                            " AND metadata->>'reason' = 'user left'"),
                     1);
    /* the same request again (an unknown outcome retried): accepted, nothing more written */
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-idle", &req, &res), CF_OK);
    assert_true(res.accepted);
    assert_true(res.already_applied);
    /* another request: refused, the first one's row and reason kept */
    cf_cancel_req other = req_of("again", 0);
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-idle", &other, &res), CF_OK);
    assert_false(res.accepted);
    assert_string_equal(res.code, "cancelling");
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows WHERE key = 'cx-idle'"
                               " AND cancel_reason = 'user left'"),
        1);

    cf_cancel_req none = req_of(NULL, 0);
    assert_int_equal(cf_store_cancel(st_, NULL, "cx-stall", &none, &res), CF_OK);
    assert_true(res.accepted);
    assert_int_equal(res.previous_state, CF_WF_STALLED);
    assert_string_equal(state_of("cx-stall"), "cancelling");
}

static void test_cancel_refusals_write_nothing(void **state)
{
    (void)state;
    make_in("cx-done", CF_WS_COMPLETE, NULL);
    cf_wf_row r;
    make_in("cx-fail", CF_WS_CONTINUE, &r);
    cf_ws_error err = {.attempt = 1, .error_class = "Boom", .message = "x"};
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .errors = &err,
                       .nerrors = 1,
                       .outcome = CF_WS_FAIL,
                       .attempt = 1};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    cf_wf_row_deinit(&r);
    cf_cancel_req req = req_of("no", 0);
    cf_cancel_result res;
    const char *keys[] = {"cx-done", "cx-fail", "cx-none"};
    const char *codes[] = {"completed", "failed", "not_found"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cf_store_cancel(st_, "Flow", keys[i], &req, &res), CF_OK);
        assert_false(res.accepted);
        assert_string_equal(res.code, codes[i]);
        assert_true(res.reason[0] != '\0');
    }
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT count(*) FROM chrono_forge_workflows"
                        " WHERE key IN ('cx-done', 'cx-fail') AND cancel_requested_at IS NULL"),
        2);
    cf_cancel_req bad = {.requested_by = ""};
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-done", &bad, &res), CF_ERR_INVALID);
}

/* A running workflow: the request is recorded without touching its state, fence or lock; its
 * run's next commit reports it; the run's release leaves it cancelling; the on_cancel pass
 * begins on it and its 'cancelled' outcome ends it. */
static void test_cancel_running_is_reported_by_its_next_commit(void **state)
{
    (void)state;
    cf_wf_row r;
    make_in("cx-run", CF_WS_CONTINUE, &r);
    bool cx = true;
    assert_int_equal(commit(&r, "durably_execute$a", CF_WS_CONTINUE, 0, &cx), CF_OK);
    assert_false(cx);
    cf_cancel_req req = req_of("stop", 0);
    cf_cancel_result res;
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-run", &req, &res), CF_OK);
    assert_true(res.accepted);
    assert_string_equal(res.code, "requested");
    assert_string_equal(state_of("cx-run"), "running");
    /* the step in progress commits, and the commit says a cancel is there */
    assert_int_equal(commit(&r, "durably_execute$b", CF_WS_CONTINUE, 0, &cx), CF_OK);
    assert_true(cx);
    assert_string_equal(state_of("cx-run"), "running");
    /* the run ends (here: it had completed; any releasing outcome): cancelling, due now */
    assert_int_equal(commit(&r, NULL, CF_WS_COMPLETE, 0, &cx), CF_OK);
    assert_true(cx);
    assert_string_equal(state_of("cx-run"), "cancelling");
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows WHERE key = 'cx-run'"
                               " AND next_wake_at <= now() AND locked_by IS NULL"),
        1);
    cf_wf_row_deinit(&r);
    /* the on_cancel pass */
    assert_int_equal(begin("cx-run", "w/2", &r), CF_OK);
    assert_true(r.cancel_requested_at_ms > 0);
    assert_string_equal(r.cancel_reason, "stop");
    assert_string_equal(r.cancel_by, "alice@host1");
    assert_int_equal(commit(&r, "on_cancel$undo", CF_WS_HALT, 4102444800000LL, &cx), CF_OK);
    assert_string_equal(state_of("cx-run"), "cancelling"); /* a cleanup retry */
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows WHERE key = 'cx-run'"
                               " AND next_wake_at <= now()"),
        1); /* due now: healing never waits for the retry's backoff */
    cf_wf_row_deinit(&r);
    assert_int_equal(begin("cx-run", "w/3", &r), CF_OK);
    assert_int_equal(commit(&r, "on_cancel$undo", CF_WS_CANCELLED, 0, &cx), CF_OK);
    assert_string_equal(state_of("cx-run"), "cancelled");
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows WHERE key = 'cx-run'"
                               " AND completed_at IS NOT NULL AND locked_by IS NULL"),
        1);
    cf_wf_row_deinit(&r);
    cf_wf_row out;
    assert_int_equal(begin("cx-run", "w/4", &out), CF_ERR_STATE); /* terminal */
    cf_wf_row_deinit(&out);
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-run", &req, &res), CF_OK);
    assert_false(res.accepted);
    assert_string_equal(res.code, "cancelled");
}

static void test_cancel_ids_judges_each(void **state)
{
    (void)state;
    int64_t ids[4];
    ids[0] = make_in("cx-set-1", CF_WS_HALT, NULL);
    ids[1] = make_in("cx-set-2", CF_WS_COMPLETE, NULL);
    ids[2] = 999999999;
    ids[3] = make_in("cx-set-3", CF_WS_STALL, NULL);
    cf_cancel_req req = req_of("parent cancelled", 0);
    req.requested_by = "parent:Flow/p-1";
    cf_cancel_result res[4];
    assert_int_equal(cf_store_cancel_ids(st_, ids, 4, &req, res), CF_OK);
    assert_true(res[0].accepted);
    assert_false(res[1].accepted);
    assert_string_equal(res[1].code, "completed");
    assert_false(res[2].accepted);
    assert_string_equal(res[2].code, "not_found");
    assert_true(res[3].accepted);
    assert_string_equal(res[3].key, "cx-set-3");
    assert_int_equal(cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows"
                                            " WHERE cancel_requested_by = 'parent:Flow/p-1'"),
                     2);
}

/* A run in its lazy window (the row read idle, nothing written) when the workflow is cancelled:
 * its first commit still applies (the step it ran is recorded) and reports the cancel. */
static void test_lazy_commit_applies_to_a_row_cancelled_in_its_window(void **state)
{
    (void)state;
    int64_t id = make_in("cx-lazy", CF_WS_HALT, NULL);
    int64_t fence =
        cf_test_sql_int(admin, "SELECT fence FROM chrono_forge_workflows WHERE key = 'cx-lazy'");
    cf_cancel_req req = req_of(NULL, 0);
    cf_cancel_result res;
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-lazy", &req, &res), CF_OK);
    cf_ws_lazy lz = {
        .wf_class = "Flow", .key = "cx-lazy", .lock_value = "w/9", .fence_read = fence};
    cf_ws_step s = {.name = "durably_execute$b", .state = CF_STEP_COMPLETED, .attempts = 1};
    bool cx = false;
    cf_write_set ws = {.workflow_id = id,
                       .steps = &s,
                       .nsteps = 1,
                       .outcome = CF_WS_CONTINUE,
                       .attempt = -1,
                       .lazy = &lz,
                       .cancel_out = &cx};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    assert_true(cx);
    assert_string_equal(state_of("cx-lazy"), "running");
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_execution_logs l JOIN"
                               " chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key ="
                               " 'cx-lazy' AND l.step_name = 'durably_execute$b'"),
        1);
}

static void test_requeue_cleanup_and_sweep(void **state)
{
    (void)state;
    make_in("cx-clean", CF_WS_HALT, NULL);
    cf_cancel_req req = req_of("bye", 0);
    cf_cancel_result res;
    assert_int_equal(cf_store_requeue_cleanup(st_, "Flow", "cx-clean", &req, &res), CF_OK);
    assert_false(res.accepted); /* idle: not cancelled */
    assert_string_equal(res.code, "idle");
    assert_int_equal(cf_store_cancel(st_, "Flow", "cx-clean", &req, &res), CF_OK);
    /* the sweeper sees it overdue (grace 0) */
    cf_wf_ref_list rows = {0};
    assert_int_equal(cf_store_sweep_overdue(st_, 0, 100, NULL, 0, &rows), CF_OK);
    bool seen = false;
    for (size_t i = 0; i < rows.n; i++)
        seen = seen || strcmp(rows.rows[i].key, "cx-clean") == 0;
    assert_true(seen);
    cf_wf_ref_list_deinit(&rows);
    /* the cleanup step exhausts its policy: cancelled with its failed step */
    cf_wf_row r;
    assert_int_equal(begin("cx-clean", "w/2", &r), CF_OK);
    json_t *meta = json_pack("{s{si}}", "retry_counts", "default", 3);
    cf_ws_step s = {.name = "on_cancel$undo",
                    .state = CF_STEP_FAILED,
                    .attempts = 3,
                    .metadata = meta,
                    .error_class = "Undo"};
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .steps = &s,
                       .nsteps = 1,
                       .outcome = CF_WS_CANCELLED,
                       .attempt = -1};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    json_decref(meta);
    cf_wf_row_deinit(&r);
    assert_string_equal(state_of("cx-clean"), "cancelled");
    assert_int_equal(cf_store_requeue_cleanup(st_, "Flow", "cx-clean", &req, &res), CF_OK);
    assert_true(res.accepted);
    assert_string_equal(state_of("cx-clean"), "cancelling");
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_execution_logs l JOIN"
                               " chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key ="
                               " 'cx-clean' AND l.step_name = 'on_cancel$undo'"
                               " AND NOT l.metadata ? 'retry_counts'"),
        1);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_execution_logs l JOIN"
                               " chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key ="
                               " 'cx-clean' AND l.step_name LIKE '$workflow_retry$%'"
                               " AND l.metadata->>'cleanup' = 'true'"),
        1);
    /* bulk selection: idle workflows without a request */
    make_in("cx-bulk", CF_WS_HALT, NULL);
    assert_int_equal(cf_store_select_cancellable(st_, "idle", "Flow", 0, 0, 1000, &rows), CF_OK);
    bool bulk = false, clean = false;
    for (size_t i = 0; i < rows.n; i++) {
        bulk = bulk || strcmp(rows.rows[i].key, "cx-bulk") == 0;
        clean = clean || strcmp(rows.rows[i].key, "cx-clean") == 0;
    }
    assert_true(bulk);
    assert_false(clean);
    cf_wf_ref_list_deinit(&rows);
    assert_int_equal(cf_store_select_cancellable(st_, "completed", NULL, 0, 0, 10, &rows),
                     CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_idle_and_stalled_become_cancelling_due_now),
        cmocka_unit_test(test_cancel_refusals_write_nothing),
        cmocka_unit_test(test_cancel_running_is_reported_by_its_next_commit),
        cmocka_unit_test(test_cancel_ids_judges_each),
        cmocka_unit_test(test_lazy_commit_applies_to_a_row_cancelled_in_its_window),
        cmocka_unit_test(test_requeue_cleanup_and_sweep),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_cancel", tests, group_setup, group_teardown);
}
