// SPDX-License-Identifier: MIT
/* tests/unit/test_liveness.c: common/liveness.h (the one definition of alive: a loop that has not
 * iterated within the bound is stale, a parked one is exempt, a touch during a reconnect wait
 * keeps it fresh, a loop that left is forgotten), http/health.h's bound and /healthz body, and
 * the ADDR:PORT parser of --metrics-listen. Times are injected (now_ms), never slept. */
#include <pthread.h>
#include <string.h>

#include "common/clock.h"
#include "common/liveness.h"
#include "http/health.h"
#include "http/server.h"
#include "tests/support/test.h"

static const cf_liveness_loop *find(const cf_liveness_loop *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0)
            return &l[i];
    return NULL;
}

static void test_a_loop_that_stops_iterating_goes_stale(void **state)
{
    (void)state;
    cf_liveness_tick("unit-loop");
    int64_t now = cf_clock_mono_ms();
    char why[256];
    assert_true(cf_liveness_check(now, 1000, why, sizeof why));
    assert_false(cf_liveness_check(now + 5000, 1000, why, sizeof why));
    assert_non_null(strstr(why, "stale: unit-loop"));
    cf_liveness_leave();
    assert_true(cf_liveness_check(now + 5000, 1000, why, sizeof why)); /* forgotten once it left */
}

static void test_a_parked_loop_is_exempt_until_its_next_tick(void **state)
{
    (void)state;
    cf_liveness_tick("unit-parked");
    cf_liveness_park(); /* inside user code, or idle */
    int64_t now = cf_clock_mono_ms();
    cf_liveness_loop l[32];
    size_t n = cf_liveness_snapshot(now + 60000, l, 32);
    const cf_liveness_loop *e = find(l, n, "unit-parked");
    assert_non_null(e);
    assert_int_equal(e->threads, 1);
    assert_int_equal(e->parked, 1);
    assert_int_equal(e->age_ms, 0);
    assert_true(cf_liveness_check(now + 60000, 1000, NULL, 0));
    cf_liveness_tick("unit-parked"); /* back in its loop: the bound applies again */
    assert_false(cf_liveness_check(cf_clock_mono_ms() + 60000, 1000, NULL, 0));
    cf_liveness_leave();
}

static void test_a_touch_while_waiting_for_a_dependency_keeps_it_alive(void **state)
{
    (void)state;
    cf_liveness_tick("unit-reconnect");
    cf_clock_sleep_ms(30, NULL);
    int64_t before = cf_clock_mono_ms();
    cf_liveness_touch(); /* a reconnect attempt */
    cf_liveness_loop l[32];
    size_t n = cf_liveness_snapshot(before, l, 32);
    const cf_liveness_loop *e = find(l, n, "unit-reconnect");
    assert_non_null(e);
    assert_true(e->age_ms < 30);
    cf_liveness_leave();
}

static void *other_thread(void *arg)
{
    (void)arg;
    cf_liveness_tick("unit-threads");
    cf_liveness_park();
    return NULL; /* leaves its slot taken and parked: still counted, exempt */
}

static void test_each_thread_has_its_own_slot(void **state)
{
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, NULL);
    cf_liveness_tick("unit-threads");
    cf_liveness_loop l[32];
    size_t n = cf_liveness_snapshot(cf_clock_mono_ms(), l, 32);
    const cf_liveness_loop *e = find(l, n, "unit-threads");
    assert_non_null(e);
    assert_int_equal(e->threads, 2);
    assert_int_equal(e->parked, 1);
    cf_liveness_leave();
}

static void test_bound_covers_the_longest_wait_and_healthz_names_the_loop(void **state)
{
    (void)state;
    cf_config cfg = {.statement_timeout_ms = 30000,
                     .heartbeat_ms = 2000,
                     .lease_ms = 10000,
                     .promote_interval_ms = 50,
                     .sweep_interval_ms = 5000};
    assert_int_equal(cf_health_bound_ms(&cfg), 2 * 35000 + 10000);
    cfg.db_io_timeout_ms = 1000;
    assert_int_equal(cf_health_bound_ms(&cfg), 2 * 10000 + 10000);
    char body[256];
    assert_true(cf_health_alive(&cfg, body, sizeof body));
    assert_string_equal(body, "ok\n");
}

static void test_listen_address_parses_host_and_port(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(cf_http_parse_listen("127.0.0.1:9464", host, sizeof host, &port), CF_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9464);
    assert_int_equal(cf_http_parse_listen("[::1]:80", host, sizeof host, &port), CF_OK);
    assert_string_equal(host, "::1");
    const char *bad[] = {"",           "9464",    ":9464", "localhost:", "localhost:0",
                         "host:70000", "host:12x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cf_http_parse_listen(bad[i], host, sizeof host, &port), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_loop_that_stops_iterating_goes_stale),
        cmocka_unit_test(test_a_parked_loop_is_exempt_until_its_next_tick),
        cmocka_unit_test(test_a_touch_while_waiting_for_a_dependency_keeps_it_alive),
        cmocka_unit_test(test_each_thread_has_its_own_slot),
        cmocka_unit_test(test_bound_covers_the_longest_wait_and_healthz_names_the_loop),
        cmocka_unit_test(test_listen_address_parses_host_and_port),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("liveness", tests, NULL, NULL);
}
