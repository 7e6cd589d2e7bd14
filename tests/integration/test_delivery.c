// SPDX-License-Identifier: MIT
/* tests/integration/test_delivery.c: one delivery through worker/executor against the real
 * Redis and Postgres, for the paths where an unknown outcome could lose data (docs/retries.md):
 * a continuation never creates its workflow (store and executor), a first delivery that finds
 * its workflow busy makes the workflow exist with its kwargs before it is acked, a begin that
 * may not create finds a row that exists, and the end of a delivery runs release -> publish ->
 * ack in that order even when the server forgot its scripts (SCRIPT FLUSH, restart). Lost
 * replies come from tests/support/faultproxy.py: the k-th matching command runs on the server,
 * then the connection resets before its reply is relayed. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "chronoforge.h"
#include "common/buf.h"
#include "queue/delivery.h"
#include "queue/envelope.h"
#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"
#include "store/migrate.h"
#include "store/store.h"
#include "tests/support/faultproxy.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"
#include "worker/config.h"
#include "worker/executor.h"

#define WORKER "wtest"

static char dsn[512];
static cf_store *st_;
static PGconn *admin;
static cf_queue *q_; /* WORKER's handle under cfg.prefix */
static cf_redis *r_; /* its connection, for raw commands */
static cf_config cfg;
static cf_worker_stats stats;
static atomic_bool stopping;
static atomic_int body_runs;

static cf_flow body(cf_run *run)
{
    (void)run;
    atomic_fetch_add(&body_runs, 1);
    return CF_FLOW_OK;
}

static int group_setup(void **state)
{
    (void)state;
    cf_store_config sc = {.max_connections = 2};
    cf_test_store_setup(dsn, sizeof dsn, &sc, &st_, &admin);
    cf_error e;
    assert_int_equal(cf_config_load(&cfg, &e), CF_OK);
    static const cf_workflow_def def = {.name = "Deliv", .fn = body};
    assert_int_equal(cf_register(&def), 0);
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
    q_ = cf_test_queue_open(cfg.prefix, WORKER);
    r_ = cf_queue_redis(q_);
    atomic_store(&body_runs, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_queue_free(q_);
    return 0;
}

static cf_executor executor(void)
{
    return (cf_executor){.cfg = &cfg,
                         .worker_id = WORKER,
                         .queue = q_,
                         .store = st_,
                         .stopping = &stopping,
                         .stats = &stats};
}

static long long redis_int(int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r_, argc, argv, lens, &rep), CF_OK);
    long long n = rep->type == CF_REPLY_INTEGER ? rep->integer : -1;
    cf_reply_free(rep);
    return n;
}

/* Puts raw into this worker's in-flight list of queue "default", as a fetch would. */
static void in_flight(const cf_buf *raw)
{
    char key[CF_KEY_MAX];
    cf_key_inflight(key, sizeof key, cfg.prefix, "default", WORKER);
    const char *a[3] = {"LPUSH", key, raw->data};
    size_t l[3] = {5, strlen(key), raw->len};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r_, 3, a, l, &rep), CF_OK);
    cf_reply_free(rep);
}

static long long in_flight_len(void)
{
    char key[CF_KEY_MAX];
    cf_key_inflight(key, sizeof key, cfg.prefix, "default", WORKER);
    return redis_int(2, (const char *[]){"LLEN", key});
}

static long long scheduled_len(void)
{
    char key[CF_KEY_MAX];
    cf_key_scheduled(key, sizeof key, cfg.prefix, "default");
    return redis_int(2, (const char *[]){"ZCARD", key});
}

/* The stored kwargs of Deliv/key as compact JSON ("" when no row). */
static void stored_kwargs(const char *key, char *out, size_t cap)
{
    const char *vals[1] = {key};
    PGresult *res = PQexecParams(admin,
                                 "SELECT kwargs::text FROM chrono_forge_workflows"
                                 " WHERE job_class = 'Deliv' AND key = $1",
                                 1, NULL, vals, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
}

static void test_store_begin_must_exist(void **state)
{
    (void)state;
    cf_wf_row row;
    cf_run_begin_args a = {
        .wf_class = "Deliv", .key = "me-1", .lock_value = "w/r1", .must_exist = true};
    assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_ERR_NOT_FOUND);
    cf_wf_row_deinit(&row);
    char kw[256];
    stored_kwargs("me-1", kw, sizeof kw);
    assert_string_equal(kw, ""); /* nothing created */
    /* Once it exists, the same begin locks it. */
    json_t *k = json_pack("{si}", "n", 5);
    assert_int_equal(cf_store_wf_ensure(st_, "Deliv", "me-1", NULL, k, NULL, &row), CF_OK);
    cf_wf_row_deinit(&row);
    json_decref(k);
    assert_int_equal(cf_store_run_begin(st_, &a, &row), CF_OK);
    assert_false(row.created);
    assert_int_equal(row.fence, 1);
    cf_wf_row_deinit(&row);
    stored_kwargs("me-1", kw, sizeof kw);
    assert_string_equal(kw, "{\"n\": 5}");
}

/* A continuation whose workflow does not exist is acked and dropped, never run with {}. */
static void test_continuation_never_creates(void **state)
{
    (void)state;
    cf_buf cont = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode_continuation("Deliv", "orphan-1", NULL, &cont), CF_OK);
    in_flight(&cont);
    cf_executor ex = executor();
    cf_executor_handle(&ex, "default", cont.data, cont.len);
    char kw[256];
    stored_kwargs("orphan-1", kw, sizeof kw);
    assert_string_equal(kw, "");
    assert_int_equal(atomic_load(&body_runs), 0);
    assert_int_equal(in_flight_len(), 0);
    char lock[CF_KEY_MAX];
    cf_key_lock(lock, sizeof lock, cfg.prefix, "Deliv", "orphan-1");
    assert_int_equal(redis_int(2, (const char *[]){"EXISTS", lock}), 0);
    cf_buf_deinit(&cont);
}

/* A first delivery that finds the lock held elsewhere: its kwargs are stored before its
 * envelope is acked; the continuation then runs the workflow with them. */
static void test_busy_first_delivery_keeps_kwargs(void **state)
{
    (void)state;
    char lock[CF_KEY_MAX];
    cf_key_lock(lock, sizeof lock, cfg.prefix, "Deliv", "busy-1");
    assert_int_equal(redis_int(6, (const char *[]){"SET", lock, "other/r9", "PX", "60000", "NX"}),
                     -1); /* +OK */
    cf_envelope env;
    assert_int_equal(cf_envelope_init_job(&env, "Deliv", "busy-1", NULL, NULL), CF_OK);
    env.kwargs = json_pack("{sis[ii]}", "n", 7, "xs", 1, 2);
    cf_buf raw = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(&env, &raw), CF_OK);
    in_flight(&raw);
    cf_executor ex = executor();
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_int_equal(in_flight_len(), 0);
    assert_int_equal(scheduled_len(), 1);
    char kw[256];
    stored_kwargs("busy-1", kw, sizeof kw);
    assert_string_equal(kw, "{\"n\": 7, \"xs\": [1, 2]}");
    assert_int_equal(atomic_load(&body_runs), 0);
    /* The holder goes away; the continuation runs the workflow with the stored kwargs. */
    assert_int_equal(redis_int(2, (const char *[]){"DEL", lock}), 1);
    cf_buf cont = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode_continuation("Deliv", "busy-1", "default", &cont), CF_OK);
    in_flight(&cont);
    cf_executor_handle(&ex, "default", cont.data, cont.len);
    assert_int_equal(atomic_load(&body_runs), 1);
    assert_int_equal(in_flight_len(), 0);
    stored_kwargs("busy-1", kw, sizeof kw);
    assert_string_equal(kw, "{\"n\": 7, \"xs\": [1, 2]}");
    cf_buf_deinit(&cont);
    cf_buf_deinit(&raw);
    cf_envelope_deinit(&env);
}

static void ok_cmd(int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r_, argc, argv, lens, &rep), CF_OK);
    cf_reply_free(rep);
}

/* The position (0 = oldest) in the slow log of the last command whose name is cmd (case-
 * insensitive) and whose argument at index arg equals val; -1 when none. The slow log records
 * top-level commands in execution order (a script's own calls are not listed). */
static int slowlog_pos(const cf_reply *log, const char *cmd, int arg, const char *val)
{
    int found = -1;
    for (size_t i = 0; i < log->n; i++) {
        const cf_reply *args = &log->elem[log->n - 1 - i].elem[3]; /* newest first */
        if (args->n > (size_t)arg && strcasecmp(args->elem[0].str, cmd) == 0 &&
            strcmp(args->elem[arg].str, val) == 0)
            found = (int)i;
    }
    return found;
}

/* After SCRIPT FLUSH (what a restarted Redis looks like to a connection that loaded its scripts
 * before), the end of a delivery still releases the lock before it publishes and acks. */
static void test_end_order_survives_script_flush(void **state)
{
    (void)state;
    if (!cf_test_single_redis())
        return;
    cf_lock_holder h;
    assert_int_equal(cf_lock_acquire(q_, "Deliv", "ord-1", WORKER "/r1", 60000, &h), CF_OK);
    /* This handle learns the release script's SHA, as a worker does on its first delivery. */
    char other[CF_KEY_MAX];
    cf_key_lock(other, sizeof other, cfg.prefix, "Deliv", "ord-0");
    const char *ka[2] = {other, "nobody"};
    size_t kl[2] = {strlen(other), 6};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_eval(r_, &cf_script_lock_release, 1, 2, ka, kl, &rep), CF_OK);
    cf_reply_free(rep);
    cf_buf raw = CF_BUF_INIT, cont = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode_continuation("Deliv", "ord-1", "default", &cont), CF_OK);
    assert_int_equal(cf_buf_append(&raw, "first-envelope", 14), CF_OK);
    in_flight(&raw);
    ok_cmd(2, (const char *[]){"SCRIPT", "FLUSH"});
    ok_cmd(4, (const char *[]){"CONFIG", "SET", "slowlog-log-slower-than", "0"});
    ok_cmd(4, (const char *[]){"CONFIG", "SET", "slowlog-max-len", "1024"});
    ok_cmd(2, (const char *[]){"SLOWLOG", "RESET"});
    cf_delivery_publish one = {"default", cont.data, cont.len, 1, true};
    cf_delivery_end d = {.queue = "default",
                         .env = raw.data,
                         .env_len = raw.len,
                         .wf_class = "Deliv",
                         .wf_key = "ord-1",
                         .token = WORKER "/r1",
                         .publish = &one,
                         .npublish = 1};
    bool released = false, acked = false;
    assert_int_equal(cf_delivery_finish(q_, &d, &released, &acked), CF_OK);
    assert_true(released);
    assert_true(acked);
    const char *get[3] = {"SLOWLOG", "GET", "1024"};
    size_t gl[3] = {7, 3, 4};
    cf_reply *log = NULL;
    assert_int_equal(cf_redis_exec(r_, 3, get, gl, &log), CF_OK);
    ok_cmd(4, (const char *[]){"CONFIG", "SET", "slowlog-log-slower-than", "10000"});
    char lock[CF_KEY_MAX], inflight[CF_KEY_MAX], sched[CF_KEY_MAX];
    cf_key_lock(lock, sizeof lock, cfg.prefix, "Deliv", "ord-1");
    cf_key_inflight(inflight, sizeof inflight, cfg.prefix, "default", WORKER);
    cf_key_scheduled(sched, sizeof sched, cfg.prefix, "default");
    /* The script's last run (EVAL, or EVALSHA run again after NOSCRIPT) names the lock key. */
    int rel = slowlog_pos(log, "EVAL", 3, lock);
    int rel_sha = slowlog_pos(log, "EVALSHA", 3, lock);
    if (rel_sha > rel)
        rel = rel_sha;
    int pub = slowlog_pos(log, "ZADD", 1, sched);
    int ackp = slowlog_pos(log, "LREM", 1, inflight);
    cf_reply_free(log);
    assert_true(rel >= 0 && pub >= 0 && ackp >= 0);
    assert_true(rel < pub);
    assert_true(pub < ackp);
    cf_buf_deinit(&raw);
    cf_buf_deinit(&cont);
}

/* ---- lost replies (tests/support/faultproxy.py) ---- */

static cf_faultproxy P;

/* proxied opens a handle to the test Redis through a proxy armed with arm ("SET 1 reset"). */
static cf_queue *proxied(const char *arm)
{
    cf_faultproxy_start(&P, "redis", NULL);
    char line[64], url[1024];
    snprintf(line, sizeof line, "arm %s", arm);
    cf_faultproxy_ctl(&P, line, url, sizeof url);
    cf_faultproxy_redis_url(&P, url, sizeof url);
    cf_queue *q = NULL;
    cf_error err;
    assert_int_equal(cf_queue_open(url, cfg.prefix, WORKER, NULL, &q, &err), CF_OK);
    return q;
}

typedef struct handle_arg {
    cf_executor *ex;
    const cf_buf *raw;
} handle_arg;

static void handle_it(void *p)
{
    handle_arg *a = p;
    cf_executor_handle(a->ex, "default", a->raw->data, a->raw->len);
}

static void first_delivery(const char *key, const char *kwargs_json, cf_buf *raw)
{
    cf_envelope env;
    assert_int_equal(cf_envelope_init_job(&env, "Deliv", key, NULL, NULL), CF_OK);
    env.kwargs = json_loads(kwargs_json, 0, NULL);
    assert_non_null(env.kwargs);
    assert_int_equal(cf_envelope_encode(&env, raw), CF_OK);
    cf_envelope_deinit(&env);
}

/* The reply to the lock's SET is lost: the retry finds the lock holding its own token, takes it
 * as its own, and the workflow runs once with the kwargs that were enqueued (not {}). */
static void test_lost_lock_reply_keeps_kwargs(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    cf_buf raw = CF_BUF_INIT;
    first_delivery("lost-set-1", "{\"amount\": 12, \"who\": \"ann\"}", &raw);
    in_flight(&raw);
    cf_executor ex = executor();
    ex.queue = proxied("SET 1 reset");
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_int_equal(cf_faultproxy_stat(&P, "faults"), 1);
    char kw[256];
    stored_kwargs("lost-set-1", kw, sizeof kw);
    assert_string_equal(kw, "{\"who\": \"ann\", \"amount\": 12}");
    assert_int_equal(atomic_load(&body_runs), 1);
    assert_int_equal(in_flight_len(), 0);
    char lock[CF_KEY_MAX];
    cf_key_lock(lock, sizeof lock, cfg.prefix, "Deliv", "lost-set-1");
    assert_int_equal(redis_int(2, (const char *[]){"EXISTS", lock}), 0);
    cf_queue_free(ex.queue);
    cf_faultproxy_stop(&P);
    cf_buf_deinit(&raw);
}

/* The reply to the end of a delivery is lost after the whole pipeline ran: the retry finds the
 * lock free and the envelope gone, and says that its lost attempt did it (no warning). */
static void test_lost_end_reply_logged_as_retry(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    cf_buf raw = CF_BUF_INIT;
    first_delivery("lost-ack-1", "{\"n\": 1}", &raw);
    in_flight(&raw);
    cf_executor ex = executor();
    ex.queue = proxied("LREM 1 reset");
    char log[16384];
    handle_arg a = {&ex, &raw};
    cf_test_capture_stderr(handle_it, &a, log, sizeof log);
    assert_int_equal(cf_faultproxy_stat(&P, "faults"), 1);
    assert_int_equal(atomic_load(&body_runs), 1);
    assert_int_equal(in_flight_len(), 0);
    assert_non_null(strstr(log, "event=release_retried"));
    assert_non_null(strstr(log, "event=ack_retried"));
    assert_null(strstr(log, "event=lock_lost"));
    assert_null(strstr(log, "event=ack_missing"));
    cf_queue_free(ex.queue);
    cf_faultproxy_stop(&P);
    cf_buf_deinit(&raw);
}

/* The reply to the dead-letter move of an undecodable envelope is lost: the retry finds the
 * envelope no longer in flight and pushes no second entry. */
static void test_lost_dead_letter_reply_one_entry(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    cf_buf raw = CF_BUF_INIT;
    assert_int_equal(cf_buf_append(&raw, "not msgpack at all", 18), CF_OK);
    in_flight(&raw);
    cf_executor ex = executor();
    ex.queue = proxied("EVALSHA 1 reset");
    cf_executor_handle(&ex, "default", raw.data, raw.len);
    assert_int_equal(cf_faultproxy_stat(&P, "faults"), 1);
    assert_int_equal(in_flight_len(), 0);
    char dead[CF_KEY_MAX];
    cf_key_dead(dead, sizeof dead, cfg.prefix, "default");
    assert_int_equal(redis_int(2, (const char *[]){"LLEN", dead}), 1);
    cf_queue_free(ex.queue);
    cf_faultproxy_stop(&P);
    cf_buf_deinit(&raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_begin_must_exist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continuation_never_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_first_delivery_keeps_kwargs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_order_survives_script_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_lock_reply_keeps_kwargs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_end_reply_logged_as_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_dead_letter_reply_one_entry, setup, teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
