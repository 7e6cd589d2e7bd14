// SPDX-License-Identifier: MIT
/* tests/integration/test_store.c: the store against a real Postgres: run begin (create, race,
 * guards, a requeue then a plain begin, crash counter), fencing of every write, write sets
 * (steps, context, markers, errors and their snapshot cap), one-query step loading counted by
 * the server, atomicity of a write set under a failure injected between its statements, and
 * concurrent runs taking over each other's workflows while their stale predecessors still
 * commit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/context.h"
#include "store/migrate.h"
#include "store/query.h"
#include "store/requeue.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

static char dsn[512];
static cf_store *st_;
static PGconn *admin;

static int group_setup(void **state)
{
    (void)state;
    cf_store_config cfg = {.max_connections = 4};
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

static void test_store_begin_creates_and_fences(void **state)
{
    (void)state;
    cf_wf_row r;
    json_t *kw = json_pack("{si}", "order", 42);
    cf_run_begin_args a = {
        .wf_class = "Order", .key = "k1", .queue = "billing", .lock_value = "w1/r1", .kwargs = kw};
    assert_int_equal(cf_store_run_begin(st_, &a, &r), CF_OK);
    assert_true(r.created);
    assert_int_equal(r.state, CF_WF_RUNNING);
    assert_string_equal(r.queue, "billing");
    assert_int_equal(r.fence, 1);
    assert_int_equal(r.crash_count, 0);
    assert_int_equal(json_integer_value(json_object_get(r.kwargs, "order")), 42);
    assert_string_equal(r.locked_by, "w1/r1");
    int64_t id = r.id;
    cf_wf_row_deinit(&r);
    json_decref(kw);
    /* A second begin while the first still holds it: a crashed run; fence and counter move. */
    assert_int_equal(begin("Order", "k1", "w2/r2", &r), CF_OK);
    assert_false(r.created);
    assert_int_equal(r.id, id);
    assert_int_equal(r.fence, 2);
    assert_int_equal(r.crash_count, 1);
    cf_wf_row_deinit(&r);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows WHERE key = 'k1'"), 1);
}

typedef struct race_arg {
    const char *key;
    bool use_begin;
    cf_status st;
    int64_t id;
    pthread_barrier_t *bar;
} race_arg;

static void *racer(void *p)
{
    race_arg *a = p;
    cf_wf_row r;
    pthread_barrier_wait(a->bar);
    a->st = a->use_begin ? begin("Race", a->key, "w/r", &r)
                         : cf_store_wf_ensure(st_, "Race", a->key, NULL, NULL, NULL, &r);
    a->id = r.id;
    cf_wf_row_deinit(&r);
    return NULL;
}

static void race(const char *key, bool use_begin)
{
    /* Two connections: a second store, so the two creators really are separate sessions. */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    race_arg a = {key, use_begin, CF_OK, 0, &bar}, b = a;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, racer, &a);
    pthread_create(&t2, NULL, racer, &b);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(a.st, CF_OK);
    assert_int_equal(b.st, CF_OK);
    assert_int_equal(a.id, b.id);
}

static void test_store_create_race_one_row(void **state)
{
    (void)state;
    char key[32], sql[128];
    for (int i = 0; i < cf_test_scale(20); i++) {
        snprintf(key, sizeof key, "race-%d", i);
        race(key, i % 2 == 0);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM chrono_forge_workflows WHERE job_class = 'Race' AND "
                 "key = '%s'",
                 key);
        assert_int_equal(cf_test_sql_int(admin, sql), 1);
    }
    cf_wf_row r;
    assert_int_equal(cf_store_wf_ensure(st_, "Race", "born-idle", NULL, NULL, NULL, &r), CF_OK);
    assert_true(r.created);
    assert_int_equal(r.state, CF_WF_IDLE);
    assert_int_equal(r.fence, 0);
    cf_wf_row_deinit(&r);
    assert_int_equal(cf_store_wf_ensure(st_, "Race", "born-idle", NULL, NULL, NULL, &r), CF_OK);
    assert_false(r.created);
    cf_wf_row_deinit(&r);
}

static void test_store_stale_fence_refused(void **state)
{
    (void)state;
    cf_wf_row old, cur;
    assert_int_equal(begin("Fence", "f1", "w1/a", &old), CF_OK);
    assert_int_equal(begin("Fence", "f1", "w2/b", &cur), CF_OK);
    json_t *ctx = json_pack("{ss}", "who", "stale");
    cf_ws_step step = {.name = "durably_execute$x", .state = CF_STEP_COMPLETED, .attempts = 1};
    cf_write_set ws = {.workflow_id = old.id,
                       .fence = old.fence,
                       .steps = &step,
                       .nsteps = 1,
                       .context = ctx,
                       .outcome = CF_WS_CONTINUE,
                       .attempt = -1};
    assert_int_equal(cf_store_commit(st_, &ws), CF_ERR_CONFLICT); /* step + context */
    ws.steps = NULL;
    ws.nsteps = 0;
    ws.outcome = CF_WS_COMPLETE; /* state + completion */
    assert_int_equal(cf_store_commit(st_, &ws), CF_ERR_CONFLICT);
    ws.outcome = CF_WS_HALT; /* release */
    ws.context = NULL;
    assert_int_equal(cf_store_commit(st_, &ws), CF_ERR_CONFLICT);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chrono_forge_execution_logs WHERE workflow_id = %lld",
             (long long)old.id);
    assert_int_equal(cf_test_sql_int(admin, sql), 0);
    cf_wf_row now;
    assert_int_equal(cf_store_find(st_, "Fence", "f1", &now), CF_OK);
    assert_int_equal(now.state, CF_WF_RUNNING);
    assert_string_equal(now.locked_by, "w2/b");
    assert_null(json_object_get(now.context, "who"));
    cf_wf_row_deinit(&now);
    /* The current fence still writes. */
    ws.fence = cur.fence;
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    json_decref(ctx);
    cf_wf_row_deinit(&old);
    cf_wf_row_deinit(&cur);
}

static void test_store_step_context_and_completion(void **state)
{
    (void)state;
    cf_wf_row r;
    assert_int_equal(begin("Flow", "c1", "w/1", &r), CF_OK);
    json_t *ctx = json_pack("{sisn}", "n", 1, "z");
    json_t *meta = json_pack("{ss}", "result", "ok");
    cf_ws_step step = {.name = "durably_execute$charge",
                       .state = CF_STEP_COMPLETED,
                       .attempts = 1,
                       .metadata = meta,
                       .started_at_ms = 1700000000000,
                       .completed_at_ms = 1700000000500};
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .steps = &step,
                       .nsteps = 1,
                       .context = ctx,
                       .outcome = CF_WS_CONTINUE,
                       .attempt = -1};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    cf_step_list l;
    assert_int_equal(cf_store_load_steps(st_, r.id, &l), CF_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.rows[0].state, CF_STEP_COMPLETED);
    assert_int_equal(l.rows[0].started_at_ms, 1700000000000);
    assert_string_equal(json_string_value(json_object_get(l.rows[0].metadata, "result")), "ok");
    cf_step_list_deinit(&l);
    cf_wf_row now;
    assert_int_equal(cf_store_find_id(st_, r.id, &now), CF_OK);
    assert_int_equal(json_integer_value(json_object_get(now.context, "n")), 1);
    assert_int_equal(now.state, CF_WF_RUNNING);
    cf_wf_row_deinit(&now);
    /* Completion: state, completed_at and the marker row in the same commit. */
    cf_write_set done = {
        .workflow_id = r.id, .fence = r.fence, .outcome = CF_WS_COMPLETE, .attempt = -1};
    assert_int_equal(cf_store_commit(st_, &done), CF_OK);
    assert_int_equal(cf_store_find_id(st_, r.id, &now), CF_OK);
    assert_int_equal(now.state, CF_WF_COMPLETED);
    assert_true(now.completed_at_ms > 0);
    assert_string_equal(now.locked_by, "");
    cf_wf_row_deinit(&now);
    assert_int_equal(cf_store_load_steps(st_, r.id, &l), CF_OK);
    assert_non_null(cf_step_list_find(&l, "$workflow_completion$"));
    cf_step_list_deinit(&l);
    /* Completed is not executable. */
    assert_int_equal(begin("Flow", "c1", "w/2", &now), CF_ERR_STATE);
    assert_int_equal(now.state, CF_WF_COMPLETED);
    cf_wf_row_deinit(&now);
    json_decref(ctx);
    json_decref(meta);
    cf_wf_row_deinit(&r);
}

/* A pass's last write set carries its last step and the marker that follows it: the timeline
 * (cf_store_show, what `chronoforge status` prints) lists them in that order, for completion
 * and for failure alike. */
static void test_store_timeline_marker_after_last_step(void **state)
{
    (void)state;
    for (int fail = 0; fail < 2; fail++) {
        char key[32];
        snprintf(key, sizeof key, "tl-%d", fail);
        cf_wf_row r;
        assert_int_equal(begin("Timeline", key, "w/1", &r), CF_OK);
        cf_ws_step steps[2] = {
            {.name = "durably_execute$first", .state = CF_STEP_COMPLETED, .attempts = 1},
            {.name = "durably_execute$last",
             .state = fail ? CF_STEP_FAILED : CF_STEP_COMPLETED,
             .attempts = 1},
        };
        cf_ws_error err = {.step_name = "durably_execute$last",
                           .attempt = 1,
                           .error_class = "Boom",
                           .message = "no"};
        cf_write_set ws = {.workflow_id = r.id,
                           .fence = r.fence,
                           .steps = steps,
                           .nsteps = 2,
                           .errors = fail ? &err : NULL,
                           .nerrors = fail ? 1 : 0,
                           .outcome = fail ? CF_WS_FAIL : CF_WS_COMPLETE,
                           .attempt = -1};
        assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
        cf_wf_detail d;
        assert_int_equal(cf_store_show(st_, "Timeline", key, 0, &d), CF_OK);
        assert_int_equal(d.steps.n, 3);
        assert_string_equal(d.steps.rows[0].name, "durably_execute$first");
        assert_string_equal(d.steps.rows[1].name, "durably_execute$last");
        assert_true(strncmp(d.steps.rows[2].name,
                            fail ? "$workflow_failure$" : "$workflow_completion$",
                            fail ? 18 : 21) == 0);
        cf_wf_detail_deinit(&d);
        cf_wf_row_deinit(&r);
    }
}

static void test_store_halt_sets_wake_and_releases(void **state)
{
    (void)state;
    cf_wf_row r;
    assert_int_equal(begin("Flow", "h1", "w/1", &r), CF_OK);
    cf_ws_step step = {.name = "wait$nap", .state = CF_STEP_PENDING, .attempts = 1};
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .steps = &step,
                       .nsteps = 1,
                       .outcome = CF_WS_HALT,
                       .next_wake_at_ms = 4102444800000,
                       .attempt = 2,
                       .retry_counts = json_pack("{si}", "Net", 1)};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    json_decref(ws.retry_counts);
    cf_wf_row now;
    assert_int_equal(cf_store_find_id(st_, r.id, &now), CF_OK);
    assert_int_equal(now.state, CF_WF_IDLE);
    assert_int_equal(now.next_wake_at_ms, 4102444800000);
    assert_int_equal(now.attempt, 2);
    assert_int_equal(json_integer_value(json_object_get(now.retry_counts, "Net")), 1);
    assert_string_equal(now.locked_by, "");
    cf_wf_row_deinit(&now);
    /* Next run: no crash counted (released), wake cleared. */
    assert_int_equal(begin("Flow", "h1", "w/2", &now), CF_OK);
    assert_int_equal(now.crash_count, 0);
    assert_int_equal(now.next_wake_at_ms, 0);
    assert_int_equal(now.fence, r.fence + 1);
    cf_wf_row_deinit(&now);
    cf_wf_row_deinit(&r);
}

static void test_store_fail_stall_and_requeue(void **state)
{
    (void)state;
    cf_wf_row r;
    assert_int_equal(begin("Flow", "s1", "w/1", &r), CF_OK);
    json_t *meta = json_pack("{s{si}}", "retry_counts", "default", 3);
    json_t *wf_counts = json_pack("{si}", "Boom", 2);
    cf_ws_step step = {.name = "durably_execute$pay",
                       .state = CF_STEP_FAILED,
                       .attempts = 3,
                       .metadata = meta,
                       .error_class = "Net.Timeout",
                       .error_message = "slow"};
    cf_ws_error err = {.step_name = "durably_execute$pay",
                       .attempt = 3,
                       .error_class = "Net.Timeout",
                       .message = "slow",
                       .backtrace = "a\nb"};
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .steps = &step,
                       .nsteps = 1,
                       .errors = &err,
                       .nerrors = 1,
                       .outcome = CF_WS_STALL,
                       .attempt = 2,
                       .retry_counts = wf_counts};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    json_decref(wf_counts);
    cf_wf_row now;
    assert_int_equal(begin("Flow", "s1", "w/2", &now), CF_ERR_STATE);
    assert_int_equal(now.state, CF_WF_STALLED);
    cf_wf_row_deinit(&now);
    /* A requeue (stalled -> idle), then a plain begin: running under the lock, with fresh
     * budgets for the workflow and its failed step; attempt numbers keep counting. */
    cf_requeue_req req = {.requested_by = "test"};
    cf_requeue_result rq;
    assert_int_equal(cf_store_requeue(st_, "Flow", "s1", &req, &rq), CF_OK);
    assert_int_equal(rq.previous_state, CF_WF_STALLED);
    assert_int_equal(begin("Flow", "s1", "w/3", &now), CF_OK);
    assert_int_equal(now.state, CF_WF_RUNNING);
    assert_int_equal(now.fence, r.fence + 1);
    assert_string_equal(now.locked_by, "w/3");
    assert_int_equal(now.crash_count, 0);
    assert_int_equal(json_object_size(now.retry_counts), 0);
    assert_int_equal(now.attempt, 2);
    cf_step_list l;
    assert_int_equal(cf_store_load_steps(st_, r.id, &l), CF_OK);
    const cf_step_row *pay = cf_step_list_find(&l, "durably_execute$pay");
    assert_non_null(pay);
    assert_null(json_object_get(pay->metadata, "retry_counts"));
    assert_int_equal(pay->attempts, 3);
    cf_step_list_deinit(&l);
    /* FAIL writes the failure marker naming its error log. */
    cf_ws_error werr = {.attempt = 1, .error_class = "Boom", .message = "outside steps"};
    cf_write_set fail = {.workflow_id = now.id,
                         .fence = now.fence,
                         .errors = &werr,
                         .nerrors = 1,
                         .outcome = CF_WS_FAIL,
                         .attempt = 1};
    assert_int_equal(cf_store_commit(st_, &fail), CF_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chrono_forge_execution_logs l JOIN chrono_forge_error_logs e"
             " ON l.step_name = '$workflow_failure$' || e.id AND (l.metadata->>'error_log_id')::"
             "bigint = e.id WHERE l.workflow_id = %lld AND e.error_class = 'Boom'",
             (long long)now.id);
    assert_int_equal(cf_test_sql_int(admin, sql), 1);
    cf_wf_detail d;
    assert_int_equal(cf_store_show(st_, "Flow", "s1", 0, &d), CF_OK);
    assert_int_equal(d.wf.state, CF_WF_FAILED);
    assert_int_equal(d.nerrors, 2);
    assert_int_equal(d.errors[0].attempt, 3);
    assert_string_equal(d.errors[0].backtrace, "a\nb");
    assert_null(d.errors[1].step_name);
    cf_wf_detail_deinit(&d);
    /* Malformed write sets are refused before reaching Postgres. */
    fail.nerrors = 0;
    assert_int_equal(cf_store_commit(st_, &fail), CF_ERR_INVALID);
    json_decref(meta);
    cf_wf_row_deinit(&now);
    cf_wf_row_deinit(&r);
}

static void test_store_error_snapshot_capped(void **state)
{
    (void)state;
    cf_wf_row r;
    assert_int_equal(begin("Flow", "snap", "w/1", &r), CF_OK);
    cf_context c;
    assert_int_equal(cf_context_init(&c, NULL), CF_OK);
    char *big = malloc(15001);
    memset(big, 'x', 15000);
    big[15000] = '\0';
    char k[16];
    for (int i = 0; i < 6; i++) { /* 6 x 15 KB = 90 KB > 64 KiB */
        snprintf(k, sizeof k, "k%d", i);
        json_t *v = json_string(big);
        assert_int_equal(cf_context_set(&c, k, v), CF_OK);
        json_decref(v);
    }
    json_t *small = json_integer(7);
    assert_int_equal(cf_context_set(&c, "small", small), CF_OK);
    json_decref(small);
    cf_ws_error err = {.attempt = 1, .error_class = "E", .message = "m"};
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .errors = &err,
                       .nerrors = 1,
                       .context = c.doc,
                       .outcome = CF_WS_CONTINUE,
                       .attempt = -1};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT octet_length(context::text) FROM chrono_forge_error_logs "
             "WHERE workflow_id = %lld",
             (long long)r.id);
    int64_t n = cf_test_sql_int(admin, sql);
    assert_true(n > 50000 && n <= 65536 + 1024); /* jsonb text adds a space per entry */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chrono_forge_error_logs WHERE workflow_id = %lld AND "
             "context->>'k5' = '<<omitted>>' AND context->>'small' = '7'",
             (long long)r.id);
    assert_int_equal(cf_test_sql_int(admin, sql), 1);
    free(big);
    cf_context_deinit(&c);
    cf_wf_row_deinit(&r);
}

static void test_store_thousand_steps_one_query(void **state)
{
    (void)state;
    cf_wf_row r;
    assert_int_equal(begin("Long", "l1", "w/1", &r), CF_OK);
    cf_ws_step steps[CF_WS_MAX_STEPS];
    char names[CF_WS_MAX_STEPS][48];
    for (int i = 0; i < CF_WS_MAX_STEPS; i++) {
        snprintf(names[i], sizeof names[i], "durably_execute$s%d", i);
        steps[i] = (cf_ws_step){.name = names[i], .state = CF_STEP_COMPLETED, .attempts = 1};
    }
    cf_ws_step rep[2] = {{.name = "durably_repeat$tick", .state = CF_STEP_PENDING, .attempts = 1},
                         {.name = "durably_repeat$tick$1700000000000", .state = CF_STEP_COMPLETED}};
    cf_write_set ws = {.workflow_id = r.id,
                       .fence = r.fence,
                       .steps = steps,
                       .nsteps = CF_WS_MAX_STEPS,
                       .outcome = CF_WS_CONTINUE,
                       .attempt = -1};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    ws.steps = rep;
    ws.nsteps = 2;
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    cf_test_sql_exec(admin, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    cf_test_sql_exec(admin, "SELECT pg_stat_statements_reset()");
    cf_step_list l;
    assert_int_equal(cf_store_load_steps(st_, r.id, &l), CF_OK);
    assert_int_equal(l.n, CF_WS_MAX_STEPS + 1); /* the repetition row is left out */
    assert_null(cf_step_list_find(&l, "durably_repeat$tick$1700000000000"));
    cf_step_list_deinit(&l);
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN "
                        "pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() "
                        "AND s.query ILIKE '%chrono_forge_execution_logs%' AND s.query NOT "
                        "ILIKE '%pg_stat_statements%'"),
        1);
    cf_wf_row_deinit(&r);
}

typedef struct commit_arg {
    cf_write_set ws;
    cf_status st;
    pthread_barrier_t *bar;
} commit_arg;

static void *committer(void *p)
{
    commit_arg *a = p;
    pthread_barrier_wait(a->bar);
    a->st = cf_store_commit(st_, &a->ws);
    return NULL;
}

static void test_store_write_set_atomic_under_injected_failure(void **state)
{
    (void)state;
    /* The step insert fails after the workflow update ran: nothing of that write set may stay,
     * and the other runs' write sets sharing its commit must still apply. */
    cf_test_sql_exec(
        admin, "CREATE FUNCTION cf_test_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
               "NEW.step_name = 'durably_execute$boom' THEN RAISE EXCEPTION 'injected' USING "
               "ERRCODE = '22023'; END IF; RETURN NEW; END $$");
    cf_test_sql_exec(
        admin, "CREATE TRIGGER cf_test_boom BEFORE INSERT OR UPDATE ON chrono_forge_execution_logs "
               "FOR EACH ROW EXECUTE FUNCTION cf_test_boom()");
    enum { N = 8 };
    cf_wf_row rows[N];
    commit_arg args[N];
    pthread_t th[N];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N);
    /* One context per run, as in the worker: a write set's JSON belongs to its run, and
     * encoding takes references (jansson's json_incref reads the count without an atomic, so
     * one value shared by concurrent commits is a data race; make tsan found it here). */
    json_t *ctx[N];
    cf_ws_step ok_step = {
        .name = "durably_execute$fine", .state = CF_STEP_COMPLETED, .attempts = 1};
    cf_ws_step bad_step = {
        .name = "durably_execute$boom", .state = CF_STEP_COMPLETED, .attempts = 1};
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "atom-%d", i);
        assert_int_equal(begin("Atom", key, "w/1", &rows[i]), CF_OK);
        ctx[i] = json_pack("{ss}", "saved", "yes");
        args[i] = (commit_arg){.ws = {.workflow_id = rows[i].id,
                                      .fence = rows[i].fence,
                                      .steps = i == 3 ? &bad_step : &ok_step,
                                      .nsteps = 1,
                                      .context = ctx[i],
                                      .outcome = CF_WS_CONTINUE,
                                      .attempt = -1},
                               .bar = &bar};
    }
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, committer, &args[i]);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(args[i].st, i == 3 ? CF_ERR_INVALID : CF_OK);
        cf_wf_row now;
        assert_int_equal(cf_store_find_id(st_, rows[i].id, &now), CF_OK);
        assert_int_equal(json_object_get(now.context, "saved") != NULL, i != 3);
        cf_wf_row_deinit(&now);
        cf_step_list l;
        assert_int_equal(cf_store_load_steps(st_, rows[i].id, &l), CF_OK);
        assert_int_equal(l.n, i == 3 ? 0 : 1);
        cf_step_list_deinit(&l);
        cf_wf_row_deinit(&rows[i]);
    }
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < N; i++)
        json_decref(ctx[i]);
    cf_test_sql_exec(admin, "DROP TRIGGER cf_test_boom ON chrono_forge_execution_logs");
}

/* Runs taking over each other's workflows while their stale predecessors still commit, in
 * small shared batches. Every call is answered, a stale fence writes nothing, and each
 * workflow's fence counts exactly the begins made on it. */
enum { CONTEND_THREADS = 8, CONTEND_WFS = 3 };
typedef struct contend_arg {
    cf_store *s;
    int t, iters;
    int begins[CONTEND_WFS];
    int ok, conflicts, other;
    int64_t ids[CONTEND_WFS];
} contend_arg;

static void *contender(void *p)
{
    contend_arg *a = p;
    for (int i = 0; i < a->iters; i++) {
        int k = (i + a->t) % CONTEND_WFS;
        char key[32], lock[32], name[64];
        snprintf(key, sizeof key, "contend-%d", k);
        snprintf(lock, sizeof lock, "w%d/%d", a->t, i);
        cf_wf_row r;
        cf_run_begin_args b = {.wf_class = "Contend", .key = key, .lock_value = lock};
        cf_status st = cf_store_run_begin(a->s, &b, &r);
        if (st != CF_OK) {
            a->other++;
            continue;
        }
        a->begins[k]++;
        a->ids[k] = r.id;
        snprintf(name, sizeof name, "durably_execute$t%d_%d", a->t, i);
        cf_ws_step step = {.name = name, .state = CF_STEP_COMPLETED, .attempts = 1};
        json_t *ctx = json_pack("{si}", "i", i);
        cf_write_set ws = {.workflow_id = r.id,
                           .fence = r.fence,
                           .steps = &step,
                           .nsteps = 1,
                           .context = ctx,
                           .outcome = CF_WS_CONTINUE,
                           .attempt = -1};
        st = cf_store_commit(a->s, &ws);
        if (st == CF_OK)
            a->ok++;
        else if (st == CF_ERR_CONFLICT)
            a->conflicts++;
        else
            a->other++;
        json_decref(ctx);
        cf_wf_row_deinit(&r);
    }
    return NULL;
}

static void test_store_writers_contend_on_stale_runs(void **state)
{
    (void)state;
    /* Small batches: a begin and a stale run's commit of one workflow often share a commit. */
    cf_store_config cfg = {.dsn = dsn, .max_connections = 4, .batch_max = 4};
    cf_store *s;
    cf_error err = {0};
    assert_int_equal(cf_store_open(&cfg, &s, &err), CF_OK);
    contend_arg args[CONTEND_THREADS];
    pthread_t th[CONTEND_THREADS];
    for (int t = 0; t < CONTEND_THREADS; t++) {
        args[t] = (contend_arg){.s = s, .t = t, .iters = cf_test_scale(40)};
        pthread_create(&th[t], NULL, contender, &args[t]);
    }
    int ok = 0, conflicts = 0, begins[CONTEND_WFS] = {0};
    int64_t ids[CONTEND_WFS] = {0};
    for (int t = 0; t < CONTEND_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].other, 0);
        ok += args[t].ok;
        conflicts += args[t].conflicts;
        for (int k = 0; k < CONTEND_WFS; k++) {
            begins[k] += args[t].begins[k];
            if (args[t].ids[k])
                ids[k] = args[t].ids[k];
        }
    }
    assert_int_equal(ok + conflicts, CONTEND_THREADS * cf_test_scale(40));
    char sql[200];
    for (int k = 0; k < CONTEND_WFS; k++) {
        cf_wf_row now;
        assert_int_equal(cf_store_find_id(s, ids[k], &now), CF_OK);
        assert_int_equal(now.fence, begins[k]);
        cf_wf_row_deinit(&now);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w "
             "ON w.id = l.workflow_id WHERE w.job_class = 'Contend'");
    assert_int_equal(cf_test_sql_int(admin, sql),
                     ok); /* every accepted write set, and only those */
    cf_store_close(s);
}

static void test_store_operator_queries(void **state)
{
    (void)state;
    cf_wf_row r;
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "q-%d", i);
        assert_int_equal(cf_store_wf_ensure(st_, "Query", key, NULL, NULL, NULL, &r), CF_OK);
        cf_wf_row_deinit(&r);
    }
    cf_wf_list_filter f = {.wf_class = "Query", .state = "idle", .limit = 2};
    cf_wf_list page;
    int seen = 0;
    do {
        assert_int_equal(cf_store_list(st_, &f, &page), CF_OK);
        seen += (int)page.n;
        f.after_id = page.next_after_id;
        cf_wf_list_deinit(&page);
    } while (f.after_id);
    assert_int_equal(seen, 5);
    cf_state_counts c;
    assert_int_equal(cf_store_count_by_state(st_, "Query", &c), CF_OK);
    assert_int_equal(c.by_state[CF_WF_IDLE], 5);
    assert_int_equal(c.by_state[CF_WF_RUNNING], 0);
    f.state = "bogus";
    assert_int_equal(cf_store_list(st_, &f, &page), CF_ERR_INVALID);
    assert_int_equal(cf_store_find(st_, NULL, "q-1", &r), CF_OK);
    cf_wf_row_deinit(&r);
    assert_int_equal(cf_store_wf_ensure(st_, "Other", "q-1", NULL, NULL, NULL, &r), CF_OK);
    cf_wf_row_deinit(&r);
    assert_int_equal(cf_store_find(st_, NULL, "q-1", &r), CF_ERR_INVALID);
    assert_int_equal(cf_store_find(st_, NULL, "nope", &r), CF_ERR_NOT_FOUND);
    cf_wf_ref_list refs;
    assert_int_equal(cf_store_sweep_running(st_, 0, 100, NULL, 0, &refs), CF_OK);
    assert_true(refs.n > 0);
    assert_non_null(refs.rows[0].locked_by);
    cf_wf_ref_list_deinit(&refs);
    cf_test_sql_exec(admin,
                     "UPDATE chrono_forge_workflows SET next_wake_at = now() - interval '1 hour' "
                     "WHERE job_class = 'Query' AND key = 'q-2'");
    assert_int_equal(cf_store_sweep_overdue(st_, 60000, 10, NULL, 0, &refs), CF_OK);
    assert_int_equal(refs.n, 1);
    assert_string_equal(refs.rows[0].key, "q-2");
    cf_wf_ref_list_deinit(&refs);
}

/* Error messages belong to the store and the thread a call was made on: a failure on one
 * store is not reported by another store in the same process, nor by another thread on the
 * same store, and the next successful call on it clears it. */
typedef struct errstr_probe {
    cf_store *s;
    char seen[256];
} errstr_probe;

static void *read_errstr(void *arg)
{
    errstr_probe *p = arg;
    snprintf(p->seen, sizeof p->seen, "%s", cf_store_errstr(p->s));
    return NULL;
}

static void test_store_errstr_per_store_and_thread(void **state)
{
    (void)state;
    cf_store_config cfg = {.dsn = dsn, .max_connections = 2};
    cf_store *other = NULL;
    cf_error err = {0};
    assert_int_equal(cf_store_open(&cfg, &other, &err), CF_OK);
    cf_wf_list_filter bad = {.state = "no-such-state"};
    cf_wf_list page;
    assert_int_equal(cf_store_list(st_, &bad, &page), CF_ERR_INVALID);
    assert_non_null(strstr(cf_store_errstr(st_), "unknown state"));
    assert_string_equal(cf_store_errstr(other), "");
    errstr_probe p = {.s = st_};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_errstr, &p), 0);
    pthread_join(t, NULL);
    assert_string_equal(p.seen, "");
    /* the other store's failure is its own */
    cf_wf_row row;
    assert_int_equal(cf_store_find(other, "NoClass", "no-such-key", &row), CF_ERR_NOT_FOUND);
    assert_non_null(strstr(cf_store_errstr(other), "no such workflow"));
    assert_non_null(strstr(cf_store_errstr(st_), "unknown state"));
    /* a success clears the message of its store only */
    cf_wf_list_filter good = {.limit = 1};
    assert_int_equal(cf_store_list(st_, &good, &page), CF_OK);
    cf_wf_list_deinit(&page);
    assert_string_equal(cf_store_errstr(st_), "");
    assert_non_null(strstr(cf_store_errstr(other), "no such workflow"));
    cf_store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_begin_creates_and_fences),
        cmocka_unit_test(test_store_create_race_one_row),
        cmocka_unit_test(test_store_stale_fence_refused),
        cmocka_unit_test(test_store_step_context_and_completion),
        cmocka_unit_test(test_store_timeline_marker_after_last_step),
        cmocka_unit_test(test_store_halt_sets_wake_and_releases),
        cmocka_unit_test(test_store_fail_stall_and_requeue),
        cmocka_unit_test(test_store_error_snapshot_capped),
        cmocka_unit_test(test_store_thousand_steps_one_query),
        cmocka_unit_test(test_store_write_set_atomic_under_injected_failure),
        cmocka_unit_test(test_store_writers_contend_on_stale_runs),
        cmocka_unit_test(test_store_operator_queries),
        cmocka_unit_test(test_store_errstr_per_store_and_thread),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store", tests, group_setup, group_teardown);
}
