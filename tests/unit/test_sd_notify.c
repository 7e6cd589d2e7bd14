// SPDX-License-Identifier: MIT
/* tests/unit/test_sd_notify.c: worker/sd_notify.h: nothing is sent without NOTIFY_SOCKET; a
 * message reaches a path socket and an abstract one; the watchdog is due only when the manager
 * asks for one (WATCHDOG_USEC, for this pid), after READY=1, at a quarter of its interval, and
 * never while a loop of the process is stale (common/liveness.h). Times are injected. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/liveness.h"
#include "tests/support/sd_listener.h"
#include "tests/support/test.h"
#include "worker/sd_notify.h"

#define BOUND_MS 1000

static void socket_path(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/cf-sd-unit-%ld.sock", (long)getpid());
}

static void test_nothing_is_sent_without_notify_socket(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "400000", 1);
    assert_int_equal(cf_sd_notify("READY=1"), 0);
    assert_int_equal(cf_sd_watchdog_interval_ms(), 0);
    unsetenv("WATCHDOG_USEC");
}

static void test_a_message_reaches_a_path_and_an_abstract_socket(void **state)
{
    (void)state;
    char path[108], abstract[108], msg[64];
    socket_path(path, sizeof path);
    snprintf(abstract, sizeof abstract, "@cf-sd-unit-%ld", (long)getpid());
    const char *where[] = {path, abstract};
    for (int i = 0; i < 2; i++) {
        int fd = cf_sd_listen(where[i]);
        setenv("NOTIFY_SOCKET", where[i], 1);
        assert_int_equal(cf_sd_notify("STATUS=unit"), 1);
        assert_true(cf_sd_recv(fd, msg, sizeof msg, 5000) > 0);
        assert_string_equal(msg, "STATUS=unit");
        close(fd);
    }
    unlink(path);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1); /* not a unix socket: an error, not a crash */
    assert_int_equal(cf_sd_notify("READY=1"), -1);
    unsetenv("NOTIFY_SOCKET");
}

static void *stale_loop(void *arg)
{
    (void)arg;
    cf_liveness_tick("unit-stuck"); /* then never again, and never leaves */
    return NULL;
}

static void test_watchdog_pacing_and_the_liveness_gate(void **state)
{
    (void)state;
    char path[108], pid[32];
    socket_path(path, sizeof path);
    int fd = cf_sd_listen(path);
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(cf_sd_watchdog_interval_ms(), 0); /* another process's watchdog */
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(cf_sd_watchdog_interval_ms(), 400);

    int64_t now = cf_clock_mono_ms();
    assert_false(cf_sd_watchdog_due(now, BOUND_MS)); /* not before READY=1 */
    cf_sd_ready();
    char msg[64];
    assert_true(cf_sd_recv(fd, msg, sizeof msg, 5000) > 0);
    assert_string_equal(msg, "READY=1");
    assert_true(cf_sd_watchdog_due(now, BOUND_MS));
    cf_sd_watchdog(BOUND_MS);
    assert_true(cf_sd_recv(fd, msg, sizeof msg, 5000) > 0);
    assert_string_equal(msg, "WATCHDOG=1");
    int64_t sent = cf_clock_mono_ms();
    assert_false(cf_sd_watchdog_due(sent + 50, BOUND_MS)); /* < a quarter of 400 ms */
    assert_true(cf_sd_watchdog_due(sent + 100, BOUND_MS));

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stale_loop, NULL), 0);
    pthread_join(t, NULL);
    int64_t later = cf_clock_mono_ms() + BOUND_MS + 1;
    assert_false(cf_sd_watchdog_due(later, BOUND_MS)); /* unit-stuck is stale: no ping */
    assert_true(cf_sd_watchdog_due(later, 2 * BOUND_MS + 1000));

    close(fd);
    unlink(path);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_is_sent_without_notify_socket),
        cmocka_unit_test(test_a_message_reaches_a_path_and_an_abstract_socket),
        cmocka_unit_test(test_watchdog_pacing_and_the_liveness_gate),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("sd_notify", tests, NULL, NULL);
}
