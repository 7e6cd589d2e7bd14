// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_sd_notify.c: the worker under a service manager (systemd Type=notify,
 * deploy/systemd/chronoforge-worker@.service), with the test playing systemd's part on a
 * NOTIFY_SOCKET: READY=1 comes first (Redis and Postgres reached), then WATCHDOG=1 pings at the
 * pace WATCHDOG_USEC asks for; a wedged housekeeping loop (a test hook) stops them and they
 * resume once it runs again; SIGTERM sends STOPPING=1 and nothing follows it but pings. The
 * stock binary does not carry the hook. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/e2e.h"
#include "tests/support/sd_listener.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000
#define WATCHDOG_MS 400 /* WATCHDOG_USEC below: pings every 100 ms */
#define SILENCE_MS  (10 * WATCHDOG_MS)

static cf_e2e E;

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

/* next_not_ping returns the next message that is not WATCHDOG=1 (counting those in *pings). */
static void next_not_ping(int fd, char *msg, size_t cap, int *pings, int64_t timeout_ms)
{
    for (;;) {
        if (cf_sd_recv(fd, msg, cap, timeout_ms) < 0) {
            msg[0] = '\0';
            return;
        }
        if (strcmp(msg, "WATCHDOG=1") != 0)
            return;
        (*pings)++;
    }
}

static void test_ready_watchdog_wedge_and_stopping(void **state)
{
    (void)state;
    char stock[1024], hooks[1100];
    snprintf(stock, sizeof stock, "%s", cf_test_env("CF_BIN"));
    snprintf(hooks, sizeof hooks, "%s-test-hooks", stock);
    if (access(hooks, X_OK) != 0)
        fail_msg("%s not found: build it with `make MODE=... tests`", hooks);
    assert_false(
        cf_e2e_file_contains(stock, "CHRONOFORGE_TEST_WEDGE_HOUSEKEEPING")); /* not in prod */

    char sock[300], wedge[300], env_sock[320], env_wedge[340];
    snprintf(sock, sizeof sock, "%s/notify.sock", E.dir);
    snprintf(wedge, sizeof wedge, "%s/wedge", E.dir);
    snprintf(env_sock, sizeof env_sock, "NOTIFY_SOCKET=%s", sock);
    snprintf(env_wedge, sizeof env_wedge, "CHRONOFORGE_TEST_WEDGE_HOUSEKEEPING=%s", wedge);
    int fd = cf_sd_listen(sock);
    const char *env[] = {env_sock, "WATCHDOG_USEC=400000", env_wedge, NULL};
    const char *args[] = {"-c", "2", NULL};
    setenv("CF_BIN", hooks, 1);
    cf_e2e_worker(&E, 0, args, env);
    setenv("CF_BIN", stock, 1);

    /* READY=1 first: nothing (not even a ping) before it */
    char msg[256];
    assert_true(cf_sd_recv(fd, msg, sizeof msg, DEADLINE_MS) > 0);
    assert_string_equal(msg, "READY=1");
    assert_true(cf_e2e_log_contains(&E, 0, "event=worker_ready"));
    cf_e2e_enqueue(&E, "Exerciser", "notify-1", "{\"steps\": 2}");
    assert_true(cf_e2e_wait_state(&E, "notify-1", "completed", DEADLINE_MS));

    /* pings while healthy */
    int pings = 0;
    while (pings < 3) {
        assert_true(cf_sd_recv(fd, msg, sizeof msg, DEADLINE_MS) > 0);
        assert_string_equal(msg, "WATCHDOG=1");
        pings++;
    }

    /* wedge housekeeping: once it is blocked, no ping for many watchdog intervals */
    int wfd = open(wedge, O_CREAT | O_WRONLY, 0600);
    assert_true(wfd >= 0);
    close(wfd);
    assert_true(cf_e2e_wait_log_events(&E, 0, "test_housekeeping_wedged", NULL, 1, DEADLINE_MS));
    cf_sd_drain(fd); /* pings sent before the loop blocked */
    assert_int_equal(cf_sd_recv(fd, msg, sizeof msg, SILENCE_MS), -1);

    /* unwedged: the pings resume (the silence was the wedge's doing) */
    assert_int_equal(unlink(wedge), 0);
    assert_true(cf_sd_recv(fd, msg, sizeof msg, DEADLINE_MS) > 0);
    assert_string_equal(msg, "WATCHDOG=1");

    /* SIGTERM: STOPPING=1 when the drain starts, never a second READY=1 */
    cf_e2e_signal(&E, 0, SIGTERM);
    pings = 0;
    next_not_ping(fd, msg, sizeof msg, &pings, DEADLINE_MS);
    assert_string_equal(msg, "STOPPING=1");
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 0);
    next_not_ping(fd, msg, sizeof msg, &pings, 0);
    assert_string_equal(msg, ""); /* nothing but pings after STOPPING=1 */
    close(fd);
}

/* Without NOTIFY_SOCKET (a worker started by hand, a container) nothing changes: the worker
 * runs and stops as always, and no socket named by a stale WATCHDOG_USEC is touched. */
static void test_without_notify_socket_the_worker_runs_as_before(void **state)
{
    (void)state;
    const char *env[] = {"WATCHDOG_USEC=400000", NULL};
    const char *args[] = {"-c", "1", NULL};
    cf_e2e_worker(&E, 0, args, env);
    cf_e2e_enqueue(&E, "Exerciser", "plain-1", "{\"steps\": 1}");
    assert_true(cf_e2e_wait_state(&E, "plain-1", "completed", DEADLINE_MS));
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 0);
    assert_false(cf_e2e_log_contains(&E, 0, "event=sd_notify_failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_watchdog_wedge_and_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_notify_socket_the_worker_runs_as_before, setup,
                                        teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_sd_notify", tests, NULL, NULL);
}
