// SPDX-License-Identifier: MIT
/* tests/support/store_fixture.h: the store tests' common setup: a fresh, migrated database, a
 * store opened on it and an admin connection for checks written in SQL. */
#ifndef CF_TESTS_STORE_FIXTURE_H
#define CF_TESTS_STORE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store.h"

/* cf_test_store_setup creates an empty database and migrates it (its conninfo into dsn, cap
 * bytes), opens *store on it with cfg (cfg->dsn is pointed at dsn; the rest is the caller's)
 * and *admin, a plain connection to it. Fails the test with the reason otherwise. */
void cf_test_store_setup(char *dsn, size_t cap, cf_store_config *cfg, cf_store **store,
                         PGconn **admin);

/* cf_test_sql_int runs a query on c and returns its first cell as an integer (-1 when NULL);
 * fails the test when the query fails. */
int64_t cf_test_sql_int(PGconn *c, const char *sql);

/* cf_test_sql_exec runs a statement on c (DDL, DML, or a query whose rows are not needed);
 * fails the test when it fails. */
void cf_test_sql_exec(PGconn *c, const char *sql);

/* cf_test_store_teardown closes both (NULL-safe). */
void cf_test_store_teardown(cf_store *store, PGconn *admin);

#endif
