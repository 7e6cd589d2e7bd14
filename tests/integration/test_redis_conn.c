// SPDX-License-Identifier: MIT
/* tests/integration/test_redis_conn.c: queue/redis_conn against the real Redis: password, ACL
 * and unix-socket URLs, refused credentials without leaking the password, pipelines with
 * binary arguments, scripts, and recovery after a server restart (reconnect + NOSCRIPT). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"
#include "tests/support/test.h"

static cf_redis *open_url(const char *url)
{
    cf_redis *r = NULL;
    cf_error err = {0};
    cf_status st = cf_redis_open(url, NULL, &r, &err);
    if (st != CF_OK)
        fail_msg("open failed: %s", err.msg);
    return r;
}

static void set_get(cf_redis *r, const char *key, const char *val, char *out, size_t cap)
{
    const char *a[3] = {"SET", key, val};
    size_t l[3] = {3, strlen(key), strlen(val)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 3, a, l, &rep), CF_OK);
    assert_int_equal(rep->type, CF_REPLY_STATUS);
    cf_reply_free(rep);
    const char *g[2] = {"GET", key};
    size_t gl[2] = {3, strlen(key)};
    assert_int_equal(cf_redis_exec(r, 2, g, gl, &rep), CF_OK);
    snprintf(out, cap, "%s", rep->type == CF_REPLY_STRING ? rep->str : "(nil)");
    cf_reply_free(rep);
}

static void test_redis_conn_password_acl_and_unix_urls(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    char prefix[64], key[128], got[64];
    cf_test_prefix(prefix, sizeof prefix);
    snprintf(key, sizeof key, "%s:k", prefix);
    cf_redis *tcp = open_url(cf_test_env("CF_TEST_REDIS_URL"));
    cf_redis *acl = open_url(cf_test_env("CF_TEST_REDIS_ACL_URL"));
    cf_redis *unx = open_url(cf_test_env("CF_TEST_REDIS_UNIX_URL"));
    set_get(tcp, key, "db0", got, sizeof got);
    assert_string_equal(got, "db0");
    set_get(acl, key, "db1", got, sizeof got);
    assert_string_equal(got, "db1");
    set_get(unx, key, "db2", got, sizeof got);
    assert_string_equal(got, "db2");
    /* Each URL selected its own database: the three values live side by side. */
    const char *g[2] = {"GET", key};
    size_t gl[2] = {3, strlen(key)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(tcp, 2, g, gl, &rep), CF_OK);
    assert_string_equal(rep->str, "db0");
    cf_reply_free(rep);
    const char *pw = cf_test_env("CF_TEST_REDIS_PASSWORD");
    assert_null(strstr(cf_redis_redacted_url(tcp), pw));
    assert_non_null(strstr(cf_redis_redacted_url(tcp), "***"));
    cf_redis_free(tcp);
    cf_redis_free(acl);
    cf_redis_free(unx);
}

static void test_redis_conn_wrong_password_is_permanent_and_hidden(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    char url[256];
    snprintf(url, sizeof url, "redis://:WrongPass%%40123@127.0.0.1:%s/0",
             cf_test_env("CF_TEST_REDIS_PORT"));
    cf_redis *r = NULL;
    cf_error err = {0};
    assert_int_equal(cf_redis_open(url, NULL, &r, &err), CF_ERR_INVALID);
    assert_null(r);
    assert_null(strstr(err.msg, "WrongPass"));
    assert_non_null(strstr(err.msg, "***"));
    /* Nothing listens on port 1: transient, not permanent. */
    assert_int_equal(cf_redis_open("redis://127.0.0.1:1/0", NULL, &r, &err), CF_ERR_UNAVAILABLE);
    assert_true(cf_status_is_transient(CF_ERR_UNAVAILABLE));
}

static void test_redis_conn_pipeline_binary_and_errors(void **state)
{
    (void)state;
    char prefix[64], key[128];
    cf_test_prefix(prefix, sizeof prefix);
    snprintf(key, sizeof key, "%s:list", prefix);
    cf_redis *r = open_url(cf_test_env("CF_TEST_REDIS_URL"));
    const char bin[5] = {'a', '\0', 'b', '\xff', '\0'};
    const char *a0[3] = {"RPUSH", key, bin};
    size_t n0[3] = {5, strlen(key), sizeof bin};
    const char *a1[3] = {"INCR", key};
    size_t n1[2] = {4, strlen(key)};
    const char *a2[4] = {"LRANGE", key, "0", "-1"};
    size_t n2[4] = {6, strlen(key), 1, 2};
    cf_redis_cmd cmds[3] = {{NULL, 0, 3, a0, n0}, {NULL, 0, 2, a1, n1}, {NULL, 0, 4, a2, n2}};
    cf_reply *reps[3];
    /* INCR on a list is WRONGTYPE: a permanent error, but the other replies still come back. */
    assert_int_equal(cf_redis_pipeline(r, cmds, 3, reps), CF_ERR_PROTOCOL);
    assert_non_null(strstr(cf_redis_errstr(r), "WRONGTYPE"));
    assert_int_equal(reps[0]->integer, 1);
    assert_int_equal(reps[1]->type, CF_REPLY_ERROR);
    assert_int_equal(reps[2]->n, 1);
    assert_int_equal(reps[2]->elem[0].len, sizeof bin);
    assert_memory_equal(reps[2]->elem[0].str, bin, sizeof bin);
    for (int i = 0; i < 3; i++)
        cf_reply_free(reps[i]);
    /* The connection is still usable after an error reply. */
    int64_t ms = 0;
    assert_int_equal(cf_redis_time_ms(r, &ms), CF_OK);
    assert_true(ms > 1700000000000LL);
    cf_redis_free(r);
}

static const cf_redis_script echo_script = {"echo", "return ARGV[1]"};

static int eval_echo(cf_redis *r, const char *arg)
{
    const char *a[1] = {arg};
    size_t l[1] = {strlen(arg)};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_eval(r, &echo_script, 0, 1, a, l, &rep);
    int ok = st == CF_OK && rep->type == CF_REPLY_STRING && strcmp(rep->str, arg) == 0;
    cf_reply_free(rep);
    return st == CF_OK ? (ok ? 1 : -1) : 0;
}

static bool ping_ok(void *arg)
{
    cf_redis *r = arg;
    const char *a[1] = {"PING"};
    size_t l[1] = {4};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_exec(r, 1, a, l, &rep);
    cf_reply_free(rep);
    if (st != CF_OK)
        assert_true(cf_status_is_transient(st));
    return st == CF_OK;
}

static void run_services(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "deploy/services.sh %s '%s' >/dev/null 2>&1", what,
             cf_test_env("CF_SERVICES_DIR"));
    assert_int_equal(system(cmd), 0);
}

static void test_redis_conn_reconnects_and_reloads_scripts_after_restart(void **state)
{
    (void)state;
    if (!cf_test_single_redis())
        return;
    cf_redis_opts o;
    cf_redis_opts_default(&o);
    o.reconnect_base_ms = 20;
    o.reconnect_cap_ms = 200;
    cf_redis *r = NULL;
    assert_int_equal(cf_redis_open(cf_test_env("CF_TEST_REDIS_URL"), &o, &r, NULL), CF_OK);
    cf_redis *u = open_url(cf_test_env("CF_TEST_REDIS_UNIX_URL"));
    assert_int_equal(eval_echo(r, "before"), 1);
    assert_int_equal(eval_echo(u, "before"), 1);
    run_services("restart-redis");
    /* The first command after the restart may fail (transient); polling gets through. */
    assert_true(cf_test_wait_for(ping_ok, r, 10000));
    assert_true(cf_test_wait_for(ping_ok, u, 10000));
    /* The new server has no scripts: EVALSHA meets NOSCRIPT and must reload by itself. */
    assert_int_equal(eval_echo(r, "after"), 1);
    assert_int_equal(eval_echo(u, "after"), 1);
    /* The same in a pipeline. */
    const char *a[1] = {"x"};
    size_t l[1] = {1};
    cf_redis_cmd cmds[1] = {{&echo_script, 0, 1, a, l}};
    const char *f[2] = {"SCRIPT", "FLUSH"};
    size_t fl[2] = {6, 5};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 2, f, fl, &rep), CF_OK);
    cf_reply_free(rep);
    assert_int_equal(cf_redis_pipeline(r, cmds, 1, &rep), CF_OK);
    assert_string_equal(rep->str, "x");
    cf_reply_free(rep);
    cf_redis_free(r);
    cf_redis_free(u);
}

/* cf_redis_round_trips: one per command, one per pipeline whatever its length, one per EVALSHA
 * of a loaded script (plus one for its SCRIPT LOAD); nothing for a connect that failed. */
static void test_redis_conn_counts_round_trips(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* one server's SLOWLOG / CLIENT ID */
        return;
    cf_redis *r = open_url(cf_test_env("CF_TEST_REDIS_URL"));
    uint64_t t0 = cf_redis_round_trips();
    const char *p[1] = {"PING"};
    size_t pl[1] = {4};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 1, p, pl, &rep), CF_OK);
    cf_reply_free(rep);
    assert_int_equal(cf_redis_round_trips() - t0, 1);
    cf_redis_cmd cmds[3] = {{NULL, 0, 1, p, pl}, {NULL, 0, 1, p, pl}, {NULL, 0, 1, p, pl}};
    cf_reply *reps[3];
    assert_int_equal(cf_redis_pipeline(r, cmds, 3, reps), CF_OK);
    for (int i = 0; i < 3; i++)
        cf_reply_free(reps[i]);
    assert_int_equal(cf_redis_round_trips() - t0, 2);
    assert_int_equal(eval_echo(r, "a"), 1); /* SCRIPT LOAD (first use on r) + EVALSHA */
    assert_int_equal(cf_redis_round_trips() - t0, 4);
    assert_int_equal(eval_echo(r, "b"), 1);
    assert_int_equal(cf_redis_round_trips() - t0, 5);
    cf_redis *down = NULL;
    assert_int_equal(cf_redis_new("redis://127.0.0.1:1/0", NULL, &down, NULL), CF_OK);
    assert_int_equal(cf_redis_exec(down, 1, p, pl, &rep), CF_ERR_UNAVAILABLE);
    assert_int_equal(cf_redis_round_trips() - t0, 5);
    cf_redis_free(down);
    cf_redis_free(r);
}

static void test_redis_conn_down_server_backs_off(void **state)
{
    (void)state;
    cf_redis_opts o;
    cf_redis_opts_default(&o);
    o.reconnect_base_ms = 5000;
    o.reconnect_cap_ms = 5000;
    cf_redis *r = NULL;
    assert_int_equal(cf_redis_new("redis://127.0.0.1:1/0", &o, &r, NULL), CF_OK);
    assert_int_equal(cf_redis_connect(r), CF_ERR_UNAVAILABLE);
    /* Within the backoff delay no new attempt is made: refused at once, still transient. */
    assert_int_equal(cf_redis_connect(r), CF_ERR_UNAVAILABLE);
    assert_non_null(strstr(cf_redis_errstr(r), "next try"));
    atomic_bool stop = true;
    assert_int_equal(cf_redis_wait_reconnect(r, &stop), CF_ERR_UNAVAILABLE);
    cf_redis_free(r);
}

static cf_reply *run(cf_redis *r, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, argc, argv, lens, &rep), CF_OK);
    return rep;
}

/* A subscriber handle: a message arrives; a wait with nothing published ends after its timeout
 * with the connection kept (no socket timeout); a killed connection is reported, and a second
 * subscribe on the same handle reconnects and receives again. */
static void test_redis_conn_subscriber_survives_timeouts_and_reconnects(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* one server's SLOWLOG / CLIENT ID */
        return;
    char chan[96];
    cf_test_prefix(chan, sizeof chan);
    strncat(chan, ":{q}:wake", sizeof chan - strlen(chan) - 1);
    cf_redis *pub = cf_test_redis_open();
    cf_redis *sub = cf_test_redis_open();
    cf_reply *id = run(sub, 2, (const char *[]){"CLIENT", "ID"});
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld", id->integer);
    cf_reply_free(id);
    const char *chans[1] = {chan};
    assert_int_equal(cf_redis_subscribe(sub, 1, chans), CF_OK);
    cf_reply *msg = NULL;
    assert_int_equal(cf_redis_wait_message(sub, 50, -1, &msg), CF_ERR_NOT_FOUND);
    assert_true(cf_redis_is_connected(sub));
    cf_reply_free(run(pub, 3, (const char *[]){"PUBLISH", chan, "1234"}));
    assert_int_equal(cf_redis_wait_message(sub, 5000, -1, &msg), CF_OK);
    assert_string_equal(msg->elem[1].str, chan);
    assert_string_equal(msg->elem[2].str, "1234");
    cf_reply_free(msg);
    cf_reply_free(run(pub, 4, (const char *[]){"CLIENT", "KILL", "ID", idbuf}));
    cf_status st = cf_redis_wait_message(sub, 5000, -1, &msg);
    assert_true(cf_status_is_transient(st));
    assert_false(cf_redis_is_connected(sub));
    assert_int_equal(cf_redis_wait_message(sub, 10, -1, &msg), CF_ERR_IO);
    assert_int_equal(cf_redis_subscribe(sub, 1, chans), CF_OK);
    cf_reply_free(run(pub, 3, (const char *[]){"PUBLISH", chan, "5678"}));
    assert_int_equal(cf_redis_wait_message(sub, 5000, -1, &msg), CF_OK);
    assert_string_equal(msg->elem[2].str, "5678");
    cf_reply_free(msg);
    assert_int_equal(cf_redis_subscribe(sub, 0, chans), CF_ERR_INVALID);
    cf_redis_free(sub);
    cf_redis_free(pub);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_conn_password_acl_and_unix_urls),
        cmocka_unit_test(test_redis_conn_wrong_password_is_permanent_and_hidden),
        cmocka_unit_test(test_redis_conn_pipeline_binary_and_errors),
        cmocka_unit_test(test_redis_conn_reconnects_and_reloads_scripts_after_restart),
        cmocka_unit_test(test_redis_conn_down_server_backs_off),
        cmocka_unit_test(test_redis_conn_counts_round_trips),
        cmocka_unit_test(test_redis_conn_subscriber_survives_timeouts_and_reconnects),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
