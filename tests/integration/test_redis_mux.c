// SPDX-License-Identifier: MIT
/* tests/integration/test_redis_mux.c: queue/mux (the auto-pipelined shared connection) against
 * the real Redis: many threads' commands and pipelines get their own replies in order; requests
 * queued during a batch go out together as one round trip; scripts survive SCRIPT FLUSH; a
 * connection killed or reset under a batch fails every request of it with CF_ERR_IO, a silent
 * one times out, and the next call reconnects; blocking commands are refused. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "queue/fetch.h"
#include "queue/mux.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "tests/support/faultproxy.h"
#include "tests/support/test.h"

static const cf_redis_script script_echo = {"echo", "return ARGV[1]\n"};

static cf_mux *mux_on(const char *url, int64_t read_timeout_ms)
{
    cf_redis_opts o;
    cf_redis_opts_default(&o);
    o.read_timeout_ms = read_timeout_ms;
    o.reconnect_base_ms = 10;
    cf_mux *m = NULL;
    cf_error err = {0};
    if (cf_mux_new(url, &o, &m, &err) != CF_OK)
        fail_msg("mux: %s", err.msg);
    return m;
}

static cf_redis *client_of(cf_mux *m)
{
    cf_redis *r = NULL;
    cf_error err = {0};
    if (cf_mux_client(m, &r, &err) != CF_OK)
        fail_msg("client: %s", err.msg);
    return r;
}

static cf_status exec3(cf_redis *r, const char *a0, const char *a1, const char *a2, cf_reply **out)
{
    const char *a[3] = {a0, a1, a2};
    size_t l[3] = {strlen(a0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0};
    int argc = a2 ? 3 : a1 ? 2 : 1;
    return cf_redis_exec(r, argc, a, l, out);
}

/* ---- many threads ---- */

typedef struct worker_arg {
    cf_mux *m;
    const char *prefix;
    int id, rounds;
    int failures;
} worker_arg;

static void *hammer(void *p)
{
    worker_arg *w = p;
    cf_redis *r = client_of(w->m);
    char key[128], cnt[128], val[32];
    snprintf(key, sizeof key, "%s:k%d", w->prefix, w->id);
    snprintf(cnt, sizeof cnt, "%s:c%d", w->prefix, w->id);
    for (int i = 0; i < w->rounds; i++) {
        snprintf(val, sizeof val, "%d/%d", w->id, i);
        /* Odd threads put a WRONGTYPE error in the middle of their pipeline: it is theirs. */
        const char *s[3] = {"SET", key, val}, *inc[2] = {"INCR", cnt}, *g[2] = {"GET", key};
        const char *bad[3] = {"HGET", key, "f"};
        size_t sl[3] = {3, strlen(key), strlen(val)}, il[2] = {4, strlen(cnt)};
        size_t gl[2] = {3, strlen(key)}, bl[3] = {4, strlen(key), 1};
        bool odd = w->id % 2;
        cf_redis_cmd cmds[4] = {{NULL, 0, 3, s, sl},
                                {NULL, 0, 2, inc, il},
                                {NULL, 0, odd ? 3 : 2, odd ? bad : g, odd ? bl : gl},
                                {NULL, 0, 2, g, gl}};
        cf_reply *rep[4];
        cf_status st = cf_redis_pipeline(r, cmds, 4, rep);
        bool ok = st == (odd ? CF_ERR_PROTOCOL : CF_OK) && rep[1] &&
                  rep[1]->type == CF_REPLY_INTEGER && rep[1]->integer == i + 1 && rep[3] &&
                  rep[3]->type == CF_REPLY_STRING && strcmp(rep[3]->str, val) == 0 &&
                  rep[2]->type == (odd ? CF_REPLY_ERROR : CF_REPLY_STRING);
        for (int j = 0; j < 4; j++)
            cf_reply_free(rep[j]);
        cf_reply *one = NULL;
        st = exec3(r, "GET", cnt, NULL, &one);
        char want[16];
        snprintf(want, sizeof want, "%d", i + 1);
        ok = ok && st == CF_OK && one->type == CF_REPLY_STRING && strcmp(one->str, want) == 0;
        cf_reply_free(one);
        if (!ok)
            w->failures++;
    }
    cf_redis_free(r);
    return NULL;
}

static void test_mux_threads_get_their_own_replies_in_order(void **state)
{
    (void)state;
    char prefix[64];
    cf_test_prefix(prefix, sizeof prefix);
    cf_mux *m = mux_on(cf_test_env("CF_TEST_REDIS_URL"), 5000);
    enum { T = 8 };
    worker_arg args[T];
    pthread_t th[T];
    int rounds = cf_test_scale(300);
    for (int i = 0; i < T; i++) {
        args[i] = (worker_arg){m, prefix, i, rounds, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    cf_mux_counts c;
    cf_mux_stats(m, &c);
    assert_int_equal(c.requests, (uint64_t)T * (uint64_t)rounds * 2);
    assert_true(c.batches <= c.requests);
    print_message("mux: %llu requests in %llu batches\n", (unsigned long long)c.requests,
                  (unsigned long long)c.batches);
    cf_mux_free(m);
}

/* ---- deterministic coalescing and failures, through the fault proxy ---- */

typedef struct caller {
    cf_mux *m;
    char key[128];
    cf_status st; /* of the SET+GET pipeline, or of a PING when key is "" */
    char got[64];
} caller;

static void *call(void *p)
{
    caller *c = p;
    cf_redis *r = client_of(c->m);
    if (c->key[0] == '\0') {
        cf_reply *rep = NULL;
        c->st = exec3(r, "PING", NULL, NULL, &rep);
        cf_reply_free(rep);
    } else {
        const char *s[3] = {"SET", c->key, c->key}, *g[2] = {"GET", c->key};
        size_t sl[3] = {3, strlen(c->key), strlen(c->key)}, gl[2] = {3, strlen(c->key)};
        cf_redis_cmd cmds[2] = {{NULL, 0, 3, s, sl}, {NULL, 0, 2, g, gl}};
        cf_reply *rep[2];
        c->st = cf_redis_pipeline(r, cmds, 2, rep);
        if (c->st == CF_OK && rep[1]->type == CF_REPLY_STRING)
            snprintf(c->got, sizeof c->got, "%s", rep[1]->str);
        cf_reply_free(rep[0]);
        cf_reply_free(rep[1]);
    }
    cf_redis_free(r);
    return NULL;
}

typedef struct wait_arg {
    cf_mux *m;
    size_t queued, on_wire;
} wait_arg;

static bool counts_are(void *p)
{
    wait_arg *w = p;
    cf_mux_counts c;
    cf_mux_stats(w->m, &c);
    return c.queued == w->queued && c.on_wire == w->on_wire;
}

/* stalled_batch: with the proxy stalled, starts a PING (caller 0: on the wire) and then
 * callers 1..n-1 (queued behind it, in that order), waiting until the mux shows each. */
static void stalled_batch(const cf_faultproxy *fp, cf_mux *m, caller *cs, pthread_t *th, int n,
                          const char *prefix)
{
    char line[128];
    cf_faultproxy_ctl(fp, "stall 0", line, sizeof line);
    cs[0] = (caller){.m = m};
    assert_int_equal(pthread_create(&th[0], NULL, call, &cs[0]), 0);
    wait_arg w = {m, 0, 1};
    assert_true(cf_test_wait_for(counts_are, &w, 5000));
    for (int i = 1; i < n; i++) { /* one at a time: the queue's order is 1, 2, ... */
        cs[i] = (caller){.m = m};
        snprintf(cs[i].key, sizeof cs[i].key, "%s:q%d", prefix, i);
        assert_int_equal(pthread_create(&th[i], NULL, call, &cs[i]), 0);
        w.queued = (size_t)i;
        assert_true(cf_test_wait_for(counts_are, &w, 5000));
    }
}

static void test_mux_queued_requests_go_out_as_one_batch(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    char prefix[64], url[512], line[128];
    cf_test_prefix(prefix, sizeof prefix);
    cf_faultproxy fp;
    cf_faultproxy_start(&fp, "redis", NULL);
    cf_faultproxy_redis_url(&fp, url, sizeof url);
    cf_mux *m = mux_on(url, 20000);
    cf_redis *r = client_of(m);
    assert_int_equal(cf_redis_connect(r), CF_OK);
    enum { N = 5 };
    caller cs[N];
    pthread_t th[N];
    cf_mux_counts c0, c1;
    cf_mux_stats(m, &c0);
    uint64_t rt0 = cf_redis_round_trips();
    stalled_batch(&fp, m, cs, th, N, prefix);
    cf_faultproxy_ctl(&fp, "resume", line, sizeof line);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(cs[i].st, CF_OK);
        assert_string_equal(cs[i].got, cs[i].key);
    }
    cf_mux_stats(m, &c1);
    /* The PING's batch, then the four queued pipelines (eight commands) in one round trip. */
    assert_int_equal(c1.batches - c0.batches, 2);
    assert_int_equal(c1.requests - c0.requests, N);
    assert_true(cf_redis_round_trips() - rt0 >= 2);
    cf_redis_free(r);
    cf_mux_free(m);
    cf_faultproxy_stop(&fp);
}

static void test_mux_reset_fails_the_whole_batch_then_reconnects(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    char prefix[64], url[512], line[128];
    cf_test_prefix(prefix, sizeof prefix);
    cf_faultproxy fp;
    cf_faultproxy_start(&fp, "redis", NULL);
    cf_faultproxy_redis_url(&fp, url, sizeof url);
    cf_mux *m = mux_on(url, 20000);
    cf_redis *r = client_of(m);
    assert_int_equal(cf_redis_connect(r), CF_OK);
    enum { N = 3 };
    caller cs[N];
    pthread_t th[N];
    stalled_batch(&fp, m, cs, th, N, prefix);
    /* The batch of callers 1 and 2 is SET q1, GET q1, SET q2, GET q2: the first GET's reply is
     * lost and the connection reset, with q2's commands held back. */
    cf_faultproxy_ctl(&fp, "arm GET 1 reset", line, sizeof line);
    cf_faultproxy_ctl(&fp, "resume", line, sizeof line);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(cs[0].st, CF_OK);
    assert_int_equal(cs[1].st, CF_ERR_IO);
    assert_int_equal(cs[2].st, CF_ERR_IO);
    assert_false(cf_redis_is_connected(r));
    /* The next call reconnects: q1's SET ran (an unknown outcome for its caller), q2's never
     * reached the server. */
    cf_reply *rep = NULL;
    assert_int_equal(exec3(r, "GET", cs[1].key, NULL, &rep), CF_OK);
    assert_int_equal(rep->type, CF_REPLY_STRING);
    cf_reply_free(rep);
    assert_int_equal(exec3(r, "EXISTS", cs[2].key, NULL, &rep), CF_OK);
    assert_int_equal(rep->integer, 0);
    cf_reply_free(rep);
    assert_true(cf_redis_is_connected(r));
    cf_redis_free(r);
    cf_mux_free(m);
    cf_faultproxy_stop(&fp);
}

static void test_mux_silent_connection_times_out(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    char url[512], line[128];
    cf_faultproxy fp;
    cf_faultproxy_start(&fp, "redis", NULL);
    cf_faultproxy_redis_url(&fp, url, sizeof url);
    cf_mux *m = mux_on(url, 300);
    cf_redis *r = client_of(m);
    assert_int_equal(cf_redis_connect(r), CF_OK);
    cf_faultproxy_ctl(&fp, "stall 0", line, sizeof line);
    cf_reply *rep = NULL;
    assert_int_equal(exec3(r, "PING", NULL, NULL, &rep), CF_ERR_TIMEOUT);
    assert_null(rep);
    cf_faultproxy_ctl(&fp, "resume", line, sizeof line);
    assert_int_equal(exec3(r, "PING", NULL, NULL, &rep), CF_OK);
    cf_reply_free(rep);
    cf_redis_free(r);
    cf_mux_free(m);
    cf_faultproxy_stop(&fp);
}

static void test_mux_client_kill_then_reconnect(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* one server's SLOWLOG / CLIENT ID */
        return;
    cf_mux *m = mux_on(cf_test_env("CF_TEST_REDIS_URL"), 5000);
    cf_redis *r = client_of(m);
    cf_redis *admin = cf_test_redis_open();
    cf_reply *rep = NULL;
    assert_int_equal(exec3(r, "CLIENT", "ID", NULL, &rep), CF_OK);
    char id[32];
    snprintf(id, sizeof id, "%lld", rep->integer);
    cf_reply_free(rep);
    const char *k[4] = {"CLIENT", "KILL", "ID", id};
    size_t kl[4] = {6, 4, 2, strlen(id)};
    assert_int_equal(cf_redis_exec(admin, 4, k, kl, &rep), CF_OK);
    assert_int_equal(rep->integer, 1);
    cf_reply_free(rep);
    assert_int_equal(exec3(r, "PING", NULL, NULL, &rep), CF_ERR_IO);
    assert_false(cf_redis_is_connected(r));
    assert_int_equal(exec3(r, "PING", NULL, NULL, &rep), CF_OK);
    cf_reply_free(rep);
    cf_redis_free(admin);
    cf_redis_free(r);
    cf_mux_free(m);
}

static void test_mux_scripts_survive_script_flush(void **state)
{
    (void)state;
    char prefix[64], key[128];
    cf_test_prefix(prefix, sizeof prefix);
    snprintf(key, sizeof key, "%s:s", prefix);
    cf_mux *m = mux_on(cf_test_env("CF_TEST_REDIS_URL"), 5000);
    cf_redis *r = client_of(m);
    cf_redis *admin = cf_test_redis_open();
    const char *arg[1] = {"hi"};
    size_t al[1] = {2};
    for (int round = 0; round < 2; round++) {
        cf_reply *rep = NULL;
        assert_int_equal(cf_redis_eval(r, &script_echo, 0, 1, arg, al, &rep), CF_OK);
        assert_string_equal(rep->str, "hi");
        cf_reply_free(rep);
        assert_int_equal(exec3(admin, "SCRIPT", "FLUSH", NULL, &rep), CF_OK);
        cf_reply_free(rep);
        /* A script last in its pipeline (EVALSHA, repaired) and one before a command (EVAL). */
        const char *s[3] = {"SET", key, "v"};
        size_t sl[3] = {3, strlen(key), 1};
        cf_redis_cmd cmds[3] = {
            {&script_echo, 0, 1, arg, al}, {NULL, 0, 3, s, sl}, {&script_echo, 0, 1, arg, al}};
        cf_reply *reps[3];
        assert_int_equal(cf_redis_pipeline(r, cmds, 3, reps), CF_OK);
        assert_string_equal(reps[0]->str, "hi");
        assert_string_equal(reps[2]->str, "hi");
        for (int i = 0; i < 3; i++)
            cf_reply_free(reps[i]);
    }
    cf_redis_free(admin);
    cf_redis_free(r);
    cf_mux_free(m);
}

static void test_mux_refuses_blocking_commands(void **state)
{
    (void)state;
    char prefix[64], key[128];
    cf_test_prefix(prefix, sizeof prefix);
    snprintf(key, sizeof key, "%s:b", prefix);
    cf_mux *m = mux_on(cf_test_env("CF_TEST_REDIS_URL"), 5000);
    cf_redis *r = client_of(m);
    cf_reply *rep = NULL;
    const char *b[3] = {"BLPOP", key, "1"};
    size_t bl[3] = {5, strlen(key), 1};
    assert_int_equal(cf_redis_exec(r, 3, b, bl, &rep), CF_ERR_INVALID);
    assert_non_null(strstr(cf_redis_errstr(r), "shared connection"));
    assert_int_equal(cf_redis_exec_blocking(r, 100, 3, b, bl, &rep), CF_ERR_INVALID);
    assert_non_null(strstr(cf_redis_errstr(r), "shared connection"));
    /* cf_fetch's blocking slices (BLMOVE) on a queue handle of the shared connection. */
    cf_queue *q = NULL;
    cf_error err = {0};
    assert_int_equal(cf_queue_new_shared(m, prefix, "host:1:aaaaaa", &q, &err), CF_OK);
    const char *qs[1] = {"default"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 200, NULL, &f), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(q), "shared connection"));
    /* The connection is still fine for ordinary commands. */
    assert_int_equal(exec3(r, "PING", NULL, NULL, &rep), CF_OK);
    cf_reply_free(rep);
    cf_queue_free(q);
    cf_redis_free(r);
    cf_mux_free(m);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mux_threads_get_their_own_replies_in_order),
        cmocka_unit_test(test_mux_queued_requests_go_out_as_one_batch),
        cmocka_unit_test(test_mux_reset_fails_the_whole_batch_then_reconnects),
        cmocka_unit_test(test_mux_silent_connection_times_out),
        cmocka_unit_test(test_mux_client_kill_then_reconnect),
        cmocka_unit_test(test_mux_scripts_survive_script_flush),
        cmocka_unit_test(test_mux_refuses_blocking_commands),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
