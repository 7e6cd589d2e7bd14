// SPDX-License-Identifier: MIT
/* store/dashboard.c: the dashboard's reads (store/dashboard.h). */
#include "store/dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "store/rows.h"
#include "store/store_internal.h"

const char *const cf_dash_waits[] = {"timer", "retry", "signal", "merge", "continue_if", NULL};

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

/* driver: the driving index: a class's own (class_id), a state other than completed's
 * (not_completed), else the primary key. */
static cf_sql_id driver(const cf_dash_filter *f)
{
    if (f->wf_class)
        return CF_SQL_DASH_LIST_CLASS;
    if (f->state && cf_wf_state_parse(f->state) != CF_WF_COMPLETED)
        return CF_SQL_DASH_LIST_STATE;
    return CF_SQL_DASH_LIST_ID;
}

const char *cf_dash_list_sql(const cf_dash_filter *f)
{
    return cf_sql_stmts[driver(f)].sql;
}

/* read_chunk runs the list statement once from below id `below`, appending its matches to
 * out (at most want); *scanned and *lowest describe the chunk it read. */
static cf_status read_chunk(cf_store *s, const cf_dash_filter *f, int64_t below, size_t want,
                            cf_dash_list *out, int64_t *scanned, int64_t *lowest)
{
    char b[24], from[24], to[24], lim[24], chunk[24];
    snprintf(b, sizeof b, "%lld", (long long)below);
    snprintf(from, sizeof from, "%lld", (long long)f->from_ms);
    snprintf(to, sizeof to, "%lld", (long long)f->to_ms);
    snprintf(lim, sizeof lim, "%zu", want);
    snprintf(chunk, sizeof chunk, "%d", CF_DASH_CHUNK);
    const char *vals[] = {f->state,
                          b,
                          f->wf_class,
                          f->key_prefix,
                          f->from_ms ? from : NULL,
                          f->to_ms ? to : NULL,
                          f->error_class,
                          f->waits,
                          lim,
                          chunk};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, driver(f), vals, &r);
    int n = st == CF_OK ? PQntuples(r) : 0;
    *scanned = n > 0 ? cf_rows_i64(r, 0, CF_SQL_WF_NCOLS + 2) : 0;
    *lowest = n > 0 ? cf_rows_i64(r, 0, CF_SQL_WF_NCOLS + 3) : 0;
    if (n == 1 && PQgetisnull(r, 0, 0))
        n = 0; /* the chunk matched nothing */
    cf_dash_row *rows = n > 0 ? cf_realloc(out->rows, (out->n + (size_t)n) * sizeof *rows) : NULL;
    if (n > 0 && rows == NULL)
        st = CF_ERR_NOMEM;
    else if (n > 0)
        out->rows = rows;
    for (int i = 0; st == CF_OK && i < n; i++) {
        cf_dash_row *row = &out->rows[out->n];
        memset(row, 0, sizeof *row);
        st = cf_rows_wf(r, i, &row->wf);
        if (st != CF_OK)
            break;
        out->n++;
        row->last_error_class = dup_cell(r, i, CF_SQL_WF_NCOLS);
        row->last_error_message = dup_cell(r, i, CF_SQL_WF_NCOLS + 1);
    }
    PQclear(r);
    return st;
}

cf_status cf_dash_list_workflows(cf_store *s, const cf_dash_filter *f, cf_dash_list *out)
{
    memset(out, 0, sizeof *out);
    size_t limit = f->limit ? f->limit : 50;
    if (limit > 500 || (f->state && cf_wf_state_parse(f->state) == CF_WF_UNKNOWN) ||
        (f->waits && !known_wait(f->waits))) {
        cf_store_set_error(s, "dashboard list: unknown state or wait kind, or a limit over 500");
        return CF_ERR_INVALID;
    }
    int64_t below = f->before_id > 0 ? f->before_id : INT64_MAX, read = 0;
    cf_status st = CF_OK;
    for (;;) {
        int64_t scanned = 0, lowest = 0;
        st = read_chunk(s, f, below, limit - out->n, out, &scanned, &lowest);
        if (st != CF_OK)
            break;
        read += scanned;
        if (out->n == limit) {
            out->next_before_id = out->rows[out->n - 1].wf.id;
            break;
        }
        if (scanned < CF_DASH_CHUNK)
            break; /* the index has no older row */
        below = lowest;
        if (read >= CF_DASH_SCAN_MAX) { /* bounded work: the next page goes on from here */
            out->next_before_id = lowest;
            out->scan_limited = true;
            break;
        }
    }
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

void cf_dash_counts_deinit(cf_dash_counts_out *c)
{
    if (c == NULL)
        return;
    cf_free(c->by_queue);
    memset(c, 0, sizeof *c);
}

static cf_status by_queue(cf_store *s, cf_dash_counts_out *out)
{
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_DASH_COUNTS, NULL, &r);
    int rows = st == CF_OK ? PQntuples(r) : 0;
    if (rows > 0 && !(out->by_queue = cf_calloc((size_t)rows, sizeof *out->by_queue)))
        st = CF_ERR_NOMEM;
    for (int i = 0; st == CF_OK && i < rows; i++) {
        cf_dash_count *c = &out->by_queue[i];
        snprintf(c->state, sizeof c->state, "%s", PQgetvalue(r, i, 0));
        snprintf(c->queue, sizeof c->queue, "%s", PQgetvalue(r, i, 1));
        c->n = cf_rows_i64(r, i, 2);
        out->nqueue++;
    }
    PQclear(r);
    return st;
}

cf_status cf_dash_counts(cf_store *s, int64_t cap, int64_t exact_below, cf_dash_counts_out *out)
{
    memset(out, 0, sizeof *out);
    char capbuf[24];
    snprintf(capbuf, sizeof capbuf, "%lld", (long long)cap);
    cf_status st = CF_OK;
    bool any_at_cap = false;
    int64_t others = 0;
    for (int ws = 1; st == CF_OK && ws < CF_WF_STATE_COUNT; ws++) {
        if (ws == CF_WF_COMPLETED)
            continue;
        const char *vals[] = {cf_wf_state_name((cf_wf_state)ws), capbuf};
        PGresult *r = NULL;
        st = cf_store_read(s, CF_SQL_DASH_COUNT_STATE, vals, &r);
        if (st == CF_OK) {
            out->by_state[ws] = cf_rows_i64(r, 0, 0);
            out->at_cap[ws] = out->by_state[ws] >= cap;
            any_at_cap |= out->at_cap[ws];
            others += out->by_state[ws];
        }
        PQclear(r);
    }
    if (st == CF_OK && !any_at_cap) {
        st = by_queue(s, out);
        out->queues_counted = st == CF_OK;
    }
    int64_t estimate = -1;
    if (st == CF_OK)
        st = read_one(s, CF_SQL_DASH_ESTIMATE, &estimate);
    if (st == CF_OK && estimate >= 0 && estimate >= exact_below) {
        out->by_state[CF_WF_COMPLETED] = estimate > others ? estimate - others : 0;
    } else if (st == CF_OK) {
        st = read_one(s, CF_SQL_DASH_COMPLETED, &out->by_state[CF_WF_COMPLETED]);
        out->completed_exact = st == CF_OK;
    }
    if (st != CF_OK)
        cf_dash_counts_deinit(out);
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
