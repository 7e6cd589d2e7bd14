// SPDX-License-Identifier: MIT
/* store/signals.c: storing, finding and rechecking signals (store/signals.h), each one
 * statement of store/sql.c on a reader connection. */
#include "store/signals.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "store/rows.h"
#include "store/store_internal.h"

static bool text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= max;
}

cf_status cf_signal_check(const cf_signal_send_req *req, char *why, size_t cap)
{
    const char *bad = NULL;
    if (!req || !text_ok(req->wf_class, 128))
        bad = "class: 1-128 bytes required";
    else if (!text_ok(req->key, 256))
        bad = "key: 1-256 bytes required";
    else if (!text_ok(req->name, CF_SIGNAL_NAME_MAX) || strchr(req->name, '$'))
        bad = "name: 1-200 bytes without '$' required";
    else if (!text_ok(req->signal_id, CF_SIGNAL_ID_MAX))
        bad = "id: 1-64 bytes required";
    else if (!text_ok(req->sender, CF_SIGNAL_SENDER_MAX))
        bad = "sender: 1-256 bytes required";
    else if (req->payload_json && strlen(req->payload_json) > CF_SIGNAL_PAYLOAD_MAX)
        bad = "payload: at most 65536 bytes of JSON";
    if (bad == NULL && req->payload_json) {
        json_error_t jerr;
        json_t *v = json_loads(req->payload_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (v == NULL) {
            snprintf(why, cap, "payload: not JSON (%s)", jerr.text);
            return CF_ERR_INVALID;
        }
        json_decref(v);
    }
    if (bad) {
        snprintf(why, cap, "%s", bad);
        return CF_ERR_INVALID;
    }
    if (cap)
        why[0] = '\0';
    return CF_OK;
}

cf_status cf_store_signal_send(cf_store *s, const cf_signal_send_req *req,
                               cf_signal_send_result *out)
{
    memset(out, 0, sizeof *out);
    char why[200];
    if (cf_signal_check(req, why, sizeof why) != CF_OK) {
        cf_store_set_error(s, why);
        return CF_ERR_INVALID;
    }
    const char *vals[] = {req->wf_class,  req->key,          req->name,
                          req->signal_id, req->payload_json, req->sender};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SIGNAL_SEND, vals, &r);
    if (st == CF_OK && PQntuples(r) == 0) {
        cf_store_set_error(s, "no such workflow");
        st = CF_ERR_NOT_FOUND;
    } else if (st == CF_OK) {
        out->workflow_id = cf_rows_i64(r, 0, 0);
        out->state = cf_wf_state_parse(PQgetvalue(r, 0, 1));
        snprintf(out->queue, sizeof out->queue, "%s", PQgetvalue(r, 0, 2));
        out->woke = PQgetvalue(r, 0, 4)[0] == 't';
        bool takes =
            out->state == CF_WF_IDLE || out->state == CF_WF_RUNNING || out->state == CF_WF_STALLED;
        if (PQgetvalue(r, 0, 5)[0] == 't') {
            out->duplicate = true; /* a resend: accepted, as the first time */
        } else if (!takes) {
            snprintf(why, sizeof why, "workflow is %s; it takes no more signals",
                     PQgetvalue(r, 0, 1));
            cf_store_set_error(s, why);
            st = CF_ERR_STATE;
        } else {
            out->duplicate = PQgetisnull(r, 0, 3); /* a concurrent resend won the insert */
        }
    }
    PQclear(r);
    return st;
}

void cf_signal_row_deinit(cf_signal_row *r)
{
    if (r == NULL)
        return;
    cf_free(r->signal_id);
    cf_free(r->payload);
    cf_free(r->sender);
    memset(r, 0, sizeof *r);
}

/* ids_text writes skip as a Postgres array literal "{1,2}"; NULL on OOM. */
static char *ids_text(const int64_t *skip, size_t n)
{
    size_t cap = 3 + n * 21;
    char *t = cf_malloc(cap);
    if (t == NULL)
        return NULL;
    size_t len = (size_t)snprintf(t, cap, "{");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s%lld", i ? "," : "", (long long)skip[i]);
    snprintf(t + len, cap - len, "}");
    return t;
}

cf_status cf_store_signal_next(cf_store *s, int64_t workflow_id, const char *name,
                               const int64_t *skip, size_t n, cf_signal_row *out)
{
    memset(out, 0, sizeof *out);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)workflow_id);
    char *ids = ids_text(skip, n);
    if (ids == NULL)
        return CF_ERR_NOMEM;
    const char *vals[] = {id, name, ids};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SIGNAL_NEXT, vals, &r);
    cf_free(ids);
    if (st == CF_OK && PQntuples(r) == 0)
        st = CF_ERR_NOT_FOUND;
    else if (st == CF_OK) {
        out->id = cf_rows_i64(r, 0, 0);
        out->signal_id = cf_strdup(PQgetvalue(r, 0, 1));
        out->payload = PQgetisnull(r, 0, 2) ? NULL : cf_strdup(PQgetvalue(r, 0, 2));
        out->sent_at_ms = cf_rows_i64(r, 0, 3);
        out->sender = cf_strdup(PQgetvalue(r, 0, 4));
        if (!out->signal_id || !out->sender || (!PQgetisnull(r, 0, 2) && !out->payload)) {
            cf_signal_row_deinit(out);
            st = CF_ERR_NOMEM;
        }
    }
    PQclear(r);
    return st;
}

cf_status cf_store_signal_recheck(cf_store *s, int64_t workflow_id, const char *name, bool *woke)
{
    *woke = false;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)workflow_id);
    const char *vals[] = {id, name};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SIGNAL_RECHECK, vals, &r);
    if (st == CF_OK)
        *woke = PQntuples(r) > 0;
    PQclear(r);
    return st;
}

cf_status cf_store_signal_heal(cf_store *s, int64_t grace_ms, int limit, int64_t *marked)
{
    *marked = 0;
    char g[24], l[24];
    snprintf(g, sizeof g, "%lld", (long long)grace_ms);
    snprintf(l, sizeof l, "%d", limit);
    const char *vals[] = {g, l};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SIGNAL_HEAL, vals, &r);
    if (st == CF_OK)
        *marked = PQntuples(r);
    PQclear(r);
    return st;
}
