// SPDX-License-Identifier: MIT
/* tests/integration/test_queue_schedule.c: queue/schedule against the real Redis: due
 * envelopes promoted in order and only when due, 4 concurrent promoters moving 10,000 due
 * envelopes with none lost or duplicated, and 1,000 concurrent continuation publishes of one
 * workflow leaving one entry due at the earliest time. Each racer has its own connection. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* Every envelope is on the ready list exactly once. */
    char key[256];
    snprintf(key, sizeof key, "%s:{q}:ready", p);
    const char *a[4] = {"LRANGE", key, "0", "-1"};
    size_t l[4] = {6, strlen(key), 1, 2};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 4, a, l, &rep), CF_OK);
    assert_int_equal(rep->n, (size_t)n);
    char *seen = cf_calloc((size_t)n, 1);
    for (size_t i = 0; i < rep->n; i++) {
        int id = atoi(rep->elem[i].str + 1);
        assert_true(id >= 0 && id < n);
        assert_int_equal(seen[id], 0);
        seen[id] = 1;
    }
    int64_t sched = -1;
    assert_int_equal(cf_queue_depths(q, "q", NULL, &sched, NULL), CF_OK);
    assert_int_equal(sched, 0);
    cf_free(seen);
    cf_reply_free(rep);
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

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_promotes_only_due_in_order),
        cmocka_unit_test(test_schedule_four_promoters_lose_and_duplicate_nothing),
        cmocka_unit_test(test_schedule_continuations_keep_one_entry_earliest_due),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
