// SPDX-License-Identifier: MIT
/* tests/integration/test_queue_recovery.c: queue/heartbeat + queue/recovery against the real
 * Redis: a worker whose lease expires has its in-flight work returned and its locks freed
 * (replaced by crash tombstones, taken over once by the next acquirer, which is told of the
 * crash) exactly once while two recoverers race (a lock re-taken by a live worker meanwhile is
 * kept); a recoverer that dies half-way leaves the rest to the next one; a worker leaving returns
 * its own stale leftovers; the heartbeat thread; control requests a dead worker had taken go back
 * to their list, oldest next. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/control.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/heartbeat.h"
#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/queue.h"
#include "queue/recovery.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"
#include "tests/support/test.h"

#define DEAD     "deadhost:42:d00d00"
#define LIVE     "livehost:7:a11ve0"
#define LEASE_MS 300

typedef struct dead_probe {
    cf_queue *q;
} dead_probe;

static bool is_dead(void *arg)
{
    dead_probe *d = arg;
    char **ids;
    size_t n;
    bool found = false;
    if (cf_recovery_dead_workers(d->q, LEASE_MS, &ids, &n) != CF_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        found = found || strcmp(ids[i], DEAD) == 0;
    cf_recovery_ids_free(ids, n);
    return found;
}

static bool lock_free(void *arg)
{
    dead_probe *d = arg;
    cf_lock_holder h;
    return cf_lock_inspect(d->q, "Wf", "b", &h) == CF_ERR_NOT_FOUND;
}

/* make_dead_worker registers DEAD, gives it n envelopes in flight on q1 and q2, lock a (still
 * its own) and lock b (expired, then taken by LIVE), and waits until its lease has passed. */
static void make_dead_worker(cf_queue *qd, cf_queue *ql, int n)
{
    const char *qs[2] = {"q1", "q2"};
    assert_int_equal(cf_queues_register(qd, qs, 2), CF_OK);
    assert_int_equal(cf_heartbeat_beat(qd), CF_OK);
    for (int i = 0; i < n; i++) {
        char env[32];
        snprintf(env, sizeof env, "env-%d", i);
        assert_int_equal(cf_enqueue(qd, qs[i % 2], env, strlen(env)), CF_OK);
        cf_fetched f;
        assert_int_equal(cf_fetch(qd, qs, 2, 0, NULL, &f), CF_OK);
        cf_fetched_deinit(&f);
    }
    assert_int_equal(cf_lock_acquire(qd, "Wf", "a", DEAD "/run1", 60000, NULL), CF_OK);
    assert_int_equal(cf_lock_acquire(qd, "Wf", "b", DEAD "/run2", 30, NULL), CF_OK);
    dead_probe d = {ql};
    assert_true(cf_test_wait_for(lock_free, &d, 5000));
    assert_int_equal(cf_lock_acquire(ql, "Wf", "b", LIVE "/run9", 60000, NULL), CF_OK);
    assert_true(cf_test_wait_for(is_dead, &d, 5000));
}

/* assert_recovered: n envelopes back in ready, DEAD's lock a freed (by recovery: a crash
 * tombstone that lives a few leases; by the worker leaving: deleted), LIVE's lock b kept. */
static void assert_recovered(cf_queue *q, int n, bool tombstone)
{
    cf_redis *r = cf_queue_redis(q);
    const char *p = cf_queue_prefix(q);
    int64_t r1 = 0, r2 = 0, i1 = -1, i2 = -1;
    assert_int_equal(cf_queue_depths(q, "q1", &r1, NULL, NULL), CF_OK);
    assert_int_equal(cf_queue_depths(q, "q2", &r2, NULL, NULL), CF_OK);
    assert_int_equal(r1 + r2, n);
    assert_int_equal(cf_fetch_inflight_count(q, DEAD, "q1", &i1), CF_OK);
    assert_int_equal(cf_fetch_inflight_count(q, DEAD, "q2", &i2), CF_OK);
    assert_int_equal(i1 + i2, 0);
    cf_lock_holder h;
    if (tombstone) {
        assert_int_equal(cf_lock_inspect(q, "Wf", "a", &h), CF_OK);
        assert_string_equal(h.value, CF_LOCK_TOMBSTONE_PREFIX DEAD);
        assert_true(cf_lock_is_tombstone(h.value));
        assert_true(h.pttl_ms > 0 && h.pttl_ms <= CF_RECOVERY_TOMBSTONE_LEASES * LEASE_MS);
    } else {
        assert_int_equal(cf_lock_inspect(q, "Wf", "a", &h), CF_ERR_NOT_FOUND);
    }
    assert_int_equal(cf_lock_inspect(q, "Wf", "b", &h), CF_OK);
    assert_string_equal(h.value, LIVE "/run9");
    char wk[CF_KEY_MAX], hk[CF_KEY_MAX];
    cf_key_workers(wk, sizeof wk, p);
    cf_key_held(hk, sizeof hk, p, DEAD);
    const char *a0[3] = {"ZSCORE", wk, DEAD};
    size_t l0[3] = {6, strlen(wk), strlen(DEAD)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 3, a0, l0, &rep), CF_OK);
    assert_int_equal(rep->type, CF_REPLY_NIL);
    cf_reply_free(rep);
    const char *a1[2] = {"EXISTS", hk};
    size_t l1[2] = {6, strlen(hk)};
    assert_int_equal(cf_redis_exec(r, 2, a1, l1, &rep), CF_OK);
    assert_int_equal(rep->integer, 0);
    cf_reply_free(rep);
}

typedef struct recoverer {
    const char *prefix;
    cf_recovery_stats stats;
    cf_status st;
} recoverer;

static void *recover(void *arg)
{
    recoverer *rc = arg;
    cf_queue *q = NULL;
    rc->st = cf_queue_open(cf_test_env("CF_TEST_REDIS_URL"), rc->prefix, LIVE, NULL, &q, NULL);
    if (rc->st == CF_OK)
        rc->st = cf_recovery_run(q, LEASE_MS, &rc->stats);
    cf_queue_free(q);
    return NULL;
}

static void test_recovery_two_racers_recover_once(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *qd = cf_test_queue_open(p, DEAD), *ql = cf_test_queue_open(p, LIVE);
    const int n = cf_test_scale(250);
    make_dead_worker(qd, ql, n);
    recoverer rc[2] = {{p, {0}, CF_OK}, {p, {0}, CF_OK}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, recover, &rc[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(rc[i].st, CF_OK);
    }
    assert_int_equal(rc[0].stats.workers + rc[1].stats.workers, 1);
    assert_int_equal(rc[0].stats.envelopes + rc[1].stats.envelopes, n);
    assert_int_equal(rc[0].stats.locks + rc[1].stats.locks, 1);
    assert_int_equal(rc[0].stats.skipped_locks + rc[1].stats.skipped_locks, 1);
    assert_recovered(ql, n, true);
    /* Nothing left to do for a later pass. */
    cf_recovery_stats s;
    assert_int_equal(cf_recovery_run(ql, LEASE_MS, &s), CF_OK);
    assert_int_equal(s.workers, 0);
    cf_queue_free(ql);
    cf_queue_free(qd);
}

/* Regression (make chaos, Redis restarted from an AOF a second older than its last writes): a
 * live worker's in-flight list got back envelopes it had acked and its held set locks it had
 * released. Deregistering on a graceful exit left them to nobody. Leaving now returns them. */
static void test_recovery_leave_returns_stale_inflight_and_locks(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *qd = cf_test_queue_open(p, DEAD), *ql = cf_test_queue_open(p, LIVE);
    const int n = 5;
    make_dead_worker(qd, ql, n); /* its lease is irrelevant here: it leaves by itself */
    cf_recovery_stats s;
    assert_int_equal(cf_recovery_leave(qd, &s), CF_OK);
    assert_int_equal(s.envelopes, n);
    assert_int_equal(s.locks, 1);
    assert_int_equal(s.skipped_locks, 1);
    assert_int_equal(s.workers, 0);
    assert_int_equal(cf_heartbeat_deregister(qd), CF_OK);
    assert_recovered(ql, n, false);
    /* Leaving again finds nothing. */
    assert_int_equal(cf_recovery_leave(qd, &s), CF_OK);
    assert_int_equal(s.envelopes + s.locks + s.skipped_locks, 0);
    cf_queue_free(ql);
    cf_queue_free(qd);
}

static void test_recovery_survives_a_recoverer_dying_half_way(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *qd = cf_test_queue_open(p, DEAD), *ql = cf_test_queue_open(p, LIVE);
    const int n = 10;
    make_dead_worker(qd, ql, n);
    cf_redis *r = cf_queue_redis(ql);
    /* A recoverer claims the dead worker, returns one envelope, and dies. */
    char wk[CF_KEY_MAX], ik[CF_KEY_MAX], rk[CF_KEY_MAX];
    cf_key_workers(wk, sizeof wk, p);
    cf_key_inflight(ik, sizeof ik, p, "q1", DEAD);
    cf_key_ready(rk, sizeof rk, p, "q1");
    const char *ca[3] = {wk, DEAD, "300"};
    size_t cl[3] = {strlen(wk), strlen(DEAD), 3};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_eval(r, &cf_script_claim_worker, 1, 3, ca, cl, &rep), CF_OK);
    assert_int_equal(rep->type, CF_REPLY_STRING);
    cf_reply_free(rep);
    const char *ma[3] = {ik, rk, "1"};
    size_t ml[3] = {strlen(ik), strlen(rk), 1};
    assert_int_equal(cf_redis_eval(r, &cf_script_inflight_return, 2, 3, ma, ml, &rep), CF_OK);
    assert_int_equal(rep->integer, 1);
    cf_reply_free(rep);
    /* While the claim lasts, nobody else takes the worker. */
    cf_recovery_stats s;
    assert_int_equal(cf_recovery_run(ql, LEASE_MS, &s), CF_OK);
    assert_int_equal(s.workers, 0);
    /* One lease later it looks dead again and the next pass finishes it. */
    dead_probe d = {ql};
    assert_true(cf_test_wait_for(is_dead, &d, 5000));
    assert_int_equal(cf_recovery_run(ql, LEASE_MS, &s), CF_OK);
    assert_int_equal(s.workers, 1);
    assert_int_equal(s.envelopes, n - 1);
    assert_int_equal(s.locks, 1);
    assert_recovered(ql, n, true);
    cf_queue_free(ql);
    cf_queue_free(qd);
}

static bool beaten_thrice(void *arg)
{
    return cf_heartbeat_beats(arg) >= 3;
}

static void test_recovery_heartbeat_thread_keeps_worker_live(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_heartbeat *hb = NULL;
    cf_error err = {0};
    assert_int_equal(
        cf_heartbeat_start(cf_test_env("CF_TEST_REDIS_URL"), NULL, p, LIVE, 20, &hb, &err), CF_OK);
    assert_true(cf_test_wait_for(beaten_thrice, hb, 5000));
    assert_true(cf_heartbeat_last_ok_ms(hb) > 0);
    cf_queue *q = cf_test_queue_open(p, LIVE);
    int64_t live = 0;
    assert_int_equal(cf_recovery_live_workers(q, 60000, &live), CF_OK);
    assert_int_equal(live, 1);
    cf_heartbeat_stop(hb);
    assert_int_equal(cf_heartbeat_deregister(q), CF_OK);
    assert_int_equal(cf_recovery_live_workers(q, 60000, &live), CF_OK);
    assert_int_equal(live, 0);
    cf_queue_free(q);
}

/* The tombstone a recovered lock leaves is taken over by the next acquirer, which is told a
 * crash happened (so its run takes the durable begin and counts it); only one acquirer gets
 * it, the others see a holder (busy), as a release without tombstones does. */
static void test_recovery_tombstone_taken_over_once_and_reports_the_crash(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *qd = cf_test_queue_open(p, DEAD), *ql = cf_test_queue_open(p, LIVE);
    make_dead_worker(qd, ql, 1);
    cf_recovery_stats s;
    assert_int_equal(cf_recovery_run(ql, LEASE_MS, &s), CF_OK);
    assert_int_equal(s.locks, 1);
    cf_lock_holder h;
    assert_int_equal(cf_lock_acquire(ql, "Wf", "a", LIVE "/run10", 60000, &h), CF_OK);
    assert_true(h.crashed);
    assert_string_equal(h.value, LIVE "/run10");
    assert_int_equal(cf_lock_inspect(ql, "Wf", "a", &h), CF_OK);
    assert_string_equal(h.value, LIVE "/run10");
    assert_true(h.pttl_ms > CF_RECOVERY_TOMBSTONE_LEASES * LEASE_MS);
    /* a second acquirer meets the live holder, not a tombstone */
    assert_int_equal(cf_lock_acquire(ql, "Wf", "a", LIVE "/run11", 60000, &h), CF_ERR_BUSY);
    assert_false(h.crashed);
    /* released normally, the next acquirer is told nothing */
    assert_int_equal(cf_lock_release(ql, "Wf", "a", LIVE "/run10"), CF_OK);
    assert_int_equal(cf_lock_acquire(ql, "Wf", "a", LIVE "/run12", 60000, &h), CF_OK);
    assert_false(h.crashed);
    cf_queue_free(ql);
    cf_queue_free(qd);
}

/* take_control takes the next control request of q1 for q's worker; returns it (owned). */
static char *take_control(cf_queue *q)
{
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(cf_control_take(q, "q1", 0, &raw, &len), CF_OK);
    return raw;
}

static void test_recovery_returns_taken_control_requests(void **state)
{
    (void)state;
    char p[64];
    cf_test_prefix(p, sizeof p);
    cf_queue *qd = cf_test_queue_open(p, DEAD), *ql = cf_test_queue_open(p, LIVE);
    const char *qs[1] = {"q1"};
    assert_int_equal(cf_queues_register(qd, qs, 1), CF_OK);
    assert_int_equal(cf_heartbeat_beat(qd), CF_OK);
    assert_int_equal(cf_control_push(ql, "q1", "req-a", 5), CF_OK);
    assert_int_equal(cf_control_push(ql, "q1", "req-b", 5), CF_OK);
    cf_free(take_control(qd));
    cf_free(take_control(qd)); /* DEAD holds both, unanswered */
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(cf_control_take(ql, "q1", 0, &raw, &len), CF_ERR_NOT_FOUND);
    dead_probe d = {ql};
    assert_true(cf_test_wait_for(is_dead, &d, 5000));
    cf_recovery_stats s;
    assert_int_equal(cf_recovery_run(ql, LEASE_MS, &s), CF_OK);
    assert_int_equal(s.workers, 1);
    raw = take_control(ql);
    assert_string_equal(raw, "req-a"); /* the oldest is taken first again */
    cf_free(raw);
    raw = take_control(ql);
    assert_string_equal(raw, "req-b");
    cf_free(raw);
    cf_queue_free(ql);
    cf_queue_free(qd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovery_two_racers_recover_once),
        cmocka_unit_test(test_recovery_leave_returns_stale_inflight_and_locks),
        cmocka_unit_test(test_recovery_survives_a_recoverer_dying_half_way),
        cmocka_unit_test(test_recovery_tombstone_taken_over_once_and_reports_the_crash),
        cmocka_unit_test(test_recovery_heartbeat_thread_keeps_worker_live),
        cmocka_unit_test(test_recovery_returns_taken_control_requests),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
