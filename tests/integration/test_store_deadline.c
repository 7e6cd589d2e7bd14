// SPDX-License-Identifier: MIT
/* tests/integration/test_store_deadline.c: a Postgres that stops answering without closing
 * (its backend process SIGSTOPped, as a wedged backend or a stopped host would behave) never
 * hangs a store call: commits in flight return within a bound derived from io_timeout_ms,
 * with an unknown-outcome status or their resolved result; nothing is lost or applied twice;
 * a read whose backend stopped is answered on a fresh connection; and a query on a plain
 * connection (the schema check) gives up at its deadline. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "store/migrate.h"
#include "store/pg.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"

enum { IO_TIMEOUT_MS = 1500, STMT_TIMEOUT_MS = 1000, CONNECT_TIMEOUT_MS = 2000, N = 8 };

/* The longest a call may take: the first wait, the read-back's bound (the longer of the io and
 * statement timeouts), reconnects, and the same again for a request that waited behind that
 * batch; then a wide margin for a loaded machine. */
#define BOUND_MS (4 * IO_TIMEOUT_MS + 2 * CONNECT_TIMEOUT_MS + 10000)

static char dsn[512];
static cf_store *st_;
static PGconn *admin;
static int stopped[16];
static int nstopped;

static void cont_all(void)
{
    for (int i = 0; i < nstopped; i++)
        kill(stopped[i], SIGCONT);
}

static int group_setup(void **state)
{
    (void)state;
    cf_store_config cfg = {.max_connections = 3,
                           .statement_timeout_ms = STMT_TIMEOUT_MS,
                           .io_timeout_ms = IO_TIMEOUT_MS,
                           .connect_timeout_ms = CONNECT_TIMEOUT_MS};
    cf_test_store_setup(dsn, sizeof dsn, &cfg, &st_, &admin);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cont_all(); /* whatever happened, never leave a backend stopped */
    cf_test_store_teardown(st_, admin);
    return 0;
}

/* Stops every backend of this database with that application_name; returns how many. */
static int stop_backends(const char *app)
{
    const char *vals[] = {app};
    PGresult *r = PQexecParams(admin,
                               "SELECT pid FROM pg_stat_activity WHERE datname = "
                               "current_database() AND application_name = $1",
                               1, NULL, vals, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = 0;
    for (int i = 0; i < PQntuples(r) && nstopped < 16; i++, n++) {
        int pid = atoi(PQgetvalue(r, i, 0));
        assert_int_equal(kill(pid, SIGSTOP), 0);
        stopped[nstopped++] = pid;
    }
    PQclear(r);
    return n;
}

static bool stopped_are_gone(void *arg)
{
    (void)arg;
    for (int i = 0; i < nstopped; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d",
                 stopped[i]);
        PGresult *r = PQexec(admin, sql);
        bool alive = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) > 0;
        PQclear(r);
        if (alive)
            return false;
    }
    return true;
}

static int64_t step_rows(int64_t wf_id, const char *name)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)wf_id);
    const char *vals[] = {id, name};
    PGresult *r = PQexecParams(admin,
                               "SELECT count(*) FROM chrono_forge_execution_logs WHERE "
                               "workflow_id = $1 AND step_name = $2",
                               2, NULL, vals, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

typedef struct commit_arg {
    cf_wf_row row;
    char step_name[64];
    cf_status st;
    int64_t elapsed_ms;
    atomic_int *done;
} commit_arg;

static cf_status commit_step(cf_store *s, commit_arg *a)
{
    cf_ws_step step = {.name = a->step_name, .state = CF_STEP_COMPLETED, .attempts = 1};
    json_t *ctx = json_pack("{ss}", "key", a->row.key);
    cf_write_set ws = {.workflow_id = a->row.id,
                       .fence = a->row.fence,
                       .steps = &step,
                       .nsteps = 1,
                       .context = ctx,
                       .outcome = CF_WS_CONTINUE,
                       .attempt = -1};
    cf_status st = cf_store_commit(s, &ws);
    json_decref(ctx);
    return st;
}

static void *committer(void *p)
{
    commit_arg *a = p;
    int64_t t0 = cf_clock_mono_ms();
    a->st = commit_step(st_, a);
    a->elapsed_ms = cf_clock_mono_ms() - t0;
    atomic_fetch_add(a->done, 1);
    return NULL;
}

static bool all_done(void *arg)
{
    return atomic_load((atomic_int *)arg) == N;
}

static void test_store_stopped_writer_backend_bounds_commits(void **state)
{
    (void)state;
    commit_arg args[N];
    atomic_int done = 0;
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "stop-%d", i);
        cf_run_begin_args b = {.wf_class = "Stop", .key = key, .lock_value = "w/1"};
        args[i] = (commit_arg){.done = &done};
        assert_int_equal(cf_store_run_begin(st_, &b, &args[i].row), CF_OK);
        snprintf(args[i].step_name, sizeof args[i].step_name, "durably_execute$%s", key);
    }
    assert_int_equal(stop_backends("chronoforge-writer"), 1);
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, committer, &args[i]), 0);
    if (!cf_test_wait_for(all_done, &done, BOUND_MS)) {
        cont_all(); /* lets the hung calls finish so the process can end */
        for (int i = 0; i < N; i++)
            pthread_join(th[i], NULL);
        fail_msg("commits did not return within %d ms of a stopped backend", BOUND_MS);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    int unknown = 0;
    for (int i = 0; i < N; i++) {
        cf_status st = args[i].st;
        if (st != CF_OK && !cf_status_is_transient(st) && st != CF_ERR_UNAVAILABLE)
            fail_msg("commit %d: unexpected status %d", i, (int)st);
        assert_true(args[i].elapsed_ms <= BOUND_MS);
        unknown += st != CF_OK;
    }
    /* The batch sent to the stopped backend cannot be resolved while it lives. */
    assert_true(unknown >= 1);
    cf_store_stats stats;
    cf_store_get_stats(st_, &stats);
    assert_true(stats.unknown_outcomes >= 1);

    cont_all();
    /* The writer dropped its connection and asked the stopped backend to end: resumed, it
     * goes; only then are the rows final. */
    assert_true(cf_test_wait_for(stopped_are_gone, NULL, 10000));
    nstopped = 0;
    for (int i = 0; i < N; i++) {
        int64_t n = step_rows(args[i].row.id, args[i].step_name);
        if (args[i].st == CF_OK) {
            assert_int_equal(n, 1);
            continue;
        }
        assert_true(n == 0 || n == 1); /* unknown: applied once or not at all */
        /* What a worker does next: a new run (new fence) that writes the step again. */
        cf_wf_row again;
        cf_run_begin_args b = {.wf_class = "Stop", .key = args[i].row.key, .lock_value = "w/2"};
        assert_int_equal(cf_store_run_begin(st_, &b, &again), CF_OK);
        assert_true(again.fence > args[i].row.fence);
        cf_wf_row_deinit(&args[i].row);
        args[i].row = again;
        assert_int_equal(commit_step(st_, &args[i]), CF_OK);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(step_rows(args[i].row.id, args[i].step_name), 1);
        cf_wf_row now;
        assert_int_equal(cf_store_find_id(st_, args[i].row.id, &now), CF_OK);
        assert_string_equal(json_string_value(json_object_get(now.context, "key")),
                            args[i].row.key);
        assert_int_equal(now.fence, args[i].row.fence);
        cf_wf_row_deinit(&now);
        cf_wf_row_deinit(&args[i].row);
    }
    PGresult *r = PQexec(admin, "SELECT count(*) FROM chrono_forge_execution_logs");
    assert_int_equal(atoi(PQgetvalue(r, 0, 0)), N); /* nothing lost, nothing twice */
    PQclear(r);
}

static void test_store_stopped_reader_backend_read_retried(void **state)
{
    (void)state;
    cf_wf_row r;
    assert_int_equal(cf_store_wf_ensure(st_, "Stop", "read-1", NULL, NULL, NULL, &r), CF_OK);
    int64_t id = r.id;
    cf_wf_row_deinit(&r);
    cf_store_stats before, after;
    cf_store_get_stats(st_, &before);
    assert_true(stop_backends("chronoforge") >= 1); /* every reader connection */
    int64_t t0 = cf_clock_mono_ms();
    cf_status st = cf_store_find_id(st_, id, &r);
    int64_t elapsed = cf_clock_mono_ms() - t0;
    cont_all();
    assert_int_equal(st, CF_OK); /* a read is retried once on a fresh connection */
    assert_int_equal(r.id, id);
    cf_wf_row_deinit(&r);
    assert_true(elapsed <= IO_TIMEOUT_MS + 2 * CONNECT_TIMEOUT_MS + 10000);
    cf_store_get_stats(st_, &after);
    assert_true(after.reconnects > before.reconnects); /* it did drop the stopped one */
    assert_true(cf_test_wait_for(stopped_are_gone, NULL, 10000));
    nstopped = 0;
}

/* The plain connections of store/migrate.c (the schema check at every open) have deadlines
 * too: cf_pg_conn_query gives up on a stopped backend and sends it a cancel. */
static void test_store_plain_connection_query_deadline(void **state)
{
    (void)state;
    PGconn *c = cf_pg_connectdb(dsn, CONNECT_TIMEOUT_MS);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    stopped[nstopped++] = PQbackendPID(c);
    assert_int_equal(kill(stopped[0], SIGSTOP), 0);
    cf_sql_stmt q = {.name = "", .sql = "SELECT 1", .nparams = 0};
    bool timed_out = false;
    int64_t t0 = cf_clock_mono_ms();
    PGresult *r = cf_pg_conn_query(c, &q, NULL, IO_TIMEOUT_MS, &timed_out);
    int64_t elapsed = cf_clock_mono_ms() - t0;
    cont_all();
    assert_null(r);
    assert_true(timed_out);
    assert_true(elapsed <= IO_TIMEOUT_MS + 10000);
    PQfinish(c);
    assert_true(cf_test_wait_for(stopped_are_gone, NULL, 10000));
    nstopped = 0;
}

static const char *conn_option(PGconn *c, const char *key, char *buf, size_t cap)
{
    PQconninfoOption *opts = PQconninfo(c);
    snprintf(buf, cap, "%s", "");
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val)
            snprintf(buf, cap, "%s", o->val);
    PQconninfoFree(opts);
    return buf;
}

/* connect_timeout and keepalives are the store's defaults unless the DSN sets its own. */
static void test_store_connect_defaults_yield_to_the_dsn(void **state)
{
    (void)state;
    char buf[32], own[600];
    PGconn *c = cf_pg_connectdb(dsn, 10000);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_string_equal(conn_option(c, "connect_timeout", buf, sizeof buf), "10");
    assert_string_equal(conn_option(c, "keepalives_idle", buf, sizeof buf), "30");
    PQfinish(c);
    snprintf(own, sizeof own, "%s connect_timeout=7 keepalives_idle=99", dsn);
    c = cf_pg_connectdb(own, 10000);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_string_equal(conn_option(c, "connect_timeout", buf, sizeof buf), "7");
    assert_string_equal(conn_option(c, "keepalives_idle", buf, sizeof buf), "99");
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_stopped_writer_backend_bounds_commits),
        cmocka_unit_test(test_store_stopped_reader_backend_read_retried),
        cmocka_unit_test(test_store_plain_connection_query_deadline),
        cmocka_unit_test(test_store_connect_defaults_yield_to_the_dsn),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_deadline", tests, group_setup, group_teardown);
}
