// SPDX-License-Identifier: MIT
/* tests/support/fixtures.c: service discovery from the environment written by
 * deploy/services.sh, unique Redis prefixes, fresh Postgres databases, polling waits. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "common/rand.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "tests/support/test.h"

static bool on_cluster(void)
{
    const char *c = getenv("CF_TEST_REDIS_CLUSTER");
    return c != NULL && strcmp(c, "1") == 0;
}

bool cf_test_single_redis(void)
{
    if (!on_cluster())
        return true;
    fprintf(stderr, "skipped: needs a single Redis (this suite runs on a Redis Cluster)\n");
    skip();
    return false;
}

const char *cf_test_env(const char *name)
{
    static const char *const single_only[] = {"CF_TEST_REDIS_PORT", "CF_TEST_REDIS_SOCK",
                                              "CF_TEST_REDIS_ACL_URL", "CF_TEST_REDIS_UNIX_URL"};
    for (size_t i = 0; i < sizeof single_only / sizeof single_only[0]; i++)
        if (strcmp(name, single_only[i]) == 0 && !cf_test_single_redis())
            return NULL;
    const char *v = getenv(name);
    if (v && *v)
        return v;
    const char *req = getenv("CF_TEST_REQUIRE_SERVICES");
    if (req && strcmp(req, "1") == 0)
        fail_msg("%s is not set but CF_TEST_REQUIRE_SERVICES=1", name);
    skip();
    return NULL;
}

bool cf_test_have_services(void)
{
    return cf_test_env("CF_TEST_REDIS_URL") && cf_test_env("CF_TEST_PG_DSN");
}

cf_redis *cf_test_redis_open(void)
{
    cf_redis *r = NULL;
    cf_error err = {0};
    if (cf_redis_open(cf_test_env("CF_TEST_REDIS_URL"), NULL, &r, &err) != CF_OK)
        fail_msg("open: %s", err.msg);
    return r;
}

cf_queue *cf_test_queue_open(const char *prefix, const char *worker_id)
{
    cf_queue *q = NULL;
    cf_error err = {0};
    if (cf_queue_open(cf_test_env("CF_TEST_REDIS_URL"), prefix, worker_id, NULL, &q, &err) != CF_OK)
        fail_msg("open: %s", err.msg);
    return q;
}

void cf_test_prefix(char *buf, size_t cap)
{
    char hex[9];
    cf_rand_hex(hex, 8);
    snprintf(buf, cap, "cf:test:%ld:%s", (long)getpid(), hex);
}

void cf_test_fresh_database(char *dsn, size_t cap)
{
    const char *admin = cf_test_env("CF_TEST_PG_ADMIN_DSN");
    char name[64], hex[9];
    cf_rand_hex(hex, 8);
    snprintf(name, sizeof name, "cf_test_%ld_%s", (long)getpid(), hex);
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to the test Postgres: %s", PQerrorMessage(c));
    char sql[128];
    /* An identifier cannot be a parameter; name is made of [a-z0-9_] only. */
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("CREATE DATABASE failed: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(dsn, cap, "host=%s port=%s user=postgres dbname=%s", cf_test_env("CF_TEST_PG_HOST"),
             cf_test_env("CF_TEST_PG_PORT"), name);
}

bool cf_test_wait_for(bool (*cond)(void *arg), void *arg, int64_t timeout_ms)
{
    int64_t deadline = cf_clock_mono_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (cf_clock_mono_ms() > deadline)
            return false;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int cf_test_scale(int n)
{
    const char *vg = getenv("CF_VALGRIND");
    if (vg && strcmp(vg, "1") == 0)
        return n / 10 > 0 ? n / 10 : 1;
    return n;
}

void cf_test_apply_filter(void)
{
    const char *filter = getenv("CF_TEST_FILTER");
    if (filter && filter[0])
        cmocka_set_test_filter(filter);
}

int cf_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

void cf_test_capture_stderr(void (*fn)(void *), void *arg, char *out, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    int len = snprintf(path, sizeof path, "%s/cf-test-log.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_true(len > 0 && (size_t)len < sizeof path); /* a cut template would not be ours */
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0 && dup2(fd, STDERR_FILENO) >= 0);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size >= 0 && (size_t)size < cap);
    ssize_t n = pread(fd, out, (size_t)size, 0);
    assert_int_equal(n, size);
    out[n] = '\0';
    close(fd);
    fputs(out, stderr); /* still visible in the test's output */
}
