// SPDX-License-Identifier: MIT
/* tests/integration/test_delivery_effects.c: the end of a pass as a list of effects
 * (engine/effects.h) carried out by queue/delivery against the real Redis: several publishes
 * into different queues (a continuation, a child's first envelope with kwargs, a parent's wake)
 * and a remove, in the order release -> publishes -> removes -> ack, publishes grouped by
 * queue, and the same end run again (a retry after a lost reply) changing nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/buf.h"
#include "engine/effects.h"
#include "queue/delivery.h"
#include "queue/envelope.h"
#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/redis_conn.h"
#include "tests/support/test.h"
#include "worker/delivery_end.h"

#define WORKER "wfx"

static cf_queue *q_; /* WORKER's handle */
static cf_redis *r_; /* its connection, for raw commands */
static char P[64];

static cf_reply *cmd(int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r_, argc, argv, lens, &rep), CF_OK);
    return rep;
}

static void ok(int argc, const char **argv)
{
    cf_reply_free(cmd(argc, argv));
}

/* The score of member in P:{queue}:scheduled, or -1. */
static long long score(const char *queue, const cf_buf *member)
{
    char key[CF_KEY_MAX];
    cf_key_scheduled(key, sizeof key, P, queue);
    const char *a[3] = {"ZSCORE", key, member->data};
    size_t l[3] = {6, strlen(key), member->len};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r_, 3, a, l, &rep), CF_OK);
    long long v = rep->type == CF_REPLY_STRING ? atoll(rep->str) : -1;
    cf_reply_free(rep);
    return v;
}

static long long zcard(const char *queue)
{
    char key[CF_KEY_MAX];
    cf_key_scheduled(key, sizeof key, P, queue);
    cf_reply *rep = cmd(2, (const char *[]){"ZCARD", key});
    long long n = rep->integer;
    cf_reply_free(rep);
    return n;
}

static void continuation(const char *cls, const char *key, const char *queue, cf_buf *out)
{
    assert_int_equal(cf_envelope_encode_continuation(cls, key, queue, out), CF_OK);
}

/* Position (oldest first) in the slow log entries of each command named name whose argument 1
 * is key1; fills pos[0..*n). */
static void positions(const cf_reply *log, const char *name, const char *key1, int *pos, int *n)
{
    *n = 0;
    for (size_t i = 0; i < log->n; i++) {
        const cf_reply *args = &log->elem[log->n - 1 - i].elem[3];
        if (args->n > 1 && strcasecmp(args->elem[0].str, name) == 0 &&
            strcmp(args->elem[1].str, key1) == 0)
            pos[(*n)++] = (int)i;
    }
}

static void test_effects_published_in_order_and_idempotent(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* one server's SLOWLOG / CLIENT ID */
        return;
    cf_test_prefix(P, sizeof P);
    q_ = cf_test_queue_open(P, WORKER);
    r_ = cf_queue_redis(q_);
    cf_lock_holder h;
    assert_int_equal(cf_lock_acquire(q_, "Deliv", "a", WORKER "/r1", 60000, &h), CF_OK);
    char inflight[CF_KEY_MAX], sched3[CF_KEY_MAX];
    cf_key_inflight(inflight, sizeof inflight, P, "default", WORKER);
    ok(3, (const char *[]){"LPUSH", inflight, "the-envelope"});
    cf_buf old = CF_BUF_INIT;
    continuation("Old", "o", "q3", &old);
    cf_key_scheduled(sched3, sizeof sched3, P, "q3");
    {
        const char *a[4] = {"ZADD", sched3, "9", old.data};
        size_t l[4] = {4, strlen(sched3), 1, old.len};
        cf_reply *rep = NULL;
        assert_int_equal(cf_redis_exec(r_, 4, a, l, &rep), CF_OK);
        cf_reply_free(rep);
    }

    /* What a pass that started a child and woke its parent would leave. */
    cf_effects fx = CF_EFFECTS_INIT;
    json_t *kw = json_pack("{si}", "x", 1);
    assert_int_equal(cf_effects_publish(&fx, "Deliv", "a", "q1", NULL, 5000), CF_OK);
    assert_int_equal(cf_effects_publish(&fx, "Child", "c1", "q2", kw, 1000), CF_OK);
    assert_int_equal(cf_effects_publish(&fx, "Parent", "p", "q1", NULL, 3000), CF_OK);
    assert_int_equal(cf_effects_remove(&fx, "Old", "o", "q3"), CF_OK);
    assert_int_equal(cf_effects_publish(&fx, "", "x", NULL, NULL, 1), CF_ERR_INVALID);
    json_decref(kw);
    cf_delivery_effects out;
    assert_int_equal(cf_delivery_effects_build(&fx, "default", &out), CF_OK);
    assert_int_equal(out.npublish, 3);
    assert_int_equal(out.nremove, 1);
    cf_delivery_end d = {.queue = "default",
                         .env = "the-envelope",
                         .env_len = 12,
                         .wf_class = "Deliv",
                         .wf_key = "a",
                         .token = WORKER "/r1",
                         .publish = out.publish,
                         .npublish = out.npublish,
                         .remove = out.remove,
                         .nremove = out.nremove};

    ok(4, (const char *[]){"CONFIG", "SET", "slowlog-log-slower-than", "0"});
    ok(4, (const char *[]){"CONFIG", "SET", "slowlog-max-len", "1024"});
    ok(2, (const char *[]){"SLOWLOG", "RESET"});
    bool released = false, acked = false;
    assert_int_equal(cf_delivery_finish(q_, &d, &released, &acked), CF_OK);
    cf_reply *log = cmd(3, (const char *[]){"SLOWLOG", "GET", "1024"});
    ok(4, (const char *[]){"CONFIG", "SET", "slowlog-log-slower-than", "10000"});
    assert_true(released);
    assert_true(acked);

    /* every effect landed */
    cf_buf own = CF_BUF_INIT, parent = CF_BUF_INIT;
    continuation("Deliv", "a", "q1", &own);
    continuation("Parent", "p", "q1", &parent);
    assert_int_equal(score("q1", &own), 5000);
    assert_int_equal(score("q1", &parent), 3000);
    assert_int_equal(zcard("q2"), 1);
    assert_int_equal(score("q2", &out.members[1]), 1000);
    cf_envelope child;
    assert_int_equal(
        cf_envelope_decode(out.members[1].data, out.members[1].len, NULL, &child, NULL), CF_OK);
    assert_string_equal(child.wf_class, "Child");
    assert_string_equal(child.queue, "q2");
    assert_int_equal(json_integer_value(json_object_get(child.kwargs, "x")), 1);
    assert_false(cf_envelope_is_continuation(&child));
    cf_envelope_deinit(&child);
    assert_int_equal(score("q3", &old), -1);
    char queues[CF_KEY_MAX];
    cf_key_queues(queues, sizeof queues, P);
    cf_reply *rep = cmd(3, (const char *[]){"SISMEMBER", queues, "q2"});
    assert_int_equal(rep->integer, 1);
    cf_reply_free(rep);

    /* order: release, then the publishes (q1's together), then the remove, then the ack */
    char lock[CF_KEY_MAX], s1[CF_KEY_MAX], s2[CF_KEY_MAX];
    cf_key_lock(lock, sizeof lock, P, "Deliv", "a");
    cf_key_scheduled(s1, sizeof s1, P, "q1");
    cf_key_scheduled(s2, sizeof s2, P, "q2");
    int rel[4], z1[4], z2[4], rem[4], ackp[4], n1, n2, n3, n4, n5;
    n1 = 0; /* EVAL's argument 1 is the script text, 3 the lock key */
    for (size_t i = 0; i < log->n; i++) {
        const cf_reply *args = &log->elem[log->n - 1 - i].elem[3];
        if (args->n > 3 && strcasecmp(args->elem[0].str, "EVAL") == 0 &&
            strcmp(args->elem[3].str, lock) == 0)
            rel[n1++] = (int)i;
    }
    positions(log, "ZADD", s1, z1, &n2);
    positions(log, "ZADD", s2, z2, &n3);
    positions(log, "ZREM", sched3, rem, &n4);
    positions(log, "LREM", inflight, ackp, &n5);
    /* one queue's publishes are one slot group: between q1's two ZADDs only q1's keys (the
     * schedule_add script logs as EVAL ... 1 <key>, then its ZADD, ZRANGE, maybe PUBLISH) */
    for (int i = n2 == 2 ? z1[0] + 1 : 0; n2 == 2 && i < z1[1]; i++) {
        const cf_reply *args = &log->elem[log->n - 1 - (size_t)i].elem[3];
        bool eval = strcasecmp(args->elem[0].str, "EVAL") == 0;
        const char *k = args->n > (eval ? 3u : 1u) ? args->elem[eval ? 3 : 1].str : "";
        assert_true(strncmp(k, s1, strlen(s1) - strlen("scheduled")) == 0);
    }
    cf_reply_free(log);
    assert_int_equal(n1, 1);
    assert_int_equal(n2, 2);
    assert_int_equal(n3, 1);
    assert_int_equal(n4, 1);
    assert_int_equal(n5, 1);
    assert_true(rel[0] < z1[0]);
    assert_true(z1[0] < z1[1]);
    assert_true(z1[1] < z2[0]);
    assert_true(z2[0] < rem[0]);
    assert_true(rem[0] < ackp[0]);

    /* the same end again (a retry after a lost reply): nothing more happens */
    assert_int_equal(cf_delivery_finish(q_, &d, &released, &acked), CF_OK);
    assert_false(released);
    assert_false(acked);
    assert_string_equal(cf_queue_errstr(q_), "");
    assert_int_equal(zcard("q1"), 2);

    /* refused before any I/O, with the reason on the handle: too many effects, a bad queue
     * name among the publishes, a handle without a worker id */
    cf_delivery_publish many[CF_DELIVERY_MAX_EFFECTS + 1];
    for (size_t i = 0; i < CF_DELIVERY_MAX_EFFECTS + 1; i++)
        many[i] = (cf_delivery_publish){"q1", own.data, own.len, 1, true};
    cf_delivery_end big = d;
    big.publish = many;
    big.npublish = CF_DELIVERY_MAX_EFFECTS + 1;
    assert_int_equal(cf_delivery_finish(q_, &big, &released, &acked), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(q_), "effects"));
    cf_delivery_publish bad = {"no spaces", own.data, own.len, 1, true};
    big.publish = &bad;
    big.npublish = 1;
    assert_int_equal(cf_delivery_finish(q_, &big, &released, &acked), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(q_), "bad queue name"));
    cf_queue *anon = cf_test_queue_open(P, NULL);
    assert_int_equal(cf_delivery_finish(anon, &d, &released, &acked), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(anon), "worker id"));
    cf_queue_free(anon);
    assert_int_equal(score("q1", &own), 5000); /* nothing of those was sent */
    assert_int_equal(zcard("q2"), 1);
    assert_int_equal(score("q1", &own), 5000);

    cf_delivery_effects_deinit(&out);
    cf_effects_deinit(&fx);
    cf_buf_deinit(&own);
    cf_buf_deinit(&parent);
    cf_buf_deinit(&old);
    cf_queue_free(q_);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_effects_published_in_order_and_idempotent),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
