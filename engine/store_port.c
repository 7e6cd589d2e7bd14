// SPDX-License-Identifier: MIT
/* engine/store_port.c: the Postgres store behind the engine's store port (the one adapter). */
#include "engine/store_port.h"

static cf_status pg_commit(void *impl, const cf_write_set *ws)
{
    return cf_store_commit(impl, ws);
}

static const char *pg_errstr(void *impl)
{
    return cf_store_errstr(impl);
}

cf_store_port cf_store_port_pg(cf_store *s)
{
    return (cf_store_port){.impl = s, .commit = pg_commit, .errstr = pg_errstr};
}
