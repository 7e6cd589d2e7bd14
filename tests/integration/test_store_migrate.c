// SPDX-License-Identifier: MIT
/* tests/integration/test_store_migrate.c: `migrate` creates the schema once, is idempotent,
 * survives 8 concurrent runs (separate processes), and refuses a foreign table of the same
 * name (a Ruby ChronoForge table whose state is an integer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/migrate.h"
#include "store/store.h"
#include "tests/support/test.h"

static int64_t scalar(const char *dsn, const char *sql_text)
{
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, sql_text);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql_text, PQerrorMessage(c));
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static void test_migrate_concurrent_once(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    enum { N = 8 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            cf_error err = {0};
            int applied = 0;
            cf_status st = cf_store_migrate_counted(dsn, &applied, &err);
            if (st != CF_OK)
                fprintf(stderr, "migrate: %s\n", err.msg);
            _exit(st == CF_OK ? (applied == 1 ? 10 : 0) : 1);
        }
    }
    int did = 0;
    for (int i = 0; i < N; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 1);
        did += WEXITSTATUS(status) == 10;
    }
    assert_int_equal(did, 1); /* exactly one process applied the migration */
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chronoforge_schema_migrations"), 1);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM pg_class WHERE relname LIKE "
                                 "'chrono_forge_%' AND relkind = 'r'"),
                     3);
    cf_error err = {0};
    int applied = -1;
    assert_int_equal(cf_store_migrate_counted(dsn, &applied, &err), CF_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(cf_store_schema_version(dsn, &err), CF_SCHEMA_VERSION);
}

static void test_migrate_refuses_foreign_table(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, "CREATE TABLE chrono_forge_workflows (id bigserial PRIMARY KEY, key "
                            "varchar NOT NULL, job_class varchar NOT NULL, state integer NOT NULL "
                            "DEFAULT 0)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    cf_error err = {0};
    assert_int_equal(cf_store_migrate(dsn, &err), CF_ERR_STATE);
    assert_non_null(strstr(err.msg, "chrono_forge_workflows"));
    assert_non_null(strstr(err.msg, "Ruby ChronoForge"));
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM pg_class WHERE relname = "
                                 "'chronoforge_schema_migrations'"),
                     0);
    /* A store refuses to open on it too. */
    cf_store *s = NULL;
    cf_store_config cfg = {.dsn = dsn};
    assert_int_equal(cf_store_open(&cfg, &s, &err), CF_ERR_STATE);
    assert_null(s);
}

static void test_migrate_bad_dsn_and_no_password_in_errors(void **state)
{
    (void)state;
    cf_error err = {0};
    assert_int_equal(cf_store_migrate("host=127.0.0.1 port=1 user=x password=hunter2 "
                                      "connect_timeout=2",
                                      &err),
                     CF_ERR_UNAVAILABLE);
    assert_null(strstr(err.msg, "hunter2"));
    assert_int_equal(cf_store_migrate("not a dsn ===", &err), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_concurrent_once),
        cmocka_unit_test(test_migrate_refuses_foreign_table),
        cmocka_unit_test(test_migrate_bad_dsn_and_no_password_in_errors),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_migrate", tests, NULL, NULL);
}
