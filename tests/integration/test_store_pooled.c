// SPDX-License-Identifier: MIT
/* tests/integration/test_store_pooled.c: the statements the store's writer uses through a
 * transaction-mode pooler (--pg-prepared-statements off, store/sql.c), against a real Postgres:
 * a batch's settings hold for its transaction only, and the backend running a batch is found
 * by the name the batch runs under (what replaces the pooler's meaningless backend pid when an
 * outcome is lost), ended, and no longer found once gone; a finished batch is not found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "store/sql.h"
#include "tests/support/test.h"

static char dsn[512];

static PGconn *open_conn(void)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

static PGresult *run(PGconn *c, cf_sql_id id, const char *const *vals, ExecStatusType want)
{
    const cf_sql_stmt *s = &cf_sql_stmts[id];
    PGresult *r = PQexecParams(c, s->sql, s->nparams, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != want)
        fail_msg("%s: %s", s->name, PQerrorMessage(c));
    return r;
}

static char *show(PGconn *c, const char *setting, char *out, size_t cap)
{
    const char *vals[] = {setting};
    PGresult *r = PQexecParams(c, "SELECT current_setting($1)", 1, NULL, vals, NULL, NULL, 0);
    snprintf(out, cap, "%s", PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
    return out;
}

static int64_t batches_named(PGconn *c, const char *name)
{
    const char *vals[] = {name};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FROM pg_stat_activity"
                               " WHERE application_name = left($1, 63)",
                               1, NULL, vals, NULL, NULL, 0);
    int64_t n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return n;
}

static void test_batch_settings_are_local_and_its_backend_is_found_by_name(void **state)
{
    (void)state;
    cf_test_fresh_database(dsn, sizeof dsn);
    PGconn *batch = open_conn(), *other = open_conn();
    PQclear(PQexec(batch, "SET client_min_messages = warning")); /* the name is cut: a NOTICE */
    /* a name longer than the server keeps (63 bytes): the statements compare the kept part */
    const char *name = "cfw 4242.0123456789abcdef0123456789abcdef.17-a-long-token-tail-xyz";
    const char *vals[] = {name, "1234"};
    PQclear(PQexec(batch, "BEGIN"));
    PQclear(run(batch, CF_SQL_BATCH_SESSION, vals, PGRES_TUPLES_OK));
    char buf[128];
    assert_string_equal(show(batch, "statement_timeout", buf, sizeof buf), "1234ms");
    assert_string_equal(show(batch, "enable_seqscan", buf, sizeof buf), "off");
    assert_int_equal(batches_named(other, name), 1);

    /* the batch ends: its settings and its name go with its transaction */
    PQclear(PQexec(batch, "COMMIT"));
    assert_string_equal(show(batch, "enable_seqscan", buf, sizeof buf), "on");
    assert_int_equal(batches_named(other, name), 0);
    const char *end[] = {name};
    PGresult *r = run(other, CF_SQL_END_BATCH, end, PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 0); /* a finished batch: nothing to end */
    PQclear(r);
    assert_int_equal(PQstatus(batch), CONNECTION_OK);

    /* a batch still running is found and ended; then it is no longer found */
    PQclear(PQexec(batch, "BEGIN"));
    PQclear(run(batch, CF_SQL_BATCH_SESSION, vals, PGRES_TUPLES_OK));
    r = run(other, CF_SQL_END_BATCH, end, PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    PQclear(r);
    int64_t deadline = cf_clock_mono_ms() + 30000;
    int64_t left = 1;
    while ((left = batches_named(other, name)) > 0 && cf_clock_mono_ms() < deadline)
        cf_clock_sleep_ms(10, NULL);
    assert_int_equal(left, 0);
    PGresult *dead = PQexec(batch, "SELECT 1");
    assert_int_not_equal(PQresultStatus(dead), PGRES_TUPLES_OK); /* terminated */
    PQclear(dead);
    PQfinish(batch);
    PQfinish(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_settings_are_local_and_its_backend_is_found_by_name),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_pooled", tests, NULL, NULL);
}
