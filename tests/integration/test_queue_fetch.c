// SPDX-License-Identifier: MIT
/* tests/integration/test_queue_fetch.c: queue/enqueue + queue/fetch against the real Redis:
 * enqueue -> fetch -> ack, priority order across queues, batch enqueue, put back / reschedule /
 * ack-and-continue, a shutdown request seen within a second during a blocking fetch, and the
 * batched take (at most max, oldest first, priority across queues, the rest left ready). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "queue/delivery.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/keys.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"
#include "tests/support/test.h"

#define W "host:1:aaaaaa"

static void test_fetch_enqueue_fetch_ack(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    const char env[4] = {'\x81', '\0', 'x', '\x01'};
    assert_int_equal(cf_enqueue(q, "default", env, sizeof env), CF_OK);
    const char *qs[1] = {"default"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 1000, NULL, &f), CF_OK);
    assert_int_equal(f.len, sizeof env);
    assert_memory_equal(f.data, env, sizeof env);
    assert_int_equal(f.queue_index, 0);
    int64_t n = -1, ready = -1;
    assert_int_equal(cf_fetch_inflight_count(q, W, "default", &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cf_queue_depths(q, "default", &ready, NULL, NULL), CF_OK);
    assert_int_equal(ready, 0);
    assert_int_equal(cf_fetch_ack(q, "default", f.data, f.len), CF_OK);
    assert_int_equal(cf_fetch_inflight_count(q, W, "default", &n), CF_OK);
    assert_int_equal(n, 0);
    /* A second ack finds nothing. */
    assert_int_equal(cf_fetch_ack(q, "default", f.data, f.len), CF_ERR_NOT_FOUND);
    cf_fetched_deinit(&f);
    /* Empty queue, no wait: nothing. */
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_ERR_NOT_FOUND);
    assert_null(f.data);
    /* FIFO over several jobs. */
    cf_enqueue_item items[3] = {
        {"default", "j1", 2, 0}, {"default", "j2", 2, 0}, {"default", "j3", 2, 0}};
    assert_int_equal(cf_enqueue_batch(q, items, 3), CF_OK);
    for (int i = 1; i <= 3; i++) {
        char want[16];
        snprintf(want, sizeof want, "j%d", i);
        assert_int_equal(cf_fetch(q, qs, 1, 1000, NULL, &f), CF_OK);
        assert_memory_equal(f.data, want, 2);
        assert_int_equal(cf_fetch_ack(q, "default", f.data, f.len), CF_OK);
        cf_fetched_deinit(&f);
    }
    assert_int_equal(cf_enqueue(q, "bad queue", "x", 1), CF_ERR_INVALID);
    cf_queue_free(q);
}

static void test_fetch_priority_order_across_queues(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    cf_enqueue_item items[5] = {{"low", "l1", 2, 0},
                                {"mid", "m1", 2, 0},
                                {"high", "h1", 2, 0},
                                {"low", "l2", 2, 0},
                                {"high", "h2", 2, 0}};
    assert_int_equal(cf_enqueue_batch(q, items, 5), CF_OK);
    const char *qs[3] = {"high", "mid", "low"};
    const char *want[5] = {"h1", "h2", "m1", "l1", "l2"};
    size_t want_q[5] = {0, 0, 1, 2, 2};
    for (int i = 0; i < 5; i++) {
        cf_fetched f;
        assert_int_equal(cf_fetch(q, qs, 3, 1000, NULL, &f), CF_OK);
        assert_memory_equal(f.data, want[i], 2);
        assert_int_equal(f.queue_index, want_q[i]);
        assert_int_equal(cf_fetch_ack(q, qs[f.queue_index], f.data, f.len), CF_OK);
        cf_fetched_deinit(&f);
    }
    cf_queue_free(q);
}

static void test_fetch_requeue_reschedule_continue(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    const char *qs[1] = {"q"};
    cf_fetched f;
    assert_int_equal(cf_enqueue(q, "q", "env-a", 5), CF_OK);
    assert_int_equal(cf_fetch(q, qs, 1, 1000, NULL, &f), CF_OK);
    assert_int_equal(cf_fetch_requeue(q, "q", f.data, f.len), CF_OK);
    assert_int_equal(cf_fetch_requeue(q, "q", f.data, f.len), CF_ERR_NOT_FOUND);
    cf_fetched_deinit(&f);
    int64_t ready = 0, sched = 0, n = 0;
    assert_int_equal(cf_queue_depths(q, "q", &ready, &sched, NULL), CF_OK);
    assert_int_equal(ready, 1);

    assert_int_equal(cf_fetch(q, qs, 1, 1000, NULL, &f), CF_OK);
    assert_int_equal(cf_fetch_reschedule(q, "q", f.data, f.len, 12345), CF_OK);
    int64_t due = 0;
    assert_int_equal(cf_schedule_due_ms(q, "q", "env-a", 5, &due), CF_OK);
    assert_int_equal(due, 12345);
    cf_fetched_deinit(&f);
    assert_int_equal(cf_fetch_inflight_count(q, W, "q", &n), CF_OK);
    assert_int_equal(n, 0);

    assert_int_equal(cf_enqueue(q, "q", "env-b", 5), CF_OK);
    assert_int_equal(cf_fetch(q, qs, 1, 1000, NULL, &f), CF_OK);
    assert_memory_equal(f.data, "env-b", 5);
    assert_int_equal(cf_fetch_ack_and_continue(q, "q", f.data, f.len, "cont", 4, 500), CF_OK);
    assert_int_equal(cf_schedule_due_ms(q, "q", "cont", 4, &due), CF_OK);
    assert_int_equal(due, 500);
    /* Not in flight any more: the continuation is still published (earlier wins). */
    assert_int_equal(cf_fetch_ack_and_continue(q, "q", f.data, f.len, "cont", 4, 400),
                     CF_ERR_NOT_FOUND);
    assert_int_equal(cf_schedule_due_ms(q, "q", "cont", 4, &due), CF_OK);
    assert_int_equal(due, 400);
    cf_fetched_deinit(&f);
    assert_int_equal(cf_queue_depths(q, "q", &ready, &sched, NULL), CF_OK);
    assert_int_equal(ready, 0);
    assert_int_equal(sched, 2);
    cf_queue_free(q);
}

/* The handle: a bad prefix or worker id is refused when opening it; a handle without a worker
 * id produces and reads but refuses what needs one, and says why on the handle. */
static void test_queue_handle_rules(void **state)
{
    (void)state;
    const char *url = cf_test_env("CF_TEST_REDIS_URL");
    cf_queue *q = NULL;
    cf_error err = {0};
    assert_int_equal(cf_queue_open(url, "bad{prefix}", NULL, NULL, &q, &err), CF_ERR_INVALID);
    assert_null(q);
    assert_string_equal(err.field, "prefix");
    assert_int_equal(cf_queue_open(url, "p", "", NULL, &q, &err), CF_ERR_INVALID);
    assert_string_equal(err.field, "worker_id");
    char p[64];
    cf_test_prefix(p, sizeof p);
    q = cf_test_queue_open(p, NULL);
    assert_string_equal(cf_queue_prefix(q), p);
    assert_null(cf_queue_worker_id(q));
    assert_int_equal(cf_enqueue(q, "h", "x", 1), CF_OK);
    assert_string_equal(cf_queue_errstr(q), "");
    const char *qs[1] = {"h"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(q), "worker id"));
    assert_int_equal(cf_enqueue(q, "bad queue", "x", 1), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(q), "bad queue name"));
    /* the next successful call clears the message */
    int64_t ready = 0;
    assert_int_equal(cf_queue_depths(q, "h", &ready, NULL, NULL), CF_OK);
    assert_int_equal(ready, 1);
    assert_string_equal(cf_queue_errstr(q), "");
    cf_queue_free(q);
    /* a key that cannot be built is refused before any I/O, with a message on the handle */
    q = cf_test_queue_open(p, W);
    char huge[2 * CF_KEY_MAX];
    memset(huge, 'k', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    cf_delivery_end d = {
        .queue = "h", .env = "x", .env_len = 1, .wf_class = "C", .wf_key = huge, .token = W "/run"};
    bool released = true, acked = true;
    assert_int_equal(cf_delivery_finish(q, &d, &released, &acked), CF_ERR_INVALID);
    assert_false(released);
    assert_false(acked);
    assert_non_null(strstr(cf_queue_errstr(q), "does not fit"));
    cf_queue_free(q);
}

typedef struct blocker {
    cf_queue *q;
    atomic_bool stop;
    atomic_bool done;
    cf_status st;
} blocker;

static void *block_fetch(void *arg)
{
    blocker *b = arg;
    const char *qs[2] = {"idle1", "idle2"};
    cf_fetched f;
    b->st = cf_fetch(b->q, qs, 2, 60000, &b->stop, &f);
    atomic_store(&b->done, true);
    return NULL;
}

static bool is_done(void *arg)
{
    return atomic_load(&((blocker *)arg)->done);
}

static void test_fetch_sees_shutdown_within_a_second(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    blocker b = {.q = cf_test_queue_open(p, W)};
    atomic_init(&b.stop, false);
    atomic_init(&b.done, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, block_fetch, &b), 0);
    /* Let it block for a while (it is waiting 60 s), then ask it to stop. */
    assert_false(cf_test_wait_for(is_done, &b, 300));
    atomic_store(&b.stop, true);
    assert_true(cf_test_wait_for(is_done, &b, 1000));
    pthread_join(t, NULL);
    assert_int_equal(b.st, CF_ERR_NOT_FOUND);
    cf_queue_free(b.q);
}

static void test_fetch_single_queue_blocking_wakes_on_push(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    cf_queue *producer = cf_test_queue_open(p, NULL);
    /* A fetch with a short wait on an empty queue returns NOT_FOUND. */
    const char *qs[1] = {"solo"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 150, NULL, &f), CF_ERR_NOT_FOUND);
    assert_int_equal(cf_enqueue(producer, "solo", "z", 1), CF_OK);
    assert_int_equal(cf_fetch(q, qs, 1, 5000, NULL, &f), CF_OK);
    assert_memory_equal(f.data, "z", 1);
    cf_fetched_deinit(&f);
    cf_queue_free(producer);
    cf_queue_free(q);
}

/* expect_taken checks that got[0..n) are envelopes named want[0..n) from queue index qi[i]. */
static void expect_taken(const cf_fetched *got, size_t n, const char *const *want, const size_t *qi)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].len, strlen(want[i]));
        assert_memory_equal(got[i].data, want[i], got[i].len);
        assert_int_equal(got[i].queue_index, qi[i]);
    }
}

static void test_fetch_take_batches_in_order_across_queues(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    const char *qs[2] = {"high", "low"};
    /* Pushed in this order: oldest first within a queue. */
    assert_int_equal(cf_enqueue(q, "low", "l1", 2), CF_OK);
    assert_int_equal(cf_enqueue(q, "high", "h1", 2), CF_OK);
    assert_int_equal(cf_enqueue(q, "low", "l2", 2), CF_OK);
    assert_int_equal(cf_enqueue(q, "high", "h2", 2), CF_OK);
    assert_int_equal(cf_enqueue(q, "low", "l3", 2), CF_OK);
    cf_fetched got[8];
    size_t n = 0;
    /* max 3: both of high, then the oldest of low; the rest stays ready. */
    assert_int_equal(cf_fetch_take(q, qs, 2, 3, got, &n), CF_OK);
    assert_int_equal(n, 3);
    const char *w1[3] = {"h1", "h2", "l1"};
    const size_t q1[3] = {0, 0, 1};
    expect_taken(got, n, w1, q1);
    int64_t inflight = -1, ready = -1;
    assert_int_equal(cf_fetch_inflight_count(q, W, "high", &inflight), CF_OK);
    assert_int_equal(inflight, 2);
    assert_int_equal(cf_fetch_inflight_count(q, W, "low", &inflight), CF_OK);
    assert_int_equal(inflight, 1);
    assert_int_equal(cf_queue_depths(q, "low", &ready, NULL, NULL), CF_OK);
    assert_int_equal(ready, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cf_fetch_ack(q, qs[got[i].queue_index], got[i].data, got[i].len), CF_OK);
        cf_fetched_deinit(&got[i]);
    }
    /* max 1 takes exactly one; a max above what is ready takes what there is. */
    assert_int_equal(cf_fetch_take(q, qs, 2, 1, got, &n), CF_OK);
    assert_int_equal(n, 1);
    const char *w2[1] = {"l2"};
    const size_t q2[1] = {1};
    expect_taken(got, n, w2, q2);
    cf_fetched_deinit(&got[0]);
    assert_int_equal(cf_fetch_take(q, qs, 2, 8, got, &n), CF_OK);
    assert_int_equal(n, 1);
    const char *w3[1] = {"l3"};
    expect_taken(got, n, w3, q2);
    cf_fetched_deinit(&got[0]);
    assert_int_equal(cf_fetch_take(q, qs, 2, 8, got, &n), CF_OK);
    assert_int_equal(n, 0);
    /* Bad arguments: no I/O, a message. */
    assert_int_equal(cf_fetch_take(q, qs, 2, 0, got, &n), CF_ERR_INVALID);
    const char *bad[1] = {"no{braces}"};
    assert_int_equal(cf_fetch_take(q, bad, 1, 1, got, &n), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(q), "bad queue name"));
    cf_queue_free(q);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_enqueue_fetch_ack),
        cmocka_unit_test(test_fetch_priority_order_across_queues),
        cmocka_unit_test(test_fetch_requeue_reschedule_continue),
        cmocka_unit_test(test_fetch_sees_shutdown_within_a_second),
        cmocka_unit_test(test_queue_handle_rules),
        cmocka_unit_test(test_fetch_single_queue_blocking_wakes_on_push),
        cmocka_unit_test(test_fetch_take_batches_in_order_across_queues),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
