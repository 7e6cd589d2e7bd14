// SPDX-License-Identifier: MIT
/* store/retention.c: cf_store_cleanup_batch (store/retention.h): one statement (CF_SQL_CLEANUP
 * or, for a dry run, CF_SQL_CLEANUP_COUNT, store/sql.c) on a reader connection. */
#include "store/retention.h"

#include <stdio.h>
#include <string.h>

#include "store/rows.h"
#include "store/store_internal.h"

/* Writes the states as a Postgres text array literal ("{completed,cancelled}"); the names come
 * from store/states.h's table, never from the user, so they need no quoting. */
static bool states_array(const cf_retention_req *req, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "{");
    for (size_t i = 0; i < req->nstates && n < cap; i++) {
        cf_wf_state st = req->states[i];
        if (!cf_wf_state_finished(st))
            return false;
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", cf_wf_state_name(st));
    }
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "}");
    return req->nstates > 0 && n < cap;
}

cf_status cf_store_cleanup_batch(cf_store *s, const cf_retention_req *req, int64_t *deleted)
{
    *deleted = 0;
    char states[256];
    int batch = req->batch ? req->batch : 1000;
    if (batch < 1 || batch > CF_RETENTION_BATCH_MAX || !states_array(req, states, sizeof states)) {
        cf_store_set_error(s, "cleanup: states must be finished ones (not idle or running) and the "
                              "batch 1-10000");
        return CF_ERR_INVALID;
    }
    char before[24], lim[24];
    snprintf(before, sizeof before, "%lld", (long long)req->finished_before_ms);
    snprintf(lim, sizeof lim, "%d", batch);
    const char *vals[] = {before, states, lim};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, req->dry_run ? CF_SQL_CLEANUP_COUNT : CF_SQL_CLEANUP, vals, &r);
    if (st == CF_OK)
        *deleted = cf_rows_i64(r, 0, 0);
    PQclear(r);
    return st;
}
