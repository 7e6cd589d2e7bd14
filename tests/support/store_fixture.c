// SPDX-License-Identifier: MIT
/* tests/support/store_fixture.c: see store_fixture.h. */
#include "tests/support/store_fixture.h"

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
