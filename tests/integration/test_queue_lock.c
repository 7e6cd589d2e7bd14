// SPDX-License-Identifier: MIT
/* tests/integration/test_queue_lock.c: queue/lock against the real Redis: holder-only release,
 * holder inspection, the P:held mirror, and 8 contenders on their own connections that never
 * hold the same lock at once (an overlap detector). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "tests/support/test.h"

static long long scard(cf_queue *q, const char *worker)
{
    cf_redis *r = cf_queue_redis(q);
    const char *prefix = cf_queue_prefix(q);
    char key[CF_KEY_MAX];
    cf_key_held(key, sizeof key, prefix, worker);
    const char *a[2] = {"SCARD", key};
    size_t l[2] = {5, strlen(key)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 2, a, l, &rep), CF_OK);
    long long n = rep->integer;
    cf_reply_free(rep);
    return n;
}

static void test_lock_release_only_by_holder(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *qa = cf_test_queue_open(p, "wA"), *qb = cf_test_queue_open(p, "wB");
    cf_queue *anon = cf_test_queue_open(p, NULL);
    cf_lock_holder h;
    assert_int_equal(cf_lock_acquire(qa, "Order", "k1", "wA/r1", 60000, &h), CF_OK);
    assert_string_equal(h.value, "wA/r1");
    assert_true(h.pttl_ms > 0 && h.pttl_ms <= 60000);
    assert_int_equal(scard(qa, "wA"), 1);
    /* The same token again (a retried SET whose reply was lost): it is ours, not busy. */
    assert_int_equal(cf_lock_acquire(qa, "Order", "k1", "wA/r1", 60000, &h), CF_OK);
    assert_string_equal(h.value, "wA/r1");
    assert_true(h.pttl_ms > 0 && h.pttl_ms <= 60000);
    assert_int_equal(scard(qa, "wA"), 1);
    /* The same worker under another run: busy (a second run of this worker holds it). */
    assert_int_equal(cf_lock_acquire(qa, "Order", "k1", "wA/r2", 60000, &h), CF_ERR_BUSY);
    assert_string_equal(h.value, "wA/r1");
    assert_int_equal(scard(qa, "wA"), 1);
    /* Someone else: busy, told who holds it and for how long; no stray P:held entry. */
    assert_int_equal(cf_lock_acquire(qb, "Order", "k1", "wB/r7", 60000, &h), CF_ERR_BUSY);
    assert_string_equal(h.value, "wA/r1");
    assert_true(h.pttl_ms > 0);
    assert_int_equal(scard(qb, "wB"), 0);
    /* Wrong token: refused, lock intact. */
    assert_int_equal(cf_lock_release(qb, "Order", "k1", "wB/r7"), CF_ERR_CONFLICT);
    assert_int_equal(cf_lock_release(qa, "Order", "k1", "wA/r2"), CF_ERR_CONFLICT);
    assert_int_equal(cf_lock_inspect(anon, "Order", "k1", &h), CF_OK);
    assert_string_equal(h.value, "wA/r1");
    /* The holder: released, mirror emptied; releasing again is a conflict. */
    assert_int_equal(cf_lock_release(qa, "Order", "k1", "wA/r1"), CF_OK);
    assert_int_equal(scard(qa, "wA"), 0);
    assert_int_equal(cf_lock_release(qa, "Order", "k1", "wA/r1"), CF_ERR_CONFLICT);
    assert_int_equal(cf_lock_inspect(qa, "Order", "k1", &h), CF_ERR_NOT_FOUND);
    assert_string_equal(h.value, "");
    /* A token of another worker is refused outright, and the handle says why. */
    assert_int_equal(cf_lock_acquire(qa, "Order", "k1", "wB/r1", 1000, NULL), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(qa), "token"));
    /* A handle without a worker id cannot take a lock ... */
    assert_int_equal(cf_lock_acquire(anon, "Order", "k1", "wA/r3", 1000, NULL), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(anon), "worker id"));
    /* ... but can free one of any worker (the sweeper, the CLI): the token's worker's P:held
     * entry goes with it. */
    assert_int_equal(cf_lock_acquire(qa, "Order", "k2", "wA/r4", 60000, NULL), CF_OK);
    assert_int_equal(scard(qa, "wA"), 1);
    assert_int_equal(cf_lock_release(anon, "Order", "k2", "wA/r4"), CF_OK);
    assert_string_equal(cf_queue_errstr(anon), "");
    assert_int_equal(scard(qa, "wA"), 0);
    /* a value without a run part (a foreign writer's) is still released by its holder's value */
    char lk[CF_KEY_MAX];
    cf_key_lock(lk, sizeof lk, p, "Order", "k3");
    const char *set[3] = {"SET", lk, "foreign"};
    size_t setl[3] = {3, strlen(lk), 7};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(cf_queue_redis(anon), 3, set, setl, &rep), CF_OK);
    cf_reply_free(rep);
    assert_int_equal(cf_lock_release(anon, "Order", "k3", "foreign"), CF_OK);
    assert_int_equal(cf_lock_inspect(anon, "Order", "k3", &h), CF_ERR_NOT_FOUND);
    assert_int_equal(cf_lock_release(anon, "Order", "k3", ""), CF_ERR_INVALID);
    cf_queue_free(anon);
    cf_queue_free(qb);
    cf_queue_free(qa);
}

typedef struct contention {
    const char *prefix;
    atomic_int inside;
    atomic_int overlaps;
    atomic_long acquired;
    int rounds;
} contention;

typedef struct contender {
    contention *c;
    int id;
    cf_status st;
} contender;

static void *contend(void *arg)
{
    contender *me = arg;
    contention *c = me->c;
    cf_queue *q = NULL;
    char worker[32], token[64];
    snprintf(worker, sizeof worker, "w%d", me->id);
    me->st = cf_queue_open(cf_test_env("CF_TEST_REDIS_URL"), c->prefix, worker, NULL, &q, NULL);
    for (int i = 0; me->st == CF_OK && i < c->rounds; i++) {
        snprintf(token, sizeof token, "%s/run%d", worker, i);
        cf_status st = cf_lock_acquire(q, "Busy", "one", token, 30000, NULL);
        if (st == CF_ERR_BUSY)
            continue;
        if (st != CF_OK) {
            me->st = st;
            break;
        }
        if (atomic_fetch_add(&c->inside, 1) != 0)
            atomic_fetch_add(&c->overlaps, 1);
        atomic_fetch_add(&c->acquired, 1);
        /* Hold it across a round trip so that others really try meanwhile. */
        cf_lock_holder h;
        if (cf_lock_inspect(q, "Busy", "one", &h) != CF_OK || strcmp(h.value, token) != 0)
            atomic_fetch_add(&c->overlaps, 1);
        atomic_fetch_sub(&c->inside, 1);
        me->st = cf_lock_release(q, "Busy", "one", token);
    }
    cf_queue_free(q);
    return NULL;
}

/* cf_lock_set_ttl: compare-and-PEXPIRE, only by the holder's token. */
static void test_lock_set_ttl_only_by_holder(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, "wA");
    cf_lock_holder h;
    assert_int_equal(cf_lock_acquire(q, "Order", "t1", "wA/r1", 60000, &h), CF_OK);
    /* The holder stretches it to two hours. */
    assert_int_equal(cf_lock_set_ttl(q, "Order", "t1", "wA/r1", 7200000), CF_OK);
    assert_int_equal(cf_lock_inspect(q, "Order", "t1", &h), CF_OK);
    assert_true(h.pttl_ms > 3600000 && h.pttl_ms <= 7200000);
    /* Another token: refused, TTL unchanged. */
    assert_int_equal(cf_lock_set_ttl(q, "Order", "t1", "wB/r2", 1000), CF_ERR_CONFLICT);
    assert_int_equal(cf_lock_inspect(q, "Order", "t1", &h), CF_OK);
    assert_true(h.pttl_ms > 3600000);
    /* Shortening works too; a missing lock is a conflict and is not created. */
    assert_int_equal(cf_lock_set_ttl(q, "Order", "t1", "wA/r1", 30000), CF_OK);
    assert_int_equal(cf_lock_inspect(q, "Order", "t1", &h), CF_OK);
    assert_true(h.pttl_ms > 0 && h.pttl_ms <= 30000);
    assert_int_equal(cf_lock_set_ttl(q, "Order", "none", "wA/r1", 30000), CF_ERR_CONFLICT);
    assert_int_equal(cf_lock_inspect(q, "Order", "none", &h), CF_ERR_NOT_FOUND);
    assert_int_equal(cf_lock_set_ttl(q, "Order", "t1", "wA/r1", 0), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(q), "ttl"));
    assert_int_equal(cf_lock_release(q, "Order", "t1", "wA/r1"), CF_OK);
    cf_queue_free(q);
}

static void test_lock_eight_contenders_never_overlap(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    contention c = {.prefix = p, .rounds = cf_test_scale(300)};
    atomic_init(&c.inside, 0);
    atomic_init(&c.overlaps, 0);
    atomic_init(&c.acquired, 0);
    contender cs[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        cs[i] = (contender){&c, i, CF_OK};
        assert_int_equal(pthread_create(&t[i], NULL, contend, &cs[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(cs[i].st, CF_OK);
    }
    assert_int_equal(atomic_load(&c.overlaps), 0);
    assert_true(atomic_load(&c.acquired) > 0);
    cf_queue *q = cf_test_queue_open(p, NULL);
    for (int i = 0; i < 8; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", i);
        assert_int_equal(scard(q, w), 0); /* every mirror entry went with its release */
    }
    cf_lock_holder h;
    assert_int_equal(cf_lock_inspect(q, "Busy", "one", &h), CF_ERR_NOT_FOUND);
    cf_queue_free(q);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_release_only_by_holder),
        cmocka_unit_test(test_lock_set_ttl_only_by_holder),
        cmocka_unit_test(test_lock_eight_contenders_never_overlap),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
