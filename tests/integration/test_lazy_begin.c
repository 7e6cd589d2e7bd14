// SPDX-License-Identifier: MIT
/* tests/integration/test_lazy_begin.c: the lazy begin (docs/healing.md, "lazy window") through
 * worker/executor and the store, against the real Redis and Postgres: a one-step workflow costs
 * one commit; the compare-and-set refuses a stale run, and a busy delivery's idle row does not
 * make it fail; a run whose lock is taken over from a dead worker's tombstone counts the crash,
 * and three such crashes in a row stall the workflow (Worker.CrashLoop), the first of them
 * inside a lazy window Postgres never saw; retry_workflow deliveries and runs older than the
 * bound take the durable begin. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "chronoforge.h"
#include "common/buf.h"
#include "common/clock.h"
#include "engine/run.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/heartbeat.h"
#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/recovery.h"
#include "queue/redis_conn.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"
#include "worker/config.h"
#include "worker/executor.h"

#define WORKER   "wlive"
#define LEASE_MS 300

static char dsn[512];
static cf_store *st_;
static PGconn *admin;
static cf_queue *q_;
static cf_redis *r_;
static cf_config cfg;
static cf_worker_stats stats;
static atomic_bool stopping;
static atomic_int body_runs, blocked_in_body;
static atomic_bool release_bodies;
static atomic_bool saw_lazy;       /* the last body ran with its begin still lazy */
static atomic_int saw_crash_count; /* and this crash_count */
static char takeover_key[64];      /* Takeover: the key whose row another run begins */

/* One no-op body: records how it began. */
static cf_flow one(cf_run *run)
{
    atomic_store(&saw_lazy, run->lazy_open);
    atomic_store(&saw_crash_count, run->row.crash_count);
    atomic_fetch_add(&body_runs, 1);
    return CF_FLOW_OK;
}

/* Blocks until release_bodies: a worker that dies mid-pass (its thread is abandoned; its
 * worker id stops beating and is recovered). */
static cf_flow stuck(cf_run *run)
{
    atomic_store(&saw_lazy, run->lazy_open);
    atomic_fetch_add(&blocked_in_body, 1);
    while (!atomic_load(&release_bodies))
        cf_clock_sleep_ms(5, NULL);
    return CF_FLOW_OK;
}

/* While this run is in its lazy window, another run begins the same workflow durably. */
static cf_flow overtaken(cf_run *run)
{
    atomic_store(&saw_lazy, run->lazy_open);
    cf_wf_row row;
    cf_run_begin_args a = {.wf_class = "Takeover", .key = takeover_key, .lock_value = "other/r1"};
    assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_OK);
    cf_wf_row_deinit(&row);
    return CF_FLOW_OK;
}

static cf_flow step_fn(cf_run *run, void *arg)
{
    (void)arg;
    atomic_store(&saw_lazy, run->lazy_open);
    return CF_FLOW_OK;
}

/* Outlives the bound before its step. */
static cf_flow slow(cf_run *run)
{
    cf_clock_sleep_ms(30, NULL);
    CF_TRY(cf_durably_execute(run, "s1", step_fn, NULL, NULL));
    return CF_FLOW_OK;
}

static int group_setup(void **state)
{
    (void)state;
    cf_store_config sc = {.max_connections = 4};
    cf_test_store_setup(dsn, sizeof dsn, &sc, &st_, &admin);
    cf_error e;
    assert_int_equal(cf_config_load(&cfg, &e), CF_OK);
    static const cf_workflow_def defs[] = {
        {.name = "One", .fn = one},
        {.name = "Stuck", .fn = stuck},
        {.name = "Takeover", .fn = overtaken},
        {.name = "Slow", .fn = slow},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        assert_int_equal(cf_register(&defs[i]), 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cf_test_store_teardown(st_, admin);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    cf_test_prefix(cfg.prefix, sizeof cfg.prefix);
    cfg.lazy_begin_ms = 2000;
    cfg.lease_ms = 10000;
    q_ = cf_test_queue_open(cfg.prefix, WORKER);
    r_ = cf_queue_redis(q_);
    atomic_store(&body_runs, 0);
    atomic_store(&blocked_in_body, 0);
    atomic_store(&release_bodies, false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_queue_free(q_);
    return 0;
}

static cf_executor executor(const char *worker_id, cf_queue *q)
{
    return (cf_executor){.cfg = &cfg,
                         .worker_id = worker_id,
                         .queue = q,
                         .store = st_,
                         .stopping = &stopping,
                         .stats = &stats};
}

static void redis_ok(int argc, const char **argv, size_t *lens)
{
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r_, argc, argv, lens, &rep), CF_OK);
    cf_reply_free(rep);
}

/* Puts raw into worker_id's in-flight list of queue "default", as a fetch would. */
static void in_flight(const char *worker_id, const cf_buf *raw)
{
    char key[CF_KEY_MAX];
    cf_key_inflight(key, sizeof key, cfg.prefix, "default", worker_id);
    redis_ok(3, (const char *[]){"LPUSH", key, raw->data}, (size_t[]){5, strlen(key), raw->len});
}

/* Moves the head of ready to worker_id's in-flight list (a fetch); false when ready is empty. */
static bool fetch_to(const char *worker_id)
{
    char rk[CF_KEY_MAX], ik[CF_KEY_MAX];
    cf_key_ready(rk, sizeof rk, cfg.prefix, "default");
    cf_key_inflight(ik, sizeof ik, cfg.prefix, "default", worker_id);
    const char *a[5] = {"LMOVE", rk, ik, "RIGHT", "LEFT"};
    size_t l[5] = {5, strlen(rk), strlen(ik), 5, 4};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r_, 5, a, l, &rep), CF_OK);
    bool moved = rep->type == CF_REPLY_STRING;
    cf_reply_free(rep);
    return moved;
}

static void job(cf_buf *raw, const char *cls, const char *key)
{
    cf_envelope env;
    assert_int_equal(cf_envelope_init_job(&env, cls, key, NULL, NULL), CF_OK);
    env.kwargs = json_pack("{si}", "n", 1);
    assert_int_equal(cf_envelope_encode(&env, raw), CF_OK);
    cf_envelope_deinit(&env);
}

/* One column of the (cls, key) row as text; "" when there is no row. */
static void column(const char *cls, const char *key, const char *col, char *out, size_t cap)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT %s::text FROM chrono_forge_workflows WHERE job_class = $1 AND key = $2", col);
    const char *vals[2] = {cls, key};
    PGresult *res = PQexecParams(admin, sql, 2, NULL, vals, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s",
             PQntuples(res) && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
}

static void assert_column(const char *cls, const char *key, const char *col, const char *want)
{
    char got[512];
    column(cls, key, col, got, sizeof got);
    assert_string_equal(got, want);
}

/* Durable commits so far (writer batches that wrote; a lazy begin's read alone is none). */
static int64_t batches(void)
{
    cf_store_stats s;
    cf_store_get_stats(st_, &s);
    return s.durable_commits;
}

/* A new one-step workflow at c=1: one commit (one writer batch), not two. */
static void test_one_step_commits_once(void **state)
{
    (void)state;
    cf_executor ex = executor(WORKER, q_);
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof key, "once-%d", i);
        cf_buf raw = CF_BUF_INIT;
        job(&raw, "One", key);
        in_flight(WORKER, &raw);
        int64_t b0 = batches();
        cf_executor_handle(&ex, "default", raw.data, raw.len);
        assert_int_equal(batches() - b0, 1);
        assert_true(atomic_load(&saw_lazy));
        assert_column("One", key, "state", "completed");
        assert_column("One", key, "fence", "1");
        assert_column("One", key, "locked_by", "");
        assert_column("One", key, "kwargs", "{\"n\": 1}");
        cf_buf_deinit(&raw);
    }
    /* A second delivery of the completed workflow reads it and runs nothing. */
    cf_buf raw = CF_BUF_INIT;
    job(&raw, "One", "once-0");
    in_flight(WORKER, &raw);
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_int_equal(atomic_load(&body_runs), 3);
    cf_buf_deinit(&raw);
    /* An idle workflow's wake (a continuation): lazy too, by compare-and-set on the fence
     * read, one commit. */
    cf_wf_row row;
    cf_run_begin_args a = {.wf_class = "One", .key = "idle-1", .lock_value = "other/r1"};
    assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_OK);
    cf_write_set halt = {.workflow_id = row.id, .fence = row.fence, .outcome = CF_WS_HALT};
    assert_int_equal(cf_store_commit(st_, &halt), CF_OK);
    cf_wf_row_deinit(&row);
    cf_buf cont = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode_continuation("One", "idle-1", "default", &cont), CF_OK);
    in_flight(WORKER, &cont);
    int64_t c0 = batches();
    cf_executor_handle(&ex, "default", cont.data, cont.len);
    assert_int_equal(batches() - c0, 1);
    assert_true(atomic_load(&saw_lazy));
    assert_column("One", "idle-1", "state", "completed");
    assert_column("One", "idle-1", "fence", "2");
    assert_column("One", "idle-1", "locked_by", "");
    cf_buf_deinit(&cont);
    /* With the setting at 0, every run takes the durable begin: two commits. */
    cfg.lazy_begin_ms = 0;
    job(&raw, "One", "durable-1");
    in_flight(WORKER, &raw);
    int64_t b0 = batches();
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_int_equal(batches() - b0, 2);
    assert_false(atomic_load(&saw_lazy));
    cf_buf_deinit(&raw);
}

/* The compare-and-set, at the store: refused for a stale read, for a row another run began
 * meanwhile, and not refused by the idle row a busy delivery's ensure made. */
static void test_store_lazy_compare_and_set(void **state)
{
    (void)state;
    cf_ws_step done = {.name = "s", .state = CF_STEP_COMPLETED, .attempts = 1};
    cf_ws_lazy lz = {.wf_class = "One", .key = "cas-1", .lock_value = WORKER "/r1"};
    cf_write_set ws = {.steps = &done, .nsteps = 1, .outcome = CF_WS_COMPLETE, .lazy = &lz};
    /* another run began it durably after our read of "no row": refused, nothing written */
    cf_wf_row row;
    cf_run_begin_args a = {.wf_class = "One", .key = "cas-1", .lock_value = "other/r1"};
    assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_OK);
    cf_wf_row_deinit(&row);
    assert_int_equal(cf_store_commit(st_, &ws), CF_ERR_CONFLICT);
    assert_column("One", "cas-1", "state", "running");
    assert_column("One", "cas-1", "locked_by", "other/r1");
    /* an idle row read at fence 3, then begun and halted by another run (fence 4): refused */
    json_t *kw = json_pack("{si}", "n", 2);
    assert_int_equal(cf_store_wf_ensure(st_, "One", "cas-2", NULL, kw, NULL, &row), CF_OK);
    cf_wf_row_deinit(&row);
    for (int i = 0; i < 3; i++) {
        a.key = "cas-2";
        assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_OK);
        cf_write_set halt = {.workflow_id = row.id, .fence = row.fence, .outcome = CF_WS_HALT};
        assert_int_equal(cf_store_commit(st_, &halt), CF_OK);
        cf_wf_row_deinit(&row);
    }
    lz.key = "cas-2";
    lz.fence_read = 3;
    a.key = "cas-2";
    assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_OK);
    cf_write_set halt = {.workflow_id = row.id, .fence = row.fence, .outcome = CF_WS_HALT};
    assert_int_equal(cf_store_commit(st_, &halt), CF_OK);
    ws.workflow_id = row.id; /* an existing row read: its id */
    cf_wf_row_deinit(&row);
    assert_int_equal(cf_store_commit(st_, &ws), CF_ERR_CONFLICT);
    assert_column("One", "cas-2", "state", "idle");
    assert_column("One", "cas-2", "fence", "4");
    /* read at the current fence: applied, fence + 1 */
    lz.fence_read = 4;
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    assert_int_equal(lz.fence_out, 5);
    assert_column("One", "cas-2", "state", "completed");
    assert_column("One", "cas-2", "fence", "5");
    /* no row when read; a busy delivery's ensure made the idle row since: taken over, with
     * the kwargs this run ran with */
    assert_int_equal(cf_store_wf_ensure(st_, "One", "cas-3", NULL, kw, NULL, &row), CF_OK);
    cf_wf_row_deinit(&row);
    json_t *mine = json_pack("{si}", "n", 3);
    ws.workflow_id = 0; /* no row read */
    lz =
        (cf_ws_lazy){.wf_class = "One", .key = "cas-3", .lock_value = WORKER "/r2", .kwargs = mine};
    assert_int_equal(cf_store_commit(st_, &ws), CF_OK);
    assert_true(lz.id_out > 0);
    assert_int_equal(lz.fence_out, 1);
    assert_column("One", "cas-3", "state", "completed");
    assert_column("One", "cas-3", "kwargs", "{\"n\": 3}");
    /* the same lazy write set again (a stale copy): refused */
    assert_int_equal(cf_store_commit(st_, &ws), CF_ERR_CONFLICT);
    json_decref(mine);
    json_decref(kw);
}

/* Through the executor: a lazy run overtaken by another run's begin writes nothing. */
static void test_stale_lazy_run_refused(void **state)
{
    (void)state;
    snprintf(takeover_key, sizeof takeover_key, "take-1");
    cf_buf raw = CF_BUF_INIT;
    job(&raw, "Takeover", "take-1");
    in_flight(WORKER, &raw);
    cf_executor ex = executor(WORKER, q_);
    int64_t conflicts = atomic_load(&stats.conflicts);
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_true(atomic_load(&saw_lazy));
    assert_int_equal(atomic_load(&stats.conflicts), conflicts + 1);
    assert_column("Takeover", "take-1", "state", "running");
    assert_column("Takeover", "take-1", "locked_by", "other/r1");
    assert_column("Takeover", "take-1", "fence", "1");
    cf_buf_deinit(&raw);
}

typedef struct dead_run {
    char id[32];
    cf_queue *q;
    cf_executor ex;
    cf_buf raw;
    pthread_t t;
} dead_run;

static void *dead_run_main(void *arg)
{
    dead_run *d = arg;
    char *env = NULL;
    /* the executor handles what this worker has in flight */
    char ik[CF_KEY_MAX];
    cf_key_inflight(ik, sizeof ik, cfg.prefix, "default", d->id);
    cf_queue *q = d->q;
    cf_reply *rep = NULL;
    const char *a[3] = {"LINDEX", ik, "0"};
    size_t l[3] = {6, strlen(ik), 1};
    if (cf_redis_exec(cf_queue_redis(q), 3, a, l, &rep) == CF_OK && rep->type == CF_REPLY_STRING)
        env = rep->str;
    if (env)
        cf_executor_handle(&d->ex, "default", env, rep->len);
    cf_reply_free(rep);
    return NULL;
}

static bool dead_recovered(void *arg)
{
    (void)arg;
    cf_recovery_stats s;
    return cf_recovery_run(q_, LEASE_MS, &s) == CF_OK && s.workers == 1;
}

/* Three workers in a row die mid-pass on one workflow: the first inside its lazy window (no
 * trace in Postgres), the next two after the durable begin their tombstone takeover asked for.
 * Each redelivery counts the crash; the fourth run stalls the workflow (Worker.CrashLoop). */
static void test_lazy_window_crashes_are_counted(void **state)
{
    (void)state;
    dead_run d[3];
    cf_buf raw = CF_BUF_INIT;
    job(&raw, "Stuck", "crash-1");
    const char *qs[1] = {"default"};
    assert_int_equal(cf_queues_register(q_, qs, 1), CF_OK); /* where recovery looks */
    for (int k = 0; k < 3; k++) {
        snprintf(d[k].id, sizeof d[k].id, "dead%d", k);
        d[k].q = cf_test_queue_open(cfg.prefix, d[k].id);
        d[k].ex = executor(d[k].id, d[k].q);
        assert_int_equal(cf_heartbeat_beat(d[k].q), CF_OK);
        if (k == 0)
            in_flight(d[k].id, &raw);
        else
            assert_true(fetch_to(d[k].id)); /* the recovered envelope */
        assert_int_equal(pthread_create(&d[k].t, NULL, dead_run_main, &d[k]), 0);
        while (atomic_load(&blocked_in_body) < k + 1)
            cf_clock_sleep_ms(5, NULL);
        char want[16];
        snprintf(want, sizeof want, "%d", k);
        if (k == 0) {
            assert_true(atomic_load(&saw_lazy));
            assert_column("Stuck", "crash-1", "state", ""); /* Postgres knows nothing */
        } else {
            assert_false(atomic_load(&saw_lazy)); /* the tombstone asked for a durable begin */
            assert_column("Stuck", "crash-1", "state", "running");
            assert_column("Stuck", "crash-1", "crash_count", want);
        }
        /* it stops beating: recovered after the lease, its lock left as a tombstone */
        assert_true(cf_test_wait_for(dead_recovered, NULL, 5000));
        cf_lock_holder h;
        assert_int_equal(cf_lock_inspect(q_, "Stuck", "crash-1", &h), CF_OK);
        assert_true(cf_lock_is_tombstone(h.value));
    }
    assert_true(fetch_to(WORKER));
    cf_executor live = executor(WORKER, q_);
    int64_t stalled = atomic_load(&stats.stalled);
    char ik[CF_KEY_MAX];
    cf_key_inflight(ik, sizeof ik, cfg.prefix, "default", WORKER);
    cf_reply *rep = NULL;
    const char *a[3] = {"LINDEX", ik, "0"};
    assert_int_equal(cf_redis_exec(r_, 3, a, (size_t[]){6, strlen(ik), 1}, &rep), CF_OK);
    assert_int_equal(rep->type, CF_REPLY_STRING);
    cf_executor_handle(&live, "default", rep->str, rep->len);
    cf_reply_free(rep);
    assert_int_equal(atomic_load(&stats.stalled), stalled + 1);
    assert_int_equal(atomic_load(&blocked_in_body), 3); /* the live run ran no body */
    assert_column("Stuck", "crash-1", "state", "stalled");
    const char *vals[1] = {"crash-1"};
    PGresult *res = PQexecParams(admin,
                                 "SELECT count(*) FROM chrono_forge_error_logs e"
                                 " JOIN chrono_forge_workflows w ON w.id = e.workflow_id"
                                 " WHERE w.key = $1 AND e.error_class = 'Worker.CrashLoop'",
                                 1, NULL, vals, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "1");
    PQclear(res);
    /* the dead runs wake up: stale, their writes are refused */
    atomic_store(&release_bodies, true);
    for (int k = 0; k < 3; k++) {
        pthread_join(d[k].t, NULL);
        cf_queue_free(d[k].q);
    }
    assert_column("Stuck", "crash-1", "state", "stalled");
    cf_buf_deinit(&raw);
}

/* retry_workflow deliveries and runs older than the bound take the durable begin. */
static void test_durable_begin_when_postgres_must_know(void **state)
{
    (void)state;
    cf_executor ex = executor(WORKER, q_);
    /* a failed workflow resumed by retry_workflow */
    cf_wf_row row;
    cf_run_begin_args a = {.wf_class = "One", .key = "retry-1", .lock_value = "other/r1"};
    json_t *kw = json_pack("{si}", "n", 1);
    a.kwargs = kw;
    assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_OK);
    cf_ws_error err = {.attempt = 1, .error_class = "E", .message = "m"};
    cf_write_set fail = {.workflow_id = row.id,
                         .fence = row.fence,
                         .errors = &err,
                         .nerrors = 1,
                         .outcome = CF_WS_FAIL};
    assert_int_equal(cf_store_commit(st_, &fail), CF_OK);
    cf_wf_row_deinit(&row);
    cf_envelope env;
    assert_int_equal(cf_envelope_init_job(&env, "One", "retry-1", NULL, NULL), CF_OK);
    env.retry_workflow = true;
    env.has_created_at = true;
    env.created_at = (double)cf_clock_unix_ms() / 1000.0;
    cf_buf raw = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(&env, &raw), CF_OK);
    in_flight(WORKER, &raw);
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_int_equal(atomic_load(&body_runs), 1);
    assert_false(atomic_load(&saw_lazy));
    assert_column("One", "retry-1", "state", "completed");
    cf_buf_deinit(&raw);
    cf_envelope_deinit(&env);
    /* a run that outlives the bound makes its begin durable before its next step */
    cfg.lazy_begin_ms = 10;
    job(&raw, "Slow", "slow-1");
    in_flight(WORKER, &raw);
    int64_t b0 = batches();
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_false(atomic_load(&saw_lazy)); /* inside the step: begun */
    assert_int_equal(batches() - b0, 2);
    assert_column("Slow", "slow-1", "state", "completed");
    assert_column("Slow", "slow-1", "fence", "1");
    cf_buf_deinit(&raw);
    json_decref(kw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_step_commits_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_lazy_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_lazy_run_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_window_crashes_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_begin_when_postgres_must_know, setup,
                                        teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
