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

static cf_status pg_branch_get(void *impl, int64_t workflow_id, const char *name, bool counts,
                               cf_branch_row *out)
{
    return cf_store_branch_get(impl, workflow_id, name, counts, out);
}

static cf_status pg_wf_get(void *impl, const char *key, cf_wf_row *out)
{
    return cf_store_find(impl, NULL, key, out);
    ;
}

static cf_status pg_signal_next(void *impl, int64_t workflow_id, const char *name,
                                const int64_t *skip, size_t n, cf_signal_row *out)
{
    return cf_store_signal_next(impl, workflow_id, name, skip, n, out);
}

static cf_status pg_signal_recheck(void *impl, int64_t workflow_id, const char *name, bool *woke)
{
    return cf_store_signal_recheck(impl, workflow_id, name, woke);
}

cf_store_port cf_store_port_pg(cf_store *s)
{
    return (cf_store_port){.impl = s,
                           .commit = pg_commit,
                           .errstr = pg_errstr,
                           .branch_get = pg_branch_get,
                           .wf_get = pg_wf_get,
                           .signal_next = pg_signal_next,
                           .signal_recheck = pg_signal_recheck};
}
