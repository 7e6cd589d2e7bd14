// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_pgbouncer.c: workers whose Postgres is behind Debian's pgbouncer 1.18 in
 * transaction mode (started by the test, one or two server connections shared by every client
 * connection), which has no protocol-level prepared statements there. With
 * --pg-prepared-statements off a workload of several workers completes, each workflow exactly
 * once; with the default (on), a second client's statements collide on the shared server
 * connection and the worker cannot start: the setting is what makes the difference. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 60000
#define PGBOUNCER   "/usr/sbin/pgbouncer"

static cf_e2e E;
static pid_t bouncer = -1;
static char bouncer_dsn[600];

static bool bouncer_up(void *arg)
{
    (void)arg;
    PGconn *c = PQconnectdb(bouncer_dsn);
    bool ok = PQstatus(c) == CONNECTION_OK;
    PQfinish(c);
    return ok;
}

/* dsn_value copies the value of key ("dbname") from the test's conninfo into out. */
static void dsn_value(const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(E.dsn, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t n = strcspn(p, " ");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* start_bouncer runs pgbouncer in transaction mode with pool_size server connections to the
 * test's database, and points bouncer_dsn at it. */
static void start_bouncer(int pool_size)
{
    if (access(PGBOUNCER, X_OK) != 0)
        fail_msg("%s not found: deploy/install-deps.sh installs pgbouncer", PGBOUNCER);
    char host[256], port[16], db[128], ini[400], log[400];
    dsn_value("host", host, sizeof host);
    dsn_value("port", port, sizeof port);
    dsn_value("dbname", db, sizeof db);
    int listen = cf_test_free_port();
    snprintf(ini, sizeof ini, "%s/pgbouncer.ini", E.dir);
    snprintf(log, sizeof log, "%s/pgbouncer.log", E.dir);
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    fprintf(f,
            "[databases]\n%s = host=%s port=%s dbname=%s user=postgres\n"
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
            "auth_type = any\npool_mode = transaction\ndefault_pool_size = %d\n"
            "min_pool_size = 0\nreserve_pool_size = 0\nmax_client_conn = 200\n"
            "server_reset_query =\nignore_startup_parameters = extra_float_digits\n",
            db, host, port, db, listen, pool_size);
    fclose(f);
    snprintf(bouncer_dsn, sizeof bouncer_dsn,
             "host=127.0.0.1 port=%d user=postgres dbname=%s password=secret-not-logged", listen,
             db);
    bouncer = fork();
    if (bouncer == 0) {
        FILE *l = freopen(log, "a", stderr);
        (void)l;
        if (getuid() == 0) /* pgbouncer refuses to run as root */
            execl(PGBOUNCER, PGBOUNCER, "-u", "postgres", ini, (char *)NULL);
        else
            execl(PGBOUNCER, PGBOUNCER, ini, (char *)NULL);
        _exit(127);
    }
    assert_true(bouncer > 0);
    if (!cf_test_wait_for(bouncer_up, NULL, DEADLINE_MS))
        fail_msg("pgbouncer did not come up; see %s", log);
}

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
    if (bouncer > 0) {
        kill(bouncer, SIGTERM);
        waitpid(bouncer, NULL, 0);
        bouncer = -1;
    }
    return 0;
}

static void test_a_workload_completes_through_pgbouncer_without_prepared_statements(void **s)
{
    (void)s;
    start_bouncer(2);
    char url[640];
    snprintf(url, sizeof url, "CHRONOFORGE_DATABASE_URL=%s", bouncer_dsn);
    const char *env[] = {url, "CHRONOFORGE_PG_PREPARED_STATEMENTS=off", NULL};
    const char *args[] = {"-c", "4", "--db-pool", "3", "--sweep-interval", "500ms", NULL};
    for (int i = 0; i < 3; i++)
        cf_e2e_worker(&E, i, args, env);
    int n = cf_test_scale(60);
    char key[32], kw[400], ledger[300];
    snprintf(ledger, sizeof ledger, "%s/ledger", E.dir);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "pgb-%d", i);
        snprintf(kw, sizeof kw, "{\"steps\": %d, \"ledger\": \"%s\"}", 1 + i % 3, ledger);
        cf_e2e_enqueue(&E, "Exerciser", key, kw);
    }
    assert_true(cf_e2e_wait_keys_in_state(&E, "pgb-%", "completed", n, DEADLINE_MS));
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    /* every step ran once: the ledger has one line per step attempt */
    assert_int_equal(cf_e2e_ledger_count(ledger, "pgb-"), n / 3 * (1 + 2 + 3));
    for (int i = 0; i < 3; i++) {
        cf_e2e_signal(&E, i, SIGTERM);
        assert_int_equal(cf_e2e_wait_exit(&E, i, DEADLINE_MS), 0);
    }
}

static void test_with_prepared_statements_the_worker_cannot_start(void **s)
{
    (void)s;
    start_bouncer(1); /* every client connection shares one server connection */
    char url[640];
    snprintf(url, sizeof url, "CHRONOFORGE_DATABASE_URL=%s", bouncer_dsn);
    const char *env[] = {url, NULL};
    const char *args[] = {"-c", "2", "--db-pool", "3", NULL};
    cf_e2e_worker(&E, 0, args, env);
    int rc = cf_e2e_wait_exit(&E, 0, DEADLINE_MS);
    assert_true(rc != 0 && rc != -1);
    assert_true(cf_e2e_log_contains(&E, 0, "already exists"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_workload_completes_through_pgbouncer_without_prepared_statements, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_with_prepared_statements_the_worker_cannot_start,
                                        setup, teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_pgbouncer", tests, NULL, NULL);
}
