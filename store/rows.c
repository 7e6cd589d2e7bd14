// SPDX-License-Identifier: MIT
/* store/rows.c: PGresult rows to cf_wf_row, cf_step_row, cf_error_row and cf_wf_ref, plus their
 * destructors. */
#include "store/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

int64_t cf_rows_i64(const PGresult *res, int i, int c)
{
    if (PQgetisnull(res, i, c))
        return 0;
    return strtoll(PQgetvalue(res, i, c), NULL, 10);
}

/* An owned copy of the column, or NULL when SQL NULL; *oom set on allocation failure. */
static char *str_or_null(const PGresult *res, int i, int c, bool *oom)
{
    if (PQgetisnull(res, i, c))
        return NULL;
    char *s = cf_strdup(PQgetvalue(res, i, c));
    if (!s)
        *oom = true;
    return s;
}

/* Parses a JSON column; SQL NULL gives json null. NULL on failure. */
static json_t *json_col(const PGresult *res, int i, int c)
{
    if (PQgetisnull(res, i, c))
        return json_null();
    const char *s = PQgetvalue(res, i, c);
    return json_loadb(s, (size_t)PQgetlength(res, i, c), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

static void copy_str(char *dst, size_t cap, const PGresult *res, int i, int c)
{
    snprintf(dst, cap, "%s", PQgetvalue(res, i, c));
}

cf_status cf_rows_wf(const PGresult *res, int i, cf_wf_row *out)
{
    memset(out, 0, sizeof *out);
    out->id = cf_rows_i64(res, i, 0);
    out->fence = cf_rows_i64(res, i, 1);
    copy_str(out->wf_class, sizeof out->wf_class, res, i, 2);
    copy_str(out->key, sizeof out->key, res, i, 3);
    out->state = cf_wf_state_parse(PQgetvalue(res, i, 4));
    copy_str(out->queue, sizeof out->queue, res, i, 5);
    out->attempt = (int)cf_rows_i64(res, i, 6);
    out->crash_count = (int)cf_rows_i64(res, i, 7);
    out->kwargs = json_col(res, i, 8);
    out->options = json_col(res, i, 9);
    out->context = json_col(res, i, 10);
    out->retry_counts = json_col(res, i, 11);
    copy_str(out->locked_by, sizeof out->locked_by, res, i, 12);
    out->created_at_ms = cf_rows_i64(res, i, 13);
    out->started_at_ms = cf_rows_i64(res, i, 14);
    out->completed_at_ms = cf_rows_i64(res, i, 15);
    out->updated_at_ms = cf_rows_i64(res, i, 16);
    out->locked_at_ms = cf_rows_i64(res, i, 17);
    out->next_wake_at_ms = cf_rows_i64(res, i, 18);
    out->cancel_requested_at_ms = cf_rows_i64(res, i, 19);
    copy_str(out->cancel_by, sizeof out->cancel_by, res, i, 20);
    copy_str(out->cancel_reason, sizeof out->cancel_reason, res, i, 21);
    out->parent_id = cf_rows_i64(res, i, 22);
    if (!out->kwargs || !out->options || !out->context || !out->retry_counts) {
        cf_wf_row_deinit(out);
        return CF_ERR_PROTOCOL;
    }
    return CF_OK;
}

void cf_wf_row_deinit(cf_wf_row *row)
{
    if (!row)
        return;
    json_decref(row->kwargs);
    json_decref(row->options);
    json_decref(row->context);
    json_decref(row->retry_counts);
    memset(row, 0, sizeof *row);
}

static void step_row_deinit(cf_step_row *r)
{
    cf_free(r->name);
    cf_free(r->error_class);
    cf_free(r->error_message);
    json_decref(r->metadata);
}

cf_status cf_rows_steps(const PGresult *res, cf_step_list *out)
{
    return cf_rows_steps_range(res, 0, PQntuples(res), 0, out);
}

cf_status cf_rows_steps_range(const PGresult *res, int first, int n, int c0, cf_step_list *out)
{
    if (n <= 0)
        return CF_OK;
    cf_step_row *rows = cf_realloc(out->rows, (out->n + (size_t)n) * sizeof *rows);
    if (!rows)
        return CF_ERR_NOMEM;
    out->rows = rows;
    for (int i = first; i < first + n; i++) {
        cf_step_row *r = &out->rows[out->n];
        memset(r, 0, sizeof *r);
        bool oom = false;
        r->id = cf_rows_i64(res, i, c0 + 0);
        r->name = str_or_null(res, i, c0 + 1, &oom);
        r->state = cf_step_state_parse(PQgetvalue(res, i, c0 + 2));
        r->attempts = (int)cf_rows_i64(res, i, c0 + 3);
        r->metadata = json_col(res, i, c0 + 4);
        r->started_at_ms = cf_rows_i64(res, i, c0 + 5);
        r->last_executed_at_ms = cf_rows_i64(res, i, c0 + 6);
        r->completed_at_ms = cf_rows_i64(res, i, c0 + 7);
        r->error_class = str_or_null(res, i, c0 + 8, &oom);
        r->error_message = str_or_null(res, i, c0 + 9, &oom);
        if (oom || !r->name || !r->metadata) {
            step_row_deinit(r);
            return oom || !r->name ? CF_ERR_NOMEM : CF_ERR_PROTOCOL;
        }
        out->n++;
    }
    return CF_OK;
}

void cf_step_list_deinit(cf_step_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        step_row_deinit(&l->rows[i]);
    cf_free(l->rows);
    l->rows = NULL;
    l->n = 0;
}

const cf_step_row *cf_step_list_find(const cf_step_list *l, const char *name)
{
    for (size_t i = 0; l && name && i < l->n; i++)
        if (strcmp(l->rows[i].name, name) == 0)
            return &l->rows[i];
    return NULL;
}

static void error_row_deinit(cf_error_row *e)
{
    cf_free(e->step_name);
    cf_free(e->error_class);
    cf_free(e->error_message);
    cf_free(e->backtrace);
    json_decref(e->context);
}

cf_status cf_rows_errors(const PGresult *res, cf_error_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    int nt = PQntuples(res);
    if (nt == 0)
        return CF_OK;
    cf_error_row *out = cf_calloc((size_t)nt, sizeof *out);
    if (!out)
        return CF_ERR_NOMEM;
    for (int i = 0; i < nt; i++) {
        cf_error_row *e = &out[i];
        bool oom = false;
        e->id = cf_rows_i64(res, i, 0);
        e->step_name = str_or_null(res, i, 1, &oom);
        e->attempt = (int)cf_rows_i64(res, i, 2);
        e->error_class = str_or_null(res, i, 3, &oom);
        e->error_message = str_or_null(res, i, 4, &oom);
        e->backtrace = str_or_null(res, i, 5, &oom);
        e->context = json_col(res, i, 6);
        e->created_at_ms = cf_rows_i64(res, i, 7);
        if (oom || !e->context) {
            for (int j = 0; j <= i; j++)
                error_row_deinit(&out[j]);
            cf_free(out);
            return oom ? CF_ERR_NOMEM : CF_ERR_PROTOCOL;
        }
    }
    *rows = out;
    *n = (size_t)nt;
    return CF_OK;
}

void cf_wf_detail_deinit(cf_wf_detail *d)
{
    if (!d)
        return;
    cf_wf_row_deinit(&d->wf);
    cf_step_list_deinit(&d->steps);
    for (size_t i = 0; i < d->nerrors; i++)
        error_row_deinit(&d->errors[i]);
    cf_free(d->errors);
    d->errors = NULL;
    d->nerrors = 0;
}

cf_status cf_rows_refs(const PGresult *res, cf_wf_ref_list *out)
{
    out->rows = NULL;
    out->n = 0;
    int nt = PQntuples(res);
    if (nt == 0)
        return CF_OK;
    out->rows = cf_calloc((size_t)nt, sizeof *out->rows);
    if (!out->rows)
        return CF_ERR_NOMEM;
    for (int i = 0; i < nt; i++) {
        cf_wf_ref *r = &out->rows[i];
        bool oom = false;
        r->id = cf_rows_i64(res, i, 0);
        r->fence = cf_rows_i64(res, i, 1);
        r->wf_class = str_or_null(res, i, 2, &oom);
        r->key = str_or_null(res, i, 3, &oom);
        r->queue = str_or_null(res, i, 4, &oom);
        r->locked_by = str_or_null(res, i, 5, &oom);
        r->next_wake_at_ms = cf_rows_i64(res, i, 6);
        r->locked_at_ms = cf_rows_i64(res, i, 7);
        out->n = (size_t)i + 1;
        if (oom) {
            cf_wf_ref_list_deinit(out);
            return CF_ERR_NOMEM;
        }
    }
    return CF_OK;
}

void cf_wf_ref_list_deinit(cf_wf_ref_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        cf_free(l->rows[i].wf_class);
        cf_free(l->rows[i].key);
        cf_free(l->rows[i].queue);
        cf_free(l->rows[i].locked_by);
    }
    cf_free(l->rows);
    l->rows = NULL;
    l->n = 0;
}

void cf_wf_list_deinit(cf_wf_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        cf_wf_row_deinit(&l->rows[i]);
    cf_free(l->rows);
    l->rows = NULL;
    l->n = 0;
    l->next_after_id = 0;
}
