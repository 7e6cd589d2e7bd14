// SPDX-License-Identifier: MIT
/* store/dashboard.c: the dashboard's reads (store/dashboard.h). */
#include "store/dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "store/rows.h"
#include "store/store_internal.h"

const char *const cf_dash_waits[] = {"timer", "retry", "continue_if", NULL};

static bool known_wait(const char *w)
{
    for (size_t i = 0; cf_dash_waits[i]; i++)
        if (strcmp(cf_dash_waits[i], w) == 0)
            return true;
    return false;
}

void cf_dash_list_deinit(cf_dash_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        cf_wf_row_deinit(&l->rows[i].wf);
        cf_free(l->rows[i].last_error_class);
        cf_free(l->rows[i].last_error_message);
    }
    cf_free(l->rows);
    memset(l, 0, sizeof *l);
}

static char *dup_cell(const PGresult *r, int i, int c)
{
    return PQgetisnull(r, i, c) ? NULL : cf_strdup(PQgetvalue(r, i, c));
}

cf_status cf_dash_list_workflows(cf_store *s, const cf_dash_filter *f, cf_dash_list *out)
{
    memset(out, 0, sizeof *out);
    size_t limit = f->limit ? f->limit : 50;
    cf_wf_state st_wanted = f->state ? cf_wf_state_parse(f->state) : CF_WF_UNKNOWN;
    if (limit > 500 || (f->state && st_wanted == CF_WF_UNKNOWN) ||
        (f->waits && !known_wait(f->waits))) {
        cf_store_set_error(s, "dashboard list: unknown state or wait kind, or a limit over 500");
        return CF_ERR_INVALID;
    }
    char before[24], from[24], to[24], lim[24];
    snprintf(before, sizeof before, "%lld",
             (long long)(f->before_id > 0 ? f->before_id : INT64_MAX));
    snprintf(from, sizeof from, "%lld", (long long)f->from_ms);
    snprintf(to, sizeof to, "%lld", (long long)f->to_ms);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *vals[] = {f->state,
                          before,
                          f->wf_class,
                          f->key_prefix,
                          f->from_ms ? from : NULL,
                          f->to_ms ? to : NULL,
                          f->error_class,
                          f->waits,
                          lim};
    /* The driving index: a class's own (class_id), a state other than completed's
     * (not_completed), else the primary key. */
    cf_sql_id which = f->wf_class                                ? CF_SQL_DASH_LIST_CLASS
                      : f->state && st_wanted != CF_WF_COMPLETED ? CF_SQL_DASH_LIST_STATE
                                                                 : CF_SQL_DASH_LIST_ID;
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, which, vals, &r);
    int n = st == CF_OK ? PQntuples(r) : 0;
    if (n > 0 && !(out->rows = cf_calloc((size_t)n, sizeof *out->rows)))
        st = CF_ERR_NOMEM;
    for (int i = 0; st == CF_OK && i < n; i++) {
        cf_dash_row *row = &out->rows[i];
        st = cf_rows_wf(r, i, &row->wf);
        if (st != CF_OK)
            break;
        out->n++;
        row->last_error_class = dup_cell(r, i, CF_SQL_WF_NCOLS);
        row->last_error_message = dup_cell(r, i, CF_SQL_WF_NCOLS + 1);
    }
    if (st == CF_OK && (size_t)n == limit)
        out->next_before_id = out->rows[n - 1].wf.id;
    PQclear(r);
    if (st != CF_OK)
        cf_dash_list_deinit(out);
    return st;
}

static cf_status read_one(cf_store *s, cf_sql_id id, int64_t *out)
{
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, id, NULL, &r);
    *out = st == CF_OK && PQntuples(r) == 1 ? cf_rows_i64(r, 0, 0) : -1;
    PQclear(r);
    return st;
}

cf_status cf_dash_counts(cf_store *s, int64_t exact_below, cf_dash_count **out, size_t *n,
                         int64_t *completed, bool *completed_exact)
{
    *out = NULL;
    *n = 0;
    *completed = 0;
    *completed_exact = false;
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_DASH_COUNTS, NULL, &r);
    int rows = st == CF_OK ? PQntuples(r) : 0;
    if (rows > 0 && !(*out = cf_calloc((size_t)rows, sizeof **out)))
        st = CF_ERR_NOMEM;
    int64_t others = 0;
    for (int i = 0; st == CF_OK && i < rows; i++) {
        cf_dash_count *c = &(*out)[i];
        snprintf(c->state, sizeof c->state, "%s", PQgetvalue(r, i, 0));
        snprintf(c->queue, sizeof c->queue, "%s", PQgetvalue(r, i, 1));
        c->n = cf_rows_i64(r, i, 2);
        others += c->n;
        (*n)++;
    }
    PQclear(r);
    int64_t estimate = -1;
    if (st == CF_OK)
        st = read_one(s, CF_SQL_DASH_ESTIMATE, &estimate);
    if (st == CF_OK && estimate >= 0 && estimate >= exact_below) {
        *completed = estimate > others ? estimate - others : 0;
    } else if (st == CF_OK) {
        st = read_one(s, CF_SQL_DASH_COMPLETED, completed);
        *completed_exact = st == CF_OK;
    }
    if (st != CF_OK) {
        cf_free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

cf_status cf_dash_throughput(cf_store *s, int64_t now_ms, int64_t window, int64_t per_minute[60])
{
    memset(per_minute, 0, 60 * sizeof per_minute[0]);
    char w[24];
    snprintf(w, sizeof w, "%lld", (long long)(window > 0 ? window : 50000));
    const char *vals[] = {w};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_DASH_THROUGHPUT, vals, &r);
    int64_t this_minute = now_ms - now_ms % 60000;
    for (int i = 0; st == CF_OK && i < PQntuples(r); i++) {
        int64_t ago = (this_minute - cf_rows_i64(r, i, 0)) / 60000;
        if (ago >= 0 && ago < 60)
            per_minute[59 - ago] += cf_rows_i64(r, i, 1);
    }
    PQclear(r);
    return st;
}
