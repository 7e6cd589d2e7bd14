// SPDX-License-Identifier: MIT
/* tests/support/test.h: what every test includes: the headers cmocka 1.1.5 needs before
 * <cmocka.h>, and the shared fixtures (services from the environment, unique prefixes, fresh
 * databases, polling waits). */
#ifndef CF_TESTS_SUPPORT_TEST_H
#define CF_TESTS_SUPPORT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* cf_test_env returns getenv(name); when unset it skips the current test, or fails it when
 * CF_TEST_REQUIRE_SERVICES=1 (set by tests/run.sh --services and CI). */
const char *cf_test_env(const char *name);

/* cf_test_single_redis returns false (after skip()) when the suite runs against a Redis Cluster
 * (CF_TEST_REDIS_CLUSTER=1, tests/run.sh --cluster): for tests that stop, restart or proxy the one
 * Redis, or read one server's own state (SLOWLOG, CLIENT LIST). cf_test_env skips the same way for
 * the single Redis's port, socket, ACL and unix URLs. */
bool cf_test_single_redis(void);

/* cf_test_services_or_skip returns false (after skip()/fail()) when the services' environment
 * is missing; use at the top of integration tests. */
bool cf_test_have_services(void);

/* cf_test_redis_open connects to the test Redis (CF_TEST_REDIS_URL); fails the test on error.
 * Free with cf_redis_free. */
struct cf_redis *cf_test_redis_open(void);

/* cf_test_queue_open opens a queue handle on the test Redis under prefix, for worker_id (may
 * be NULL); fails the test on error. Free with cf_queue_free. */
struct cf_queue *cf_test_queue_open(const char *prefix, const char *worker_id);

/* cf_test_prefix writes a Redis key prefix unique to this process and call ("cf:test:<pid>:<hex>").
 */
void cf_test_prefix(char *buf, size_t cap);

/* cf_test_capture_stderr runs fn(arg) with the process's stderr sent to a temporary file (in
 * $TMPDIR, else /tmp), copies what was written into out (cap bytes, NUL-terminated) and echoes it
 * to the real stderr; fails the test when it does not fit (never checks a truncated log). */
void cf_test_capture_stderr(void (*fn)(void *), void *arg, char *out, size_t cap);

/* cf_test_apply_filter runs only the tests whose names match CF_TEST_FILTER (a glob), when it
 * is set; every test binary's main calls it before running its group (tests/run.sh). */
void cf_test_apply_filter(void);

/* cf_test_fresh_database creates an empty database on the test Postgres and writes a conninfo
 * for it into dsn (cap bytes). Fails the test on error. */
void cf_test_fresh_database(char *dsn, size_t cap);

/* cf_test_wait_for polls cond(arg) every 10 ms until it is true (returns true) or timeout_ms
 * passes (returns false). Tests never sleep a fixed time. */
bool cf_test_wait_for(bool (*cond)(void *arg), void *arg, int64_t timeout_ms);

/* cf_test_free_port returns a TCP port on 127.0.0.1 that was free a moment ago (for a server a
 * test starts, e.g. pgbouncer). */
int cf_test_free_port(void);

/* cf_test_scale returns n, divided by 10 (at least 1) under valgrind (CF_VALGRIND=1). */
int cf_test_scale(int n);

#endif
