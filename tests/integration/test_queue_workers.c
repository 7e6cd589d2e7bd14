// SPDX-License-Identifier: MIT
/* tests/integration/test_queue_workers.c: queue/heartbeat's published worker info and
 * queue/workers against the real Redis: what a beat publishes, a quiet request applied at the
 * next beat and undone by resume, a local request recorded in Redis, requests to unknown
 * workers refused, and the info deleted on deregistration. */
#include <signal.h>
#include <string.h>

#include "queue/heartbeat.h"
#include "queue/keys.h"
#include "queue/redis_conn.h"
#include "queue/workers.h"
#include "tests/support/test.h"

#define WID "host:1:abc123"

static bool is_quiet(void *hb)
{
    return cf_heartbeat_quiet(hb);
}

static bool is_not_quiet(void *hb)
{
    return !cf_heartbeat_quiet(hb);
}

typedef struct probe {
    cf_queue *q;
} probe;

static bool quiet_recorded(void *arg)
{
    probe *pr = arg;
    cf_worker_entry *list = NULL;
    size_t n = 0;
    bool yes = cf_workers_list(pr->q, 60000, &list, &n) == CF_OK && n == 1 &&
               list[0].quiet_wanted && list[0].quiet;
    cf_workers_list_free(list, n);
    return yes;
}

/* only_worker lists the workers of q's prefix and checks there is exactly WID. */
static cf_worker_entry *only_worker(cf_queue *q, size_t *n)
{
    cf_worker_entry *list = NULL;
    assert_int_equal(cf_workers_list(q, 60000, &list, n), CF_OK);
    assert_int_equal(*n, 1);
    assert_string_equal(list[0].id, WID);
    return list;
}

static void test_workers_info_quiet_resume_and_deregister(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *q = cf_test_queue_open(p, NULL); /* an operator's handle */
    cf_redis *r = cf_queue_redis(q);
    atomic_int busy = 2;
    cf_heartbeat_info info = {"critical,default", 4, &busy, NULL};
    cf_heartbeat *hb = NULL;
    cf_error err = {0};
    assert_int_equal(cf_heartbeat_start_info(cf_test_env("CF_TEST_REDIS_URL"), NULL, p, WID, 20,
                                             &info, &hb, &err),
                     CF_OK);
    size_t n;
    cf_worker_entry *list = only_worker(q, &n);
    assert_true(list[0].live && list[0].has_info);
    assert_string_equal(list[0].queues, "critical,default");
    assert_int_equal(list[0].concurrency, 4);
    assert_int_equal(list[0].busy, 2);
    assert_int_equal(list[0].keyspace, CF_KEYSPACE_VERSION); /* what a mixed fleet is told by */
    assert_true(list[0].pid > 0);
    assert_false(list[0].quiet);
    cf_workers_list_free(list, n);

    /* An operator's request applies at the next beat; resume undoes it. */
    assert_false(cf_heartbeat_quiet(hb));
    assert_int_equal(cf_workers_set_quiet(q, WID, true), CF_OK);
    assert_true(cf_test_wait_for(is_quiet, hb, 10000));
    list = only_worker(q, &n);
    assert_true(list[0].quiet_wanted);
    cf_workers_list_free(list, n);
    assert_int_equal(cf_workers_set_quiet(q, WID, false), CF_OK);
    assert_true(cf_test_wait_for(is_not_quiet, hb, 10000));

    /* A local request (SIGTSTP) quiets at once and is recorded for the fleet to see. */
    cf_heartbeat_request_quiet(hb);
    assert_true(cf_heartbeat_quiet(hb));
    cf_heartbeat_request_quiet(hb); /* idempotent */
    probe pr = {q};
    assert_true(cf_test_wait_for(quiet_recorded, &pr, 10000));
    cf_heartbeat_stop(hb); /* a beat has recorded it... */
    hb = NULL;
    assert_int_equal(cf_heartbeat_start_info(cf_test_env("CF_TEST_REDIS_URL"), NULL, p, WID, 20,
                                             &info, &hb, &err),
                     CF_OK);
    assert_true(cf_heartbeat_quiet(hb)); /* ...so the same id starts quiet */
    list = only_worker(q, &n);
    assert_true(list[0].quiet && list[0].quiet_wanted);
    cf_workers_list_free(list, n);

    /* Unknown workers are refused and nothing is written for them. */
    assert_int_equal(cf_workers_set_quiet(q, "nobody:1:000000", true), CF_ERR_NOT_FOUND);
    assert_non_null(strstr(cf_queue_errstr(q), "publishes no info"));
    char key[CF_KEY_MAX];
    cf_key_worker_info(key, sizeof key, p, "nobody:1:000000");
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 2, (const char *const[]){"EXISTS", key},
                                   (const size_t[]){6, strlen(key)}, &rep),
                     CF_OK);
    assert_int_equal(rep->integer, 0);
    cf_reply_free(rep);

    cf_heartbeat_stop(hb);
    cf_queue *wq = cf_test_queue_open(p, WID);
    assert_int_equal(cf_heartbeat_deregister(wq), CF_OK);
    cf_queue_free(wq);
    cf_key_worker_info(key, sizeof key, p, WID);
    assert_int_equal(cf_redis_exec(r, 2, (const char *const[]){"EXISTS", key},
                                   (const size_t[]){6, strlen(key)}, &rep),
                     CF_OK);
    assert_int_equal(rep->integer, 0);
    cf_reply_free(rep);
    assert_int_equal(cf_workers_list(q, 60000, &list, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_workers_list_free(list, n);
    cf_queue_free(q);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_info_quiet_resume_and_deregister),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
