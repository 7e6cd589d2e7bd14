// SPDX-License-Identifier: MIT
/* store/requeue.c: cf_store_requeue, the stalled|failed -> idle transition with its
 * `$workflow_retry$<ms>` row, in one statement (CF_SQL_REQUEUE, store/sql.c) on a reader
 * connection. The statement is idempotent per request, so the reader's one retry after a
 * broken connection (an unknown outcome) is resolved by what it reads back. */
#include "store/requeue.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "store/rows.h"
#include "store/store_internal.h"

cf_status cf_store_requeue(cf_store *s, const char *wf_class, const char *key,
                           const cf_requeue_req *req, cf_requeue_result *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !key || !*key || !req || !req->requested_by || !*req->requested_by ||
        strlen(req->requested_by) > 256 || (req->reason && strlen(req->reason) > 1024) ||
        (req->job_id && strlen(req->job_id) > 64) || req->requested_at_ms < 0) {
        cf_store_set_error(s, "requeue: a key and requested_by (1-256 bytes) are required; reason "
                              "at most 1024 bytes, job_id at most 64");
        return CF_ERR_INVALID;
    }
    cf_wf_row found = {0};
    if (!wf_class) { /* the class of the one workflow using this key */
        cf_status st = cf_store_find(s, NULL, key, &found);
        if (st != CF_OK)
            return st; /* NOT_FOUND, INVALID (several classes), transient; errstr set */
        wf_class = found.wf_class;
    }
    out->requested_at_ms = req->requested_at_ms > 0 ? req->requested_at_ms : cf_clock_unix_ms();
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)out->requested_at_ms);
    const char *vals[] = {wf_class, key, ms, req->requested_by, req->reason, req->job_id};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_REQUEUE, vals, &r);
    if (st == CF_OK && PQntuples(r) == 0) {
        cf_store_set_error(s, "no such workflow");
        st = CF_ERR_NOT_FOUND;
    } else if (st == CF_OK) {
        out->workflow_id = cf_rows_i64(r, 0, 0);
        snprintf(out->wf_class, sizeof out->wf_class, "%s", PQgetvalue(r, 0, 1));
        snprintf(out->key, sizeof out->key, "%s", PQgetvalue(r, 0, 2));
        snprintf(out->queue, sizeof out->queue, "%s", PQgetvalue(r, 0, 3));
        if (!PQgetisnull(r, 0, 5)) { /* this request had landed before */
            out->already_applied = true;
            out->previous_state = cf_wf_state_parse(PQgetvalue(r, 0, 5));
        } else if (!PQgetisnull(r, 0, 6)) {
            out->previous_state = cf_wf_state_parse(PQgetvalue(r, 0, 6));
        } else {
            out->previous_state = cf_wf_state_parse(PQgetvalue(r, 0, 4));
            char why[160];
            snprintf(why, sizeof why,
                     "workflow is %s; only stalled or failed workflows can be requeued",
                     PQgetvalue(r, 0, 4));
            cf_store_set_error(s, why);
            st = CF_ERR_STATE;
        }
    }
    PQclear(r);
    cf_wf_row_deinit(&found);
    return st;
}
