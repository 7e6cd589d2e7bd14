// SPDX-License-Identifier: MIT
/* tests/integration/test_queue_deadletter.c: queue/deadletter against the real Redis: the
 * entry format (decoded back, and read by msgpack directly), leaving the in-flight list
 * atomically, the cap, truncation of big envelopes, retry and purge. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/deadletter.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/redis_conn.h"
#include "tests/support/test.h"

#define W "host:9:beefee"

static void test_deadletter_push_leaves_inflight_and_decodes(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    const char raw[5] = {'\xc1', 'x', '\0', 'y', '\xff'};
    assert_int_equal(cf_enqueue(q, "q", raw, sizeof raw), CF_OK);
    const char *qs[1] = {"q"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
    cf_deadletter_reason why = {"not_msgpack", "byte 0xc1 is never used", NULL};
    assert_int_equal(cf_deadletter_push(q, "q", f.data, f.len, &why, 1234567, 0), CF_OK);
    cf_fetched_deinit(&f);
    int64_t n = -1, dead = -1;
    assert_int_equal(cf_fetch_inflight_count(q, W, "q", &n), CF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cf_queue_depths(q, "q", NULL, NULL, &dead), CF_OK);
    assert_int_equal(dead, 1);
    cf_deadletter *list = NULL;
    size_t cnt = 0;
    assert_int_equal(cf_deadletter_list(q, "q", 0, 10, &list, &cnt), CF_OK);
    assert_int_equal(cnt, 1);
    assert_string_equal(list[0].code, "not_msgpack");
    assert_string_equal(list[0].reason, "byte 0xc1 is never used");
    assert_null(list[0].field);
    assert_int_equal(list[0].at_unix_ms, 1234567);
    assert_string_equal(list[0].worker, W);
    assert_string_equal(list[0].queue, "q");
    assert_int_equal(list[0].raw_len, sizeof raw);
    assert_memory_equal(list[0].raw, raw, sizeof raw);
    assert_false(list[0].raw_truncated);
    assert_true(list[0].entry_len > sizeof raw);
    cf_deadletter_list_free(list, cnt);
    cf_queue_free(q);
}

/* cf_deadletter_move pushes only what it took out of flight: a second move of the same
 * envelope (a retry after a lost reply) pushes nothing and says why on the handle; a handle
 * without a worker id is refused. */
static void test_deadletter_move_only_from_flight(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    assert_int_equal(cf_enqueue(q, "q", "env-1", 5), CF_OK);
    const char *qs[1] = {"q"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
    cf_deadletter_reason why = {"bad_value", "refused", NULL};
    assert_int_equal(cf_deadletter_move(q, "q", f.data, f.len, &why, 0, 0), CF_OK);
    assert_string_equal(cf_queue_errstr(q), "");
    assert_int_equal(cf_deadletter_move(q, "q", f.data, f.len, &why, 0, 0), CF_ERR_NOT_FOUND);
    assert_non_null(strstr(cf_queue_errstr(q), "not in flight"));
    int64_t dead = -1;
    assert_int_equal(cf_queue_depths(q, "q", NULL, NULL, &dead), CF_OK);
    assert_int_equal(dead, 1);
    cf_queue *anon = cf_test_queue_open(p, NULL);
    assert_int_equal(cf_deadletter_move(anon, "q", f.data, f.len, &why, 0, 0), CF_ERR_INVALID);
    assert_non_null(strstr(cf_queue_errstr(anon), "worker id"));
    cf_queue_free(anon);
    cf_fetched_deinit(&f);
    cf_queue_free(q);
}

static void test_deadletter_cap_and_truncation(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    cf_deadletter_reason why = {"bad_value", "bad", "kwargs.x"};
    for (int i = 0; i < 25; i++) {
        char raw[16];
        snprintf(raw, sizeof raw, "r%02d", i);
        assert_int_equal(cf_deadletter_push(q, "q", raw, strlen(raw), &why, 1000 + i, 10), CF_OK);
    }
    int64_t dead = 0;
    assert_int_equal(cf_queue_depths(q, "q", NULL, NULL, &dead), CF_OK);
    assert_int_equal(dead, 10);
    cf_deadletter *list = NULL;
    size_t cnt = 0;
    assert_int_equal(cf_deadletter_list(q, "q", 0, 100, &list, &cnt), CF_OK);
    assert_int_equal(cnt, 10);
    assert_memory_equal(list[0].raw, "r24", 3); /* newest first; the oldest were trimmed */
    assert_memory_equal(list[9].raw, "r15", 3);
    assert_string_equal(list[0].field, "kwargs.x");
    cf_deadletter_list_free(list, cnt);
    /* An envelope over 64 KiB is cut, and marked. */
    size_t big_len = CF_DEAD_RAW_MAX + 100;
    char *big = cf_calloc(1, big_len);
    memset(big, 'b', big_len);
    assert_int_equal(cf_deadletter_push(q, "q", big, big_len, &why, 0, 10), CF_OK);
    assert_int_equal(cf_deadletter_list(q, "q", 0, 1, &list, &cnt), CF_OK);
    assert_int_equal(cnt, 1);
    assert_true(list[0].raw_truncated);
    assert_int_equal(list[0].raw_len, CF_DEAD_RAW_MAX);
    assert_true(list[0].at_unix_ms > 1700000000000LL);
    cf_deadletter_list_free(list, cnt);
    cf_free(big);
    cf_queue_free(q);
}

static void test_deadletter_retry_and_purge(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, W);
    cf_deadletter_reason why = {"unknown_class", "no such class", "class"};
    for (int i = 0; i < 150; i++) {
        char raw[16];
        snprintf(raw, sizeof raw, "job-%03d", i);
        assert_int_equal(cf_deadletter_push(q, "q", raw, strlen(raw), &why, 1000 + i, 0), CF_OK);
    }
    /* A truncated one cannot be retried. */
    char *big = cf_calloc(1, CF_DEAD_RAW_MAX + 1);
    assert_int_equal(cf_deadletter_push(q, "q", big, CF_DEAD_RAW_MAX + 1, &why, 5000, 0), CF_OK);
    cf_free(big);
    int64_t moved = 0, skipped = 0, ready = 0, dead = 0, removed = 0;
    assert_int_equal(cf_deadletter_retry(q, "q", 30, &moved, &skipped), CF_OK);
    assert_int_equal(moved, 30);
    const char *qs[1] = {"q"};
    cf_fetched f;
    assert_int_equal(cf_fetch(q, qs, 1, 0, NULL, &f), CF_OK);
    assert_memory_equal(f.data, "job-000", 7); /* oldest first */
    cf_fetched_deinit(&f);
    /* Purge the ones older than at=1100 (job-030 .. job-099 remain old ones). */
    assert_int_equal(cf_deadletter_purge(q, "q", 1100, &removed), CF_OK);
    assert_int_equal(removed, 70);
    assert_int_equal(cf_deadletter_retry(q, "q", 0, &moved, &skipped), CF_OK);
    assert_int_equal(moved, 50);
    assert_int_equal(skipped, 1);
    assert_int_equal(cf_queue_depths(q, "q", &ready, NULL, &dead), CF_OK);
    assert_int_equal(ready, 29 + 50);
    assert_int_equal(dead, 1);
    assert_int_equal(cf_deadletter_purge(q, "q", 0, &removed), CF_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(cf_queue_depths(q, "q", NULL, NULL, &dead), CF_OK);
    assert_int_equal(dead, 0);
    cf_queue_free(q);
}

static void test_deadletter_decode_refuses_garbage(void **state)
{
    (void)state;
    cf_deadletter d;
    assert_int_equal(cf_deadletter_decode("\x93\x01\x02\x03", 4, &d), CF_ERR_INVALID);
    assert_int_equal(cf_deadletter_decode("\x81\xa4"
                                          "code",
                                          6, &d),
                     CF_ERR_INVALID);
    assert_int_equal(cf_deadletter_decode("", 0, &d), CF_ERR_INVALID);
    assert_null(d.code);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadletter_push_leaves_inflight_and_decodes),
        cmocka_unit_test(test_deadletter_move_only_from_flight),
        cmocka_unit_test(test_deadletter_cap_and_truncation),
        cmocka_unit_test(test_deadletter_retry_and_purge),
        cmocka_unit_test(test_deadletter_decode_refuses_garbage),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
