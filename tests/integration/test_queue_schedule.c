// SPDX-License-Identifier: MIT
/* tests/integration/test_queue_schedule.c: queue/schedule against the real Redis: due
 * envelopes promoted in order and only when due, 4 concurrent promoters moving 10,000 due
 * envelopes with none lost or duplicated, 1,000 concurrent continuation publishes of one
 * workflow leaving one entry due at the earliest time, promotion to the due list ahead of a
 * backlog, the take's fairness bound, and the wake channel published only for a new earliest
 * entry. Each racer has its own connection. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"
#include "tests/support/test.h"

static void test_schedule_promotes_only_due_in_order(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, "w:1:000000");
    assert_int_equal(cf_enqueue_at(q, "q", "late", 4, 3000), CF_OK);
    assert_int_equal(cf_enqueue_at(q, "q", "first", 5, 1000), CF_OK);
    assert_int_equal(cf_enqueue_at(q, "q", "second", 6, 2000), CF_OK);
    int moved = -1;
    assert_int_equal(cf_schedule_promote(q, "q", 2500, 10, &moved), CF_OK);
    assert_int_equal(moved, 2);
    const char *qs[1] = {"q"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
    assert_memory_equal(f.data, "first", 5);
    cf_fetched_deinit(&f);
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
    assert_memory_equal(f.data, "second", 6);
    cf_fetched_deinit(&f);
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_ERR_NOT_FOUND);
    /* The server's clock (now <= 0) is far past 3000 ms since the epoch. */
    assert_int_equal(cf_schedule_promote(q, "q", 0, 0, &moved), CF_OK);
    assert_int_equal(moved, 1);
    assert_int_equal(cf_schedule_promote(q, "q", 0, CF_PROMOTE_BATCH_MAX + 1, &moved),
                     CF_ERR_INVALID);
    cf_queue_free(q);
}

typedef struct promoter {
    const char *prefix;
    long moved;
    cf_status st;
} promoter;

static void *promote_all(void *arg)
{
    promoter *pr = arg;
    cf_queue *q = NULL;
    pr->st = cf_queue_open(cf_test_env("CF_TEST_REDIS_URL"), pr->prefix, NULL, NULL, &q, NULL);
    for (int moved = 1; pr->st == CF_OK && moved > 0;) {
        pr->st = cf_schedule_promote(q, "q", 0, 37, &moved);
        pr->moved += moved;
    }
    cf_queue_free(q);
    return NULL;
}

static void test_schedule_four_promoters_lose_and_duplicate_nothing(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, NULL);
    cf_redis *r = cf_queue_redis(q);
    const int n = cf_test_scale(10000);
    char(*envs)[16] = cf_calloc((size_t)n, sizeof *envs);
    cf_enqueue_item *items = cf_calloc(1000, sizeof *items);
    for (int base = 0; base < n; base += 1000) {
        int k = n - base < 1000 ? n - base : 1000;
        for (int i = 0; i < k; i++) {
            int id = base + i;
            snprintf(envs[id], sizeof envs[id], "e%07d", id);
            items[i] = (cf_enqueue_item){"q", envs[id], strlen(envs[id]), 1000 + id % 977};
        }
        assert_int_equal(cf_enqueue_batch(q, items, (size_t)k), CF_OK);
    }
    promoter prs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        prs[i] = (promoter){p, 0, CF_OK};
        assert_int_equal(pthread_create(&t[i], NULL, promote_all, &prs[i]), 0);
    }
    long total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(prs[i].st, CF_OK);
        total += prs[i].moved;
    }
    assert_int_equal(total, n);
    /* Every envelope is on the ready or the due list exactly once. */
    char *seen = cf_calloc((size_t)n, 1);
    size_t found = 0;
    for (int list = 0; list < 2; list++) {
        char key[256];
        snprintf(key, sizeof key, "%s:{q}:%s", p, list == 0 ? "ready" : "due");
        const char *a[4] = {"LRANGE", key, "0", "-1"};
        size_t l[4] = {6, strlen(key), 1, 2};
        cf_reply *rep = NULL;
        assert_int_equal(cf_redis_exec(r, 4, a, l, &rep), CF_OK);
        for (size_t i = 0; i < rep->n; i++) {
            int id = atoi(rep->elem[i].str + 1);
            assert_true(id >= 0 && id < n);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
        }
        found += rep->n;
        cf_reply_free(rep);
    }
    assert_int_equal(found, (size_t)n);
    int64_t sched = -1;
    assert_int_equal(cf_queue_depths(q, "q", NULL, &sched, NULL), CF_OK);
    assert_int_equal(sched, 0);
    cf_free(seen);
    cf_free(items);
    cf_free(envs);
    cf_queue_free(q);
}

typedef struct publisher {
    const char *prefix;
    int first, count;
    int added;
    cf_status st;
} publisher;

#define MEMBER                                                                                     \
    "\x82\xa5"                                                                                     \
    "class\xa3"                                                                                    \
    "Foo\xa3key\xa2k1"

static void *publish_many(void *arg)
{
    publisher *pb = arg;
    cf_queue *q = NULL;
    pb->st = cf_queue_open(cf_test_env("CF_TEST_REDIS_URL"), pb->prefix, NULL, NULL, &q, NULL);
    for (int i = 0; pb->st == CF_OK && i < pb->count; i++) {
        /* Due times spread over [1e12 + 1000, 1e12 + 1000 + 7 * count); the earliest is published
         * by thread 3 in the middle of its run. */
        int k = pb->first + i;
        int64_t due = 1000000000000LL + 1000 + (int64_t)((k * 7919) % 5000);
        int added = 0;
        pb->st = cf_continuation_publish(q, "q", MEMBER, sizeof MEMBER - 1, due, &added);
        pb->added += added;
    }
    cf_queue_free(q);
    return NULL;
}

static void test_schedule_continuations_keep_one_entry_earliest_due(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    const int per = cf_test_scale(1000) / 4 > 0 ? cf_test_scale(1000) / 4 : 1;
    publisher pbs[4];
    pthread_t t[4];
    int64_t earliest = INT64_MAX;
    for (int k = 0; k < 4 * per; k++) {
        int64_t due = 1000000000000LL + 1000 + (int64_t)((k * 7919) % 5000);
        if (due < earliest)
            earliest = due;
    }
    for (int i = 0; i < 4; i++) {
        pbs[i] = (publisher){p, i * per, per, 0, CF_OK};
        assert_int_equal(pthread_create(&t[i], NULL, publish_many, &pbs[i]), 0);
    }
    int added = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(pbs[i].st, CF_OK);
        added += pbs[i].added;
    }
    assert_int_equal(added, 1);
    cf_queue *q = cf_test_queue_open(p, NULL);
    int64_t sched = -1, due = 0;
    assert_int_equal(cf_queue_depths(q, "q", NULL, &sched, NULL), CF_OK);
    assert_int_equal(sched, 1);
    assert_int_equal(cf_schedule_due_ms(q, "q", MEMBER, sizeof MEMBER - 1, &due), CF_OK);
    assert_int_equal(due, earliest);
    /* A later publish never raises it. */
    assert_int_equal(cf_continuation_publish(q, "q", MEMBER, sizeof MEMBER - 1, earliest + 1, NULL),
                     CF_OK);
    assert_int_equal(cf_schedule_due_ms(q, "q", MEMBER, sizeof MEMBER - 1, &due), CF_OK);
    assert_int_equal(due, earliest);
    int removed = 0;
    assert_int_equal(cf_continuation_remove(q, "q", MEMBER, sizeof MEMBER - 1, &removed), CF_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(cf_schedule_due_ms(q, "q", MEMBER, sizeof MEMBER - 1, &due), CF_ERR_NOT_FOUND);
    cf_queue_free(q);
}

static int64_t llen(cf_redis *r, const char *prefix, const char *list)
{
    char key[256];
    snprintf(key, sizeof key, "%s:{q}:%s", prefix, list);
    const char *a[2] = {"LLEN", key};
    size_t l[2] = {4, strlen(key)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 2, a, l, &rep), CF_OK);
    int64_t n = rep->integer;
    cf_reply_free(rep);
    return n;
}

static void fetch_expect(cf_queue *q, const char *want)
{
    const char *qs[1] = {"q"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
    assert_int_equal(f.len, strlen(want));
    assert_memory_equal(f.data, want, f.len);
    cf_fetched_deinit(&f);
}

/* Due wakes go to the due list (ahead of the backlog) while ready or due has entries, and
 * straight to ready when both are empty (a fetcher blocked there wakes); the promote call says
 * what is due next by the clock it used. Before: always LPUSH ready, behind the whole backlog. */
static void test_schedule_promotes_to_due_ahead_of_a_backlog(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, "w:1:000000");
    cf_redis *r = cf_queue_redis(q);
    assert_int_equal(cf_enqueue(q, "q", "b1", 2), CF_OK);
    assert_int_equal(cf_enqueue(q, "q", "b2", 2), CF_OK);
    assert_int_equal(cf_enqueue_at(q, "q", "w1", 2, 1000), CF_OK);
    assert_int_equal(cf_enqueue_at(q, "q", "w2", 2, 1500), CF_OK);
    assert_int_equal(cf_enqueue_at(q, "q", "later", 5, 9000), CF_OK);
    cf_promote_result res;
    assert_int_equal(cf_schedule_promote_next(q, "q", 2000, 10, &res), CF_OK);
    assert_int_equal(res.moved, 2);
    assert_int_equal(res.next_due_ms, 9000);
    assert_int_equal(res.now_ms, 2000);
    assert_int_equal(llen(r, p, "due"), 2);
    assert_int_equal(llen(r, p, "ready"), 2);
    int64_t ready = 0;
    assert_int_equal(cf_queue_depths(q, "q", &ready, NULL, NULL), CF_OK);
    assert_int_equal(ready, 4); /* stats count due as ready */
    /* The due wakes first, earliest first, then the backlog in order. */
    const char *qs[1] = {"q"};
    cf_fetched two[2];
    size_t n = 0;
    assert_int_equal(cf_fetch_take(q, qs, 1, 2, two, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(two[0].data, "w1", 2);
    assert_memory_equal(two[1].data, "w2", 2);
    cf_fetched_deinit(&two[0]);
    cf_fetched_deinit(&two[1]);
    fetch_expect(q, "b1");
    fetch_expect(q, "b2");
    /* Ready is empty now: the next due entry goes to ready itself. */
    assert_int_equal(cf_schedule_promote_next(q, "q", 0, 10, &res), CF_OK);
    assert_int_equal(res.moved, 1);
    assert_int_equal(res.next_due_ms, -1);
    assert_true(res.now_ms > 1700000000000LL); /* the server's clock */
    assert_int_equal(llen(r, p, "due"), 0);
    assert_int_equal(llen(r, p, "ready"), 1);
    /* Ready non-empty: to due. Then ready drained (as by a blocked fetcher's BLMOVE) while due
     * still has an entry: the next wake goes behind it in due, not past it into ready. */
    assert_int_equal(cf_enqueue_at(q, "q", "y1", 2, 100), CF_OK);
    assert_int_equal(cf_schedule_promote_next(q, "q", 200, 10, &res), CF_OK);
    assert_int_equal(llen(r, p, "due"), 1);
    char rk[256];
    snprintf(rk, sizeof rk, "%s:{q}:ready", p);
    const char *pop[2] = {"RPOP", rk};
    size_t popl[2] = {4, strlen(rk)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 2, pop, popl, &rep), CF_OK);
    assert_int_equal(rep->type, CF_REPLY_STRING);
    cf_reply_free(rep);
    assert_int_equal(cf_enqueue_at(q, "q", "y2", 2, 300), CF_OK);
    assert_int_equal(cf_schedule_promote_next(q, "q", 400, 10, &res), CF_OK);
    assert_int_equal(llen(r, p, "due"), 2);
    assert_int_equal(llen(r, p, "ready"), 0);
    assert_int_equal(cf_fetch_take(q, qs, 1, 2, two, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(two[0].data, "y1", 2);
    assert_memory_equal(two[1].data, "y2", 2);
    cf_fetched_deinit(&two[0]);
    cf_fetched_deinit(&two[1]);
    cf_queue_free(q);
}

/* The batched take: at most ceil(3 max / 4) from due while ready has entries; due fills the
 * batch when ready has none. Single fetches look at ready first once in every 4. */
static void test_take_bounds_the_due_share_of_a_batch(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, "w:1:000000");
    cf_redis *r = cf_queue_redis(q);
    char env[16];
    for (int i = 0; i < 12; i++) {
        snprintf(env, sizeof env, "r%02d", i);
        assert_int_equal(cf_enqueue(q, "q", env, 3), CF_OK);
    }
    for (int i = 0; i < 40; i++) {
        snprintf(env, sizeof env, "d%02d", i);
        assert_int_equal(cf_enqueue_at(q, "q", env, 3, 1000 + i), CF_OK);
    }
    int moved = 0;
    assert_int_equal(cf_schedule_promote(q, "q", 5000, 100, &moved), CF_OK);
    assert_int_equal(moved, 40);
    assert_int_equal(llen(r, p, "due"), 40);
    const char *qs[1] = {"q"};
    cf_fetched out[8];
    size_t n = 0, from_due = 0;
    assert_int_equal(cf_fetch_take(q, qs, 1, 8, out, &n), CF_OK);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        from_due += out[i].data[0] == 'd';
        if (i < 6) /* the due ones come first, oldest first */
            assert_memory_equal(out[i].data, i == 0 ? "d00" : i == 1 ? "d01" : out[i].data, 3);
        cf_fetched_deinit(&out[i]);
    }
    assert_int_equal(from_due, CF_FETCH_DUE_CAP(8));
    assert_int_equal(from_due, 6);
    /* Eight single fetches: two of them took from ready (one in four), six from due. */
    size_t single_due = 0;
    for (int i = 0; i < 8; i++) {
        cf_fetched f;
        assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
        single_due += f.data[0] == 'd';
        cf_fetched_deinit(&f);
    }
    assert_int_equal(single_due, 6);
    /* Drain ready (12 - 2 - 2 = 8 left); then a batch is due entries only. */
    assert_int_equal(llen(r, p, "ready"), 8);
    const char *del[2] = {"DEL", NULL};
    char rk[256];
    snprintf(rk, sizeof rk, "%s:{q}:ready", p);
    del[1] = rk;
    size_t dl[2] = {3, strlen(rk)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 2, del, dl, &rep), CF_OK);
    cf_reply_free(rep);
    assert_int_equal(cf_fetch_take(q, qs, 1, 8, out, &n), CF_OK);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].data[0], 'd');
        cf_fetched_deinit(&out[i]);
    }
    assert_int_equal(cf_fetch_take(q, qs, 1, 0, out, &n), CF_ERR_INVALID);
    cf_queue_free(q);
}

/* expect_wake waits for one message on sub and checks its payload; want NULL: none comes
 * within a short window (a message would arrive within milliseconds). */
static void expect_wake(cf_redis *sub, const char *want)
{
    cf_reply *msg = NULL;
    cf_status st = cf_redis_wait_message(sub, want ? 5000 : 300, -1, &msg);
    if (want == NULL) {
        assert_int_equal(st, CF_ERR_NOT_FOUND);
        return;
    }
    assert_int_equal(st, CF_OK);
    assert_string_equal(msg->elem[2].str, want);
    cf_reply_free(msg);
}

#define MEMBER2                                                                                    \
    "\x82\xa5"                                                                                     \
    "class\xa3"                                                                                    \
    "Foo\xa3key\xa2k2"

/* PUBLISH P:{Q}:wake "<due>" only when the entry added becomes the set's earliest: a new
 * earliest, a lowered due time (ZADD LT), an ack-and-continue; never for a later one. */
static void test_schedule_wake_published_only_for_a_new_earliest(void **state)
{
    (void)state;
    char p[64], chan[128];
    cf_test_prefix(p, sizeof p);
    snprintf(chan, sizeof chan, "%s:{q}:wake", p);
    cf_redis *sub = NULL;
    assert_int_equal(cf_redis_open(cf_test_env("CF_TEST_REDIS_URL"), NULL, &sub, NULL), CF_OK);
    const char *chans[1] = {chan};
    assert_int_equal(cf_redis_subscribe(sub, 1, chans), CF_OK);
    cf_queue *q = cf_test_queue_open(p, "w:1:000000");
    assert_int_equal(cf_continuation_publish(q, "q", MEMBER, sizeof MEMBER - 1, 5000, NULL), CF_OK);
    expect_wake(sub, "5000");
    assert_int_equal(cf_continuation_publish(q, "q", MEMBER2, sizeof MEMBER2 - 1, 6000, NULL),
                     CF_OK);
    expect_wake(sub, NULL);
    assert_int_equal(cf_continuation_publish(q, "q", MEMBER2, sizeof MEMBER2 - 1, 4000, NULL),
                     CF_OK);
    expect_wake(sub, "4000");
    /* Lowering MEMBER's due time, but not below the earliest: no wake. */
    assert_int_equal(cf_continuation_publish(q, "q", MEMBER, sizeof MEMBER - 1, 4500, NULL), CF_OK);
    expect_wake(sub, NULL);
    /* A busy redelivery's ack-and-continue that becomes the earliest. */
    assert_int_equal(cf_enqueue(q, "q", "env", 3), CF_OK);
    const char *qs[1] = {"q"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
    assert_int_equal(
        cf_fetch_ack_and_continue(q, "q", f.data, f.len, MEMBER, sizeof MEMBER - 1, 3000), CF_OK);
    cf_fetched_deinit(&f);
    expect_wake(sub, "3000");
    /* The wake fd ends a wait without a message. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    cf_reply *msg = NULL;
    assert_int_equal(cf_redis_wait_message(sub, 5000, fds[0], &msg), CF_ERR_NOT_FOUND);
    close(fds[0]);
    close(fds[1]);
    cf_queue_free(q);
    cf_redis_free(sub);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_promotes_only_due_in_order),
        cmocka_unit_test(test_schedule_four_promoters_lose_and_duplicate_nothing),
        cmocka_unit_test(test_schedule_continuations_keep_one_entry_earliest_due),
        cmocka_unit_test(test_schedule_promotes_to_due_ahead_of_a_backlog),
        cmocka_unit_test(test_take_bounds_the_due_share_of_a_batch),
        cmocka_unit_test(test_schedule_wake_published_only_for_a_new_earliest),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
