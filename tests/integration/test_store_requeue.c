// SPDX-License-Identifier: MIT
/* tests/integration/test_store_requeue.c: cf_store_requeue against a real Postgres: the
 * stalled|failed -> idle transition (due now, fresh budgets, attempt numbers kept), the
 * `$workflow_retry$<ms>` row and its metadata, idempotence of a retried request, refusals
 * (not found, not resumable, ambiguous key, bad arguments) that write nothing, and a requeued
 * workflow that begins as a plain run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/migrate.h"
#include "store/requeue.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

static char dsn[512];
static cf_store *st_;
static PGconn *admin;

/* text of the first column of the first row ("" when NULL or none); caller frees. */
static char *text(const char *sql_text)
{
    PGresult *r = PQexec(admin, sql_text);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql_text, PQerrorMessage(admin));
    char *v = strdup(PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

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

static cf_status begin(const char *cls, const char *key, const char *lock, cf_wf_row *row)
{
    cf_run_begin_args a = {.wf_class = cls, .key = key, .lock_value = lock};
    return cf_store_run_begin(st_, &a, row);
}

/* make_ended creates cls/key and ends its first run with outcome (STALL or FAIL) after a
 * step that used up its budget (metadata retry_counts) and a workflow-level retry count. */
static int64_t make_ended(const char *cls, const char *key, cf_ws_outcome outcome)
{
    cf_wf_row r;
    assert_int_equal(begin(cls, key, "w/1", &r), CF_OK);
    json_t *meta = json_pack("{s{si}s{si}}", "retry_counts", "default", 3, "keep", "x", 1);
    cf_ws_step step = {.name = "durably_execute$pay",
                       .state = CF_STEP_FAILED,
                       .attempts = 3,
                       .metadata = meta,
                       .error_class = "Net.Timeout",
                       .error_message = "slow"};
    cf_ws_error err = {.step_name = outcome == CF_WS_FAIL ? NULL : "durably_execute$pay",
                       .attempt = 3,
                       .error_class = "Net.Timeout",
                       .message = "slow"};
    json_t *rc = json_pack("{si}", "Net", 2);
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .steps = &step,
                       .nsteps = 1,
                       .errors = &err,
                       .nerrors = 1,
                       .outcome = outcome,
                       .attempt = 2,
                       .retry_counts = rc};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    json_decref(meta);
    json_decref(rc);
    int64_t id = r.id;
    cf_wf_row_deinit(&r);
    return id;
}

static void test_requeue_stalled_becomes_idle_due_now_with_row(void **state)
{
    (void)state;
    int64_t id = make_ended("Flow", "rq-1", CF_WS_STALL);
    cf_requeue_req req = {
        .requested_by = "alice@host1", .reason = "provider fixed", .requested_at_ms = 0};
    cf_requeue_result res;
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-1", &req, &res), CF_OK);
    assert_int_equal(res.workflow_id, id);
    assert_int_equal(res.previous_state, CF_WF_STALLED);
    assert_string_equal(res.queue, "default");
    assert_false(res.already_applied);
    assert_true(res.requested_at_ms > 0);

    cf_wf_row w;
    assert_int_equal(cf_store_find_id(st_, id, &w), CF_OK);
    assert_int_equal(w.state, CF_WF_IDLE);
    assert_true(w.next_wake_at_ms > 0); /* due now: healing republishes it if the wake is lost */
    assert_int_equal(json_object_size(w.retry_counts), 0);
    assert_int_equal(w.attempt, 2);
    assert_string_equal(w.locked_by, "");
    cf_wf_row_deinit(&w);

    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT metadata::text FROM chrono_forge_execution_logs WHERE workflow_id = %lld"
             " AND step_name = '$workflow_retry$%lld' AND state = 'completed'",
             (long long)id, (long long)res.requested_at_ms);
    char *meta_text = text(sql);
    json_t *meta = json_loads(meta_text, 0, NULL);
    assert_non_null(meta);
    assert_string_equal(json_string_value(json_object_get(meta, "previous_state")), "stalled");
    assert_string_equal(json_string_value(json_object_get(meta, "requested_by")), "alice@host1");
    assert_string_equal(json_string_value(json_object_get(meta, "reason")), "provider fixed");
    const char *at = json_string_value(json_object_get(meta, "requested_at"));
    assert_non_null(at);
    assert_int_equal(strlen(at), 24); /* 2026-12-06T04:10:03.123Z */
    assert_int_equal(at[23], 'Z');
    assert_null(json_object_get(meta, "job_id"));
    json_decref(meta);
    free(meta_text);

    /* The failed step's budget is fresh; its other metadata and attempts stay. */
    cf_step_list l;
    assert_int_equal(cf_store_load_steps(st_, id, &l), CF_OK);
    const cf_step_row *pay = cf_step_list_find(&l, "durably_execute$pay");
    assert_non_null(pay);
    assert_null(json_object_get(pay->metadata, "retry_counts"));
    assert_non_null(json_object_get(pay->metadata, "keep"));
    assert_int_equal(pay->attempts, 3);
    cf_step_list_deinit(&l);

    /* The next delivery is a plain one: it begins the run. */
    cf_wf_row r;
    assert_int_equal(begin("Flow", "rq-1", "w/2", &r), CF_OK);
    assert_int_equal(r.state, CF_WF_RUNNING);
    assert_int_equal(json_object_size(r.retry_counts), 0); /* the budgets stay fresh */
    assert_int_equal(r.attempt, 2);
    cf_wf_row_deinit(&r);
}

static void test_requeue_failed_records_job_id_and_no_reason(void **state)
{
    (void)state;
    int64_t id = make_ended("Flow", "rq-2", CF_WS_FAIL);
    cf_requeue_req req = {
        .requested_by = "retry_later", .reason = "", .job_id = "abc123", .requested_at_ms = 0};
    cf_requeue_result res;
    assert_int_equal(cf_store_requeue(st_, NULL, "rq-2", &req, &res), CF_OK);
    assert_int_equal(res.previous_state, CF_WF_FAILED);
    assert_string_equal(res.wf_class, "Flow");
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT metadata::text FROM chrono_forge_execution_logs WHERE workflow_id = %lld"
             " AND step_name LIKE '$workflow\\_retry$%%'",
             (long long)id);
    char *meta_text = text(sql);
    json_t *meta = json_loads(meta_text, 0, NULL);
    assert_non_null(meta);
    assert_string_equal(json_string_value(json_object_get(meta, "previous_state")), "failed");
    assert_string_equal(json_string_value(json_object_get(meta, "job_id")), "abc123");
    assert_null(json_object_get(meta, "reason"));
    json_decref(meta);
    free(meta_text);
}

static void test_requeue_retried_request_is_idempotent(void **state)
{
    (void)state;
    int64_t id = make_ended("Flow", "rq-3", CF_WS_STALL);
    cf_requeue_req req = {.requested_by = "bob@h", .requested_at_ms = 1700000000123};
    cf_requeue_result res;
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-3", &req, &res), CF_OK);
    assert_false(res.already_applied);
    /* The same request again (its first reply was lost): recognised by its row. */
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-3", &req, &res), CF_OK);
    assert_true(res.already_applied);
    assert_int_equal(res.previous_state, CF_WF_STALLED);
    assert_int_equal(res.requested_at_ms, 1700000000123);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chrono_forge_execution_logs WHERE workflow_id = %lld"
             " AND step_name = '$workflow_retry$1700000000123'",
             (long long)id);
    assert_int_equal(cf_test_sql_int(admin, sql), 1);
    /* Another request meanwhile: the workflow is idle now, so it is refused. */
    cf_requeue_req other = {.requested_by = "carol@h"};
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-3", &other, &res), CF_ERR_STATE);
    assert_int_equal(res.previous_state, CF_WF_IDLE);
}

static void test_requeue_refusals_write_nothing(void **state)
{
    (void)state;
    cf_requeue_req req = {.requested_by = "ops@h"};
    cf_requeue_result res;
    char why[256];
    assert_int_equal(cf_store_requeue(st_, "Flow", "no-such", &req, &res), CF_ERR_NOT_FOUND);
    assert_int_equal(cf_store_requeue(st_, NULL, "no-such", &req, &res), CF_ERR_NOT_FOUND);

    cf_wf_row r;
    assert_int_equal(begin("Flow", "rq-run", "w/1", &r), CF_OK); /* running */
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-run", &req, &res), CF_ERR_STATE);
    assert_int_equal(res.previous_state, CF_WF_RUNNING);
    snprintf(why, sizeof why, "%s", cf_store_errstr(st_));
    assert_non_null(strstr(why, "running"));
    cf_write_set done = {
        .workflow_id = r.id, .fence = r.fence, .outcome = CF_WS_COMPLETE, .attempt = -1};
    assert_int_equal(cf_store_commit(st_, &done), CF_OK);
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-run", &req, &res), CF_ERR_STATE);
    assert_int_equal(res.previous_state, CF_WF_COMPLETED);
    cf_wf_row w;
    assert_int_equal(cf_store_find_id(st_, r.id, &w), CF_OK);
    assert_int_equal(w.state, CF_WF_COMPLETED);
    cf_wf_row_deinit(&w);
    cf_wf_row_deinit(&r);

    /* Idle (never ended) */
    assert_int_equal(cf_store_wf_ensure(st_, "Flow", "rq-idle", NULL, NULL, NULL, &w), CF_OK);
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-idle", &req, &res), CF_ERR_STATE);
    assert_int_equal(res.previous_state, CF_WF_IDLE);
    cf_wf_row_deinit(&w);

    /* A key two classes use needs the class. */
    make_ended("Flow", "rq-twice", CF_WS_STALL);
    make_ended("Other", "rq-twice", CF_WS_STALL);
    assert_int_equal(cf_store_requeue(st_, NULL, "rq-twice", &req, &res), CF_ERR_INVALID);
    assert_int_equal(cf_store_requeue(st_, "Other", "rq-twice", &req, &res), CF_OK);
    assert_string_equal(res.wf_class, "Other");

    /* Bad arguments. */
    cf_requeue_req nobody = {.requested_by = ""};
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-twice", &nobody, &res), CF_ERR_INVALID);
    char longreason[1100];
    memset(longreason, 'x', sizeof longreason - 1);
    longreason[sizeof longreason - 1] = '\0';
    cf_requeue_req chatty = {.requested_by = "ops@h", .reason = longreason};
    assert_int_equal(cf_store_requeue(st_, "Flow", "rq-twice", &chatty, &res), CF_ERR_INVALID);

    /* None of the refusals wrote a retry row: only the two successful requeues above did. */
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                               "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key IN "
                               "('rq-run', 'rq-idle', 'no-such') AND l.step_name LIKE "
                               "'$workflow\\_retry$%'"),
        0);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows WHERE key = 'rq-twice'"
                               " AND state = 'stalled'"),
        1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requeue_stalled_becomes_idle_due_now_with_row),
        cmocka_unit_test(test_requeue_failed_records_job_id_and_no_reason),
        cmocka_unit_test(test_requeue_retried_request_is_idempotent),
        cmocka_unit_test(test_requeue_refusals_write_nothing),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_requeue", tests, group_setup, group_teardown);
}
