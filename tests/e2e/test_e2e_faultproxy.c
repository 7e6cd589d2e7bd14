// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_faultproxy.c: the fault proxy (tests/support/faultproxy.py) against the
 * test Redis and Postgres: the k-th SET runs on the server while its client sees a reset and
 * no reply; replies before the fault still arrive and requests after it never run; --every
 * repeats the fault; a stall holds every reply until resumed or timed out; the k-th COMMIT, the
 * k-th Execute of a prepared statement and the k-th Sync of a pipeline commit on the server
 * while the client loses its connection (through libpq, SSLRequest included); a worker fleet
 * whose Redis and Postgres traffic goes through two relaying proxies completes its work. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "queue/redis_conn.h"
#include "tests/support/e2e.h"
#include "tests/support/faultproxy.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000

static cf_faultproxy P, P2;
static char K[64]; /* this run's key prefix */

static int setup(void **state)
{
    (void)state;
    cf_test_prefix(K, sizeof K);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_faultproxy_stop(&P);
    cf_faultproxy_stop(&P2);
    return 0;
}

/* ---- Redis through a raw socket: exactly what the client sent and saw ---- */

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* resp appends the RESP array of the words of cmd (space-separated) to buf. */
static void resp(char *buf, size_t cap, const char *cmd)
{
    char words[256], *save = NULL;
    snprintf(words, sizeof words, "%s", cmd);
    int n = 0;
    char *w[8];
    for (char *t = strtok_r(words, " ", &save); t && n < 8; t = strtok_r(NULL, " ", &save))
        w[n++] = t;
    size_t used = strlen(buf);
    used += (size_t)snprintf(buf + used, cap - used, "*%d\r\n", n);
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, cap - used, "$%zu\r\n%s\r\n", strlen(w[i]), w[i]);
}

/* send_auth_and appends AUTH and then cmds (NULL-terminated) and writes them in one write. */
static void send_auth_and(int fd, const char *const *cmds)
{
    char buf[2048] = "", auth[200];
    snprintf(auth, sizeof auth, "AUTH %s", cf_test_env("CF_TEST_REDIS_PASSWORD"));
    resp(buf, sizeof buf, auth);
    for (int i = 0; cmds[i]; i++)
        resp(buf, sizeof buf, cmds[i]);
    assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
}

/* read_all reads until the peer ends the connection or deadline; *err gets 0 for an orderly
 * close (FIN), the errno of a reset otherwise, -1 when the deadline passed. */
static size_t read_all(int fd, char *out, size_t cap, int64_t timeout_ms, int *err)
{
    size_t n = 0;
    int64_t deadline = cf_clock_mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - cf_clock_mono_ms());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) <= 0) {
            *err = -1;
            break;
        }
        ssize_t k = read(fd, out + n, cap - 1 - n);
        if (k <= 0) {
            *err = k == 0 ? 0 : errno;
            break;
        }
        n += (size_t)k;
    }
    out[n] = '\0';
    return n;
}

/* server_get reads key K:name straight from the test Redis ("(nil)" when absent). */
static void server_get(const char *name, char *out, size_t cap)
{
    char key[128];
    snprintf(key, sizeof key, "%s:%s", K, name);
    cf_redis *r = cf_test_redis_open();
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, strlen(key)};
    cf_reply *rep = NULL;
    assert_int_equal(cf_redis_exec(r, 2, argv, lens, &rep), CF_OK);
    snprintf(out, cap, "%.*s", rep->type == CF_REPLY_STRING ? (int)rep->len : 5,
             rep->type == CF_REPLY_STRING ? rep->str : "(nil)");
    cf_reply_free(rep);
    cf_redis_free(r);
}

static void test_redis_kth_set_runs_but_its_reply_is_lost(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    const char *args[] = {"--match", "SET", "--after", "2", "--action", "reset", NULL};
    cf_faultproxy_start(&P, "redis", args);
    char c1[128], c2[128], c3[128], c4[128];
    snprintf(c1, sizeof c1, "SET %s:x1 1", K);
    snprintf(c2, sizeof c2, "INCR %s:c", K);
    snprintf(c3, sizeof c3, "SET %s:x2 2", K);
    snprintf(c4, sizeof c4, "SET %s:x3 3", K);
    int fd = dial(P.port);
    const char *pipeline[] = {c1, c2, c3, c4, NULL}; /* one write: a pipeline */
    send_auth_and(fd, pipeline);
    char got[1024];
    int err = 0;
    read_all(fd, got, sizeof got, DEADLINE_MS, &err);
    close(fd);
    /* the replies before the fault arrived (AUTH, SET x1, INCR), then a reset, not a close */
    assert_string_equal(got, "+OK\r\n+OK\r\n:1\r\n");
    assert_int_equal(err, ECONNRESET);
    /* the 2nd SET ran; what came after it never reached the server */
    char v[64];
    server_get("x1", v, sizeof v);
    assert_string_equal(v, "1");
    server_get("c", v, sizeof v);
    assert_string_equal(v, "1");
    server_get("x2", v, sizeof v);
    assert_string_equal(v, "2");
    server_get("x3", v, sizeof v);
    assert_string_equal(v, "(nil)");
    assert_int_equal(cf_faultproxy_stat(&P, "faults"), 1);
    /* the fault fires once: a new connection works */
    fd = dial(P.port);
    const char *again[] = {c4, NULL};
    send_auth_and(fd, again);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    read_all(fd, got, sizeof got, DEADLINE_MS, &err);
    close(fd);
    assert_string_equal(got, "+OK\r\n+OK\r\n");
    assert_int_equal(err, 0);
    server_get("x3", v, sizeof v);
    assert_string_equal(v, "3");
}

static void test_redis_every_repeats_the_fault(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    const char *args[] = {"--match", "set", "--after", "2", "--every", "3", NULL};
    cf_faultproxy_start(&P, "redis", args);
    char lost[16] = "";
    for (int i = 1; i <= 9; i++) {
        char cmd[128], got[256];
        snprintf(cmd, sizeof cmd, "SET %s:e%d %d", K, i, i);
        int fd = dial(P.port);
        const char *one[] = {cmd, NULL};
        send_auth_and(fd, one);
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        int err = 0;
        read_all(fd, got, sizeof got, DEADLINE_MS, &err);
        close(fd);
        if (err == ECONNRESET)
            lost[strlen(lost)] = (char)('0' + i);
        else
            assert_string_equal(got, "+OK\r\n+OK\r\n");
        char name[16], v[16], want[16];
        snprintf(name, sizeof name, "e%d", i);
        snprintf(want, sizeof want, "%d", i);
        server_get(name, v, sizeof v);
        assert_string_equal(v, want); /* every SET ran, lost reply or not */
    }
    assert_string_equal(lost, "258");
    assert_int_equal(cf_faultproxy_stat(&P, "faults"), 3);
    assert_int_equal(cf_faultproxy_stat(&P, "matched"), 9);
}

static bool fired(void *arg)
{
    (void)arg;
    return cf_faultproxy_stat(&P, "faults") > 0;
}

static void test_stall_holds_every_reply_until_it_ends(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    cf_faultproxy_start(&P, "redis", NULL);
    char out[128], got[256];
    cf_faultproxy_ctl(&P, "stall 0", out, sizeof out); /* until resumed */
    int fd = dial(P.port);
    const char *ping[] = {"PING", NULL};
    send_auth_and(fd, ping);
    int err = 0;
    assert_int_equal(read_all(fd, got, sizeof got, 300, &err), 0);
    assert_int_equal(err, -1); /* neither a reply nor a close while stalled */
    assert_int_equal(cf_faultproxy_stat(&P, "stalled"), 1);
    cf_faultproxy_ctl(&P, "resume", out, sizeof out);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    read_all(fd, got, sizeof got, DEADLINE_MS, &err);
    close(fd);
    assert_string_equal(got, "+OK\r\n+PONG\r\n");
    assert_int_equal(err, 0);

    /* a stall set off by the k-th command ends by itself */
    cf_faultproxy_stop(&P);
    const char *args[] = {"--match", "PING", "--action", "stall", "--stall-seconds", "5", NULL};
    cf_faultproxy_start(&P, "redis", args);
    fd = dial(P.port);
    send_auth_and(fd, ping);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_true(cf_test_wait_for(fired, NULL, DEADLINE_MS));
    int ready = poll(&pfd, 1, 0);
    assert_int_equal(cf_faultproxy_stat(&P, "stalled"), 1); /* 5 s: a wide margin */
    assert_int_equal(ready, 0);                             /* so nothing was relayed yet */
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    read_all(fd, got, sizeof got, DEADLINE_MS, &err);
    close(fd);
    assert_string_equal(got, "+OK\r\n+PONG\r\n");
    assert_int_equal(cf_faultproxy_stat(&P, "stalled"), 0);
}

/* ---- Postgres through libpq ---- */

static char DSN[512];

static PGconn *pg(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

static void pg_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* rows returns "1,2" for the rows of table t, read directly (not through the proxy). */
static void rows(char *out, size_t cap)
{
    PGconn *c = pg(DSN);
    PGresult *r = PQexec(c, "SELECT coalesce(string_agg(x::text, ',' ORDER BY x), '') FROM t");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
}

/* proxied opens a connection through the proxy; sslmode=prefer makes libpq start with an
 * SSLRequest (the test server answers 'N'), the proxy's untyped first message. */
static PGconn *proxied(const char *const *args)
{
    cf_test_fresh_database(DSN, sizeof DSN);
    PGconn *c = pg(DSN);
    pg_ok(c, "CREATE TABLE t (x int)");
    PQfinish(c);
    cf_faultproxy_start(&P, "postgres", args);
    char dsn[700], via[800];
    snprintf(dsn, sizeof dsn, "%s sslmode=prefer gssencmode=disable", DSN);
    cf_faultproxy_pg_dsn(&P, dsn, via, sizeof via);
    return pg(via);
}

static void test_postgres_kth_commit_lands_but_its_reply_is_lost(void **state)
{
    (void)state;
    const char *args[] = {"--match", "COMMIT", "--after", "2", NULL};
    PGconn *c = proxied(args);
    pg_ok(c, "BEGIN");
    pg_ok(c, "INSERT INTO t VALUES (1)");
    pg_ok(c, "COMMIT");
    pg_ok(c, "BEGIN");
    pg_ok(c, "INSERT INTO t VALUES (2)");
    PGresult *r = PQexec(c, "COMMIT");
    assert_int_not_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(PQstatus(c), CONNECTION_BAD);
    PQfinish(c);
    char got[64];
    rows(got, sizeof got);
    assert_string_equal(got, "1,2"); /* the lost COMMIT committed */
    assert_int_equal(cf_faultproxy_stat(&P, "faults"), 1);
}

static void test_postgres_kth_execute_of_a_prepared_statement(void **state)
{
    (void)state;
    const char *args[] = {"--match", "ins", "--after", "2", NULL}; /* by statement name */
    PGconn *c = proxied(args);
    PGresult *r = PQprepare(c, "ins", "INSERT INTO t VALUES ($1::int)", 1, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *one[] = {"1"}, *two[] = {"2"}, *three[] = {"3"};
    r = PQexecPrepared(c, "ins", 1, one, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexecPrepared(c, "ins", 1, two, NULL, NULL, 0);
    assert_int_not_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexecPrepared(c, "ins", 1, three, NULL, NULL, 0);
    assert_int_not_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    char got[64];
    rows(got, sizeof got);
    assert_string_equal(got, "1,2"); /* its implicit transaction committed at its Sync */
}

static void test_postgres_kth_sync_of_a_pipeline(void **state)
{
    (void)state;
    const char *args[] = {"--match", "SYNC", "--after", "2", NULL};
    PGconn *c = proxied(args);
    assert_int_equal(PQenterPipelineMode(c), 1);
    const char *vals[3][1] = {{"1"}, {"2"}, {"3"}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            PQsendQueryParams(c, "INSERT INTO t VALUES ($1::int)", 1, NULL, vals[i], NULL, NULL, 0),
            1);
        assert_int_equal(PQpipelineSync(c), 1);
    }
    /* the first sync point's results arrive; then the connection is gone */
    PGresult *r = PQgetResult(c);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_null(PQgetResult(c));
    r = PQgetResult(c);
    assert_int_equal(PQresultStatus(r), PGRES_PIPELINE_SYNC);
    PQclear(r);
    r = PQgetResult(c);
    assert_true(r == NULL || PQresultStatus(r) == PGRES_FATAL_ERROR);
    PQclear(r);
    assert_int_equal(PQstatus(c), CONNECTION_BAD);
    PQfinish(c);
    char got[64];
    rows(got, sizeof got);
    assert_string_equal(got, "1,2"); /* the 2nd sync point committed, the 3rd never ran */
}

static void test_a_worker_through_both_proxies_completes_its_work(void **state)
{
    (void)state;
    if (!cf_test_single_redis()) /* a proxy in front of, or a URL of, the one Redis */
        return;
    cf_e2e e;
    cf_e2e_setup(&e);
    cf_faultproxy_start(&P, "redis", NULL);
    cf_faultproxy_start(&P2, "postgres", NULL);
    char url[600], dsn[700], env_url[700], env_dsn[800];
    cf_faultproxy_redis_url(&P, url, sizeof url);
    cf_faultproxy_pg_dsn(&P2, e.dsn, dsn, sizeof dsn);
    snprintf(env_url, sizeof env_url, "CHRONOFORGE_REDIS_URL=%s", url);
    snprintf(env_dsn, sizeof env_dsn, "CHRONOFORGE_DATABASE_URL=%s", dsn);
    const char *env[] = {env_url, env_dsn, NULL};
    const char *args[] = {"-c", "4", NULL};
    cf_e2e_worker(&e, 0, args, env);
    int n = cf_test_scale(20);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "via-%d", i);
        cf_e2e_enqueue(&e, "Exerciser", key, "{\"steps\": 2, \"wait_ms\": 100}");
    }
    assert_true(cf_e2e_wait_keys_in_state(&e, "via-%", "completed", n, DEADLINE_MS));
    cf_e2e_assert_quiet(&e, DEADLINE_MS);
    /* the worker's traffic really went through both: pipelines, blocking fetches, scripts,
     * prepared statements and pipelined batches, relayed without a fault */
    assert_true(cf_faultproxy_stat(&P, "commands") > 10 * n);
    assert_true(cf_faultproxy_stat(&P2, "commands") > 2 * n);
    assert_int_equal(cf_faultproxy_stat(&P, "faults") + cf_faultproxy_stat(&P2, "faults"), 0);
    cf_e2e_teardown(&e);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_redis_kth_set_runs_but_its_reply_is_lost),
        T(test_redis_every_repeats_the_fault),
        T(test_stall_holds_every_reply_until_it_ends),
        T(test_postgres_kth_commit_lands_but_its_reply_is_lost),
        T(test_postgres_kth_execute_of_a_prepared_statement),
        T(test_postgres_kth_sync_of_a_pipeline),
        T(test_a_worker_through_both_proxies_completes_its_work),
    };
#undef T
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_faultproxy", tests, NULL, NULL);
}
