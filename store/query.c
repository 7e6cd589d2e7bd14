// SPDX-License-Identifier: MIT
/* store/query.c: read-only operator and sweeper queries (store/query.h), each one prepared
 * statement on a pooled reader connection. */
#include "store/query.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "store/rows.h"
#include "store/store_internal.h"

cf_status cf_store_show(cf_store *s, const char *wf_class, const char *key, size_t max_errors,
                        cf_wf_detail *out)
{
    memset(out, 0, sizeof *out);
    cf_status st = cf_store_find(s, wf_class, key, &out->wf);
    if (st != CF_OK)
        return st;
    char id[24], lim[24];
    snprintf(id, sizeof id, "%lld", (long long)out->wf.id);
    snprintf(lim, sizeof lim, "%zu", max_errors ? max_errors : 100);
    const char *vals[] = {id, lim};
    PGresult *r = NULL;
    st = cf_store_read(s, CF_SQL_STEPS_ALL_BY_ID, vals, &r);
    if (st == CF_OK)
        st = cf_rows_steps(r, &out->steps);
    PQclear(r);
    r = NULL;
    if (st == CF_OK)
        st = cf_store_read(s, CF_SQL_ERRORS_BY_ID, vals, &r);
    if (st == CF_OK)
        st = cf_rows_errors(r, &out->errors, &out->nerrors);
    PQclear(r);
    if (st != CF_OK)
        cf_wf_detail_deinit(out);
    return st;
}

cf_status cf_store_list(cf_store *s, const cf_wf_list_filter *f, cf_wf_list *out)
{
    memset(out, 0, sizeof *out);
    size_t limit = f->limit ? f->limit : 50;
    if (limit > 1000 || (f->state && cf_wf_state_parse(f->state) == CF_WF_UNKNOWN)) {
        cf_store_set_error(s, "list: unknown state or limit over 1000");
        return CF_ERR_INVALID;
    }
    char after[24], lim[24];
    snprintf(after, sizeof after, "%lld", (long long)f->after_id);
    snprintf(lim, sizeof lim, "%zu", limit);
    /* One statement per filter combination (store/sql.c): each uses an index. */
    const char *vals[4];
    size_t nv = 0;
    if (f->state)
        vals[nv++] = f->state;
    if (f->wf_class)
        vals[nv++] = f->wf_class;
    vals[nv++] = after;
    vals[nv++] = lim;
    cf_sql_id which = f->state && f->wf_class ? CF_SQL_LIST_STATE_CLASS
                      : f->state              ? CF_SQL_LIST_STATE
                      : f->wf_class           ? CF_SQL_LIST_CLASS
                                              : CF_SQL_LIST_ALL;
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, which, vals, &r);
    int n = st == CF_OK ? PQntuples(r) : 0;
    if (n > 0 && !(out->rows = cf_calloc((size_t)n, sizeof *out->rows)))
        st = CF_ERR_NOMEM;
    for (int i = 0; st == CF_OK && i < n; i++) {
        st = cf_rows_wf(r, i, &out->rows[i]);
        if (st == CF_OK)
            out->n++;
    }
    if (st == CF_OK && (size_t)n == limit)
        out->next_after_id = out->rows[n - 1].id;
    PQclear(r);
    if (st != CF_OK)
        cf_wf_list_deinit(out);
    return st;
}

cf_status cf_store_count_by_state(cf_store *s, const char *wf_class, cf_state_counts *out)
{
    memset(out, 0, sizeof *out);
    const char *vals[] = {wf_class};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, wf_class ? CF_SQL_COUNTS_CLASS : CF_SQL_COUNTS_ALL, vals, &r);
    for (int i = 0; st == CF_OK && i < PQntuples(r); i++) {
        cf_wf_state ws = cf_wf_state_parse(PQgetvalue(r, i, 0));
        out->by_state[ws] += cf_rows_i64(r, i, 1); /* unknown states add up under UNKNOWN */
    }
    PQclear(r);
    return st;
}

static cf_status sweep(cf_store *s, cf_sql_id id, int64_t arg, size_t limit,
                       const char *const *skip, size_t nskip, cf_wf_ref_list *out)
{
    memset(out, 0, sizeof *out);
    if (limit < 1 || limit > 10000) {
        cf_store_set_error(s, "sweep limit must be 1..10000");
        return CF_ERR_INVALID;
    }
    /* a text[] literal of queue names ([A-Za-z0-9_.-], nothing to quote) */
    char a[24], lim[24], queues[2048] = "{";
    for (size_t i = 0; i < nskip; i++) {
        size_t used = strlen(queues);
        if (strspn(skip[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
                strlen(skip[i]) ||
            used + strlen(skip[i]) + 3 > sizeof queues) {
            cf_store_set_error(s, "sweep: bad or too many skipped queues");
            return CF_ERR_INVALID;
        }
        snprintf(queues + used, sizeof queues - used, "%s%s", i ? "," : "", skip[i]);
    }
    strcat(queues, "}");
    snprintf(a, sizeof a, "%lld", (long long)arg);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *vals[] = {a, lim, queues};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, id, vals, &r);
    if (st == CF_OK)
        st = cf_rows_refs(r, out);
    PQclear(r);
    return st;
}

cf_status cf_store_sweep_overdue(cf_store *s, int64_t grace_ms, size_t limit,
                                 const char *const *skip, size_t nskip, cf_wf_ref_list *out)
{
    return sweep(s, CF_SQL_SWEEP_OVERDUE, grace_ms < 0 ? 0 : grace_ms, limit, skip, nskip, out);
}

cf_status cf_store_sweep_running(cf_store *s, int64_t after_id, size_t limit,
                                 const char *const *skip, size_t nskip, cf_wf_ref_list *out)
{
    return sweep(s, CF_SQL_SWEEP_RUNNING, after_id, limit, skip, nskip, out);
}

cf_status cf_store_select_resumable(cf_store *s, const cf_resumable_filter *f, int64_t after_id,
                                    size_t limit, cf_wf_ref_list *out)
{
    memset(out, 0, sizeof *out);
    if (!f->state || (strcmp(f->state, "stalled") != 0 && strcmp(f->state, "failed") != 0) ||
        limit < 1 || limit > 1000 || f->older_than_ms < 0) {
        cf_store_set_error(s, "select_resumable: state must be stalled or failed, limit 1-1000");
        return CF_ERR_INVALID;
    }
    char older[24], after[24], lim[24];
    snprintf(older, sizeof older, "%lld", (long long)f->older_than_ms);
    snprintf(after, sizeof after, "%lld", (long long)after_id);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *vals[] = {f->state, f->wf_class, f->error_class, older, after, lim};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_RESUMABLE, vals, &r);
    if (st == CF_OK)
        st = cf_rows_refs(r, out);
    PQclear(r);
    return st;
}
