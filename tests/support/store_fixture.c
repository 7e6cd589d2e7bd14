// SPDX-License-Identifier: MIT
/* tests/support/store_fixture.c: see store_fixture.h. */
#include "tests/support/store_fixture.h"

#include <stdlib.h>

#include "store/migrate.h"
#include "tests/support/test.h"

void cf_test_store_setup(char *dsn, size_t cap, cf_store_config *cfg, cf_store **store,
                         PGconn **admin)
{
    cf_test_fresh_database(dsn, cap);
    cf_error err = {0};
    if (cf_store_migrate(dsn, &err) != CF_OK)
        fail_msg("migrate: %s", err.msg);
    cfg->dsn = dsn;
    if (cf_store_open(cfg, store, &err) != CF_OK)
        fail_msg("open: %s", err.msg);
    *admin = PQconnectdb(dsn);
    if (PQstatus(*admin) != CONNECTION_OK)
        fail_msg("admin connection: %s", PQerrorMessage(*admin));
}

void cf_test_store_teardown(cf_store *store, PGconn *admin)
{
    cf_store_close(store);
    if (admin)
        PQfinish(admin);
}

int64_t cf_test_sql_int(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    int64_t v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

void cf_test_sql_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}
