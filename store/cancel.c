// SPDX-License-Identifier: MIT
/* store/cancel.c: cf_store_cancel, cf_store_cancel_ids, cf_store_select_cancellable and
 * cf_store_requeue_cleanup (store/cancel.h), each one statement (store/sql.c) on a reader
 * connection. The write statements are idempotent per request, so the reader's one retry after
 * a broken connection (an unknown outcome) is answered from what it reads back. */
#include "store/cancel.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "store/rows.h"
#include "store/store_internal.h"

#define CANCEL_IDS_MAX 1000

static bool valid_req(cf_store *s, const cf_cancel_req *req, const char *what)
{
    if (req && req->requested_by && *req->requested_by && strlen(req->requested_by) <= 256 &&
        (!req->reason || strlen(req->reason) <= 1024) && req->requested_at_ms >= 0)
        return true;
    char why[160];
    snprintf(why, sizeof why,
             "%s: requested_by (1-256 bytes) is required; reason at most 1024 bytes", what);
    cf_store_set_error(s, why);
    return false;
}

static void refuse(cf_cancel_result *out, const char *code, const char *reason)
{
    out->accepted = false;
    snprintf(out->code, sizeof out->code, "%s", code);
    snprintf(out->reason, sizeof out->reason, "%s", reason);
}

/* judge answers from the state before (col 4), already applied (col 5) and the state this call
 * cancelled from (col 6) of row j. */
static void judge(const PGresult *r, int j, cf_cancel_result *out)
{
    out->workflow_id = cf_rows_i64(r, j, 0);
    snprintf(out->wf_class, sizeof out->wf_class, "%s", PQgetvalue(r, j, 1));
    snprintf(out->key, sizeof out->key, "%s", PQgetvalue(r, j, 2));
    snprintf(out->queue, sizeof out->queue, "%s", PQgetvalue(r, j, 3));
    const char *before = PQgetvalue(r, j, 4);
    out->previous_state = cf_wf_state_parse(before);
    out->already_applied = PQgetvalue(r, j, 5)[0] == 't';
    bool applied = !PQgetisnull(r, j, 6);
    char why[200];
    if (applied || out->already_applied) {
        out->accepted = true;
        bool running = out->previous_state == CF_WF_RUNNING;
        if (applied)
            running = strcmp(PQgetvalue(r, j, 6), "running") == 0;
        snprintf(out->code, sizeof out->code, "%s", running ? "requested" : "cancelling");
        snprintf(out->reason, sizeof out->reason, "%s",
                 running ? "running: the step in progress finishes, then on_cancel runs"
                         : "cancelling: on_cancel runs next");
        return;
    }
    switch (out->previous_state) {
    case CF_WF_COMPLETED:
    case CF_WF_FAILED:
    case CF_WF_CANCELLED:
        snprintf(why, sizeof why,
                 "workflow is %s; only idle, waiting, stalled or running workflows can be "
                 "cancelled",
                 before);
        refuse(out, before, why);
        break;
    case CF_WF_UNKNOWN:
        snprintf(why, sizeof why, "workflow is in state '%s', unknown to this release", before);
        refuse(out, "unknown_state", why);
        break;
    default: /* idle, stalled, running or cancelling with a request already on the row */
        refuse(out, "cancelling", "a cancel of this workflow was already accepted");
        break;
    }
}

cf_status cf_store_cancel_ids(cf_store *s, const int64_t *ids, size_t n, const cf_cancel_req *req,
                              cf_cancel_result *out)
{
    if (!s || n > CANCEL_IDS_MAX || (n && (!ids || !out)) || !valid_req(s, req, "cancel")) {
        if (s && n > CANCEL_IDS_MAX)
            cf_store_set_error(s, "cancel: at most 1000 workflows per call");
        return CF_ERR_INVALID;
    }
    int64_t at = req->requested_at_ms > 0 ? req->requested_at_ms : cf_clock_unix_ms();
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].requested_at_ms = at;
        refuse(&out[i], "not_found", "no such workflow");
    }
    if (n == 0)
        return CF_OK;
    cf_buf arr = CF_BUF_INIT;
    cf_status st = cf_buf_append(&arr, "[", 1);
    for (size_t i = 0; st == CF_OK && i < n; i++) {
        char num[24];
        int len = snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)ids[i]);
        st = cf_buf_append(&arr, num, (size_t)len);
    }
    if (st == CF_OK)
        st = cf_buf_append(&arr, "]", 2); /* with the terminating NUL */
    if (st != CF_OK) {
        cf_buf_deinit(&arr);
        return CF_ERR_NOMEM;
    }
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)at);
    const char *vals[] = {arr.data, ms, req->requested_by, req->reason};
    PGresult *r = NULL;
    st = cf_store_read(s, CF_SQL_CANCEL_IDS, vals, &r);
    cf_buf_deinit(&arr);
    for (int j = 0; st == CF_OK && j < PQntuples(r); j++) {
        int64_t id = cf_rows_i64(r, j, 0);
        for (size_t i = 0; i < n; i++)
            if (ids[i] == id)
                judge(r, j, &out[i]);
    }
    PQclear(r);
    return st;
}

cf_status cf_store_cancel(cf_store *s, const char *wf_class, const char *key,
                          const cf_cancel_req *req, cf_cancel_result *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !key || !*key || !valid_req(s, req, "cancel"))
        return CF_ERR_INVALID;
    cf_wf_row row = {0};
    cf_status st = cf_store_find(s, wf_class, key, &row);
    if (st == CF_ERR_NOT_FOUND) {
        snprintf(out->wf_class, sizeof out->wf_class, "%s", wf_class ? wf_class : "");
        snprintf(out->key, sizeof out->key, "%s", key);
        refuse(out, "not_found", "no such workflow");
        return CF_OK;
    }
    if (st == CF_OK)
        st = cf_store_cancel_ids(s, &row.id, 1, req, out);
    cf_wf_row_deinit(&row);
    return st;
}

cf_status cf_store_select_cancellable(cf_store *s, const char *state, const char *wf_class,
                                      int64_t older_than_ms, int64_t after_id, size_t limit,
                                      cf_wf_ref_list *out)
{
    memset(out, 0, sizeof *out);
    cf_wf_state st_ = cf_wf_state_parse(state);
    if (!s || (st_ != CF_WF_IDLE && st_ != CF_WF_STALLED && st_ != CF_WF_RUNNING) || limit < 1 ||
        limit > 1000 || older_than_ms < 0) {
        if (s)
            cf_store_set_error(s, "select_cancellable: state must be idle, stalled or running, "
                                  "limit 1-1000");
        return CF_ERR_INVALID;
    }
    char older[24], after[24], lim[24];
    snprintf(older, sizeof older, "%lld", (long long)older_than_ms);
    snprintf(after, sizeof after, "%lld", (long long)after_id);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *vals[] = {state, wf_class, older, after, lim};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_CANCELLABLE, vals, &r);
    if (st == CF_OK)
        st = cf_rows_refs(r, out);
    PQclear(r);
    return st;
}

cf_status cf_store_requeue_cleanup(cf_store *s, const char *wf_class, const char *key,
                                   const cf_cancel_req *req, cf_cancel_result *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !wf_class || !*wf_class || !key || !*key || !valid_req(s, req, "requeue --cleanup"))
        return CF_ERR_INVALID;
    out->requested_at_ms = req->requested_at_ms > 0 ? req->requested_at_ms : cf_clock_unix_ms();
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)out->requested_at_ms);
    const char *vals[] = {wf_class, key, ms, req->requested_by, req->reason};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_REQUEUE_CLEANUP, vals, &r);
    if (st == CF_OK && PQntuples(r) == 0) {
        snprintf(out->wf_class, sizeof out->wf_class, "%s", wf_class);
        snprintf(out->key, sizeof out->key, "%s", key);
        refuse(out, "not_found", "no such workflow");
    } else if (st == CF_OK) {
        out->workflow_id = cf_rows_i64(r, 0, 0);
        snprintf(out->wf_class, sizeof out->wf_class, "%s", PQgetvalue(r, 0, 1));
        snprintf(out->key, sizeof out->key, "%s", PQgetvalue(r, 0, 2));
        snprintf(out->queue, sizeof out->queue, "%s", PQgetvalue(r, 0, 3));
        const char *before = PQgetvalue(r, 0, 4);
        out->previous_state = cf_wf_state_parse(before);
        if (PQgetvalue(r, 0, 5)[0] == 't') {
            out->accepted = true;
            snprintf(out->code, sizeof out->code, "cancelling");
            snprintf(out->reason, sizeof out->reason, "cancelling: on_cancel runs again");
        } else {
            char why[160];
            snprintf(why, sizeof why,
                     "workflow is %s; requeue --cleanup takes a cancelled workflow", before);
            refuse(out, before, why);
        }
    }
    PQclear(r);
    return st;
}
