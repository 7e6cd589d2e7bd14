// SPDX-License-Identifier: MIT
/* store/branches.c: the reads of store/branches.h, each a prepared statement (store/sql.c) on a
 * pooled reader connection. */
#include "store/branches.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "store/rows.h"
#include "store/store_internal.h"

const char *cf_branch_state_name(cf_branch_state st)
{
    switch (st) {
    case CF_BRANCH_OPEN:
        return "open";
    case CF_BRANCH_SEALED:
        return "sealed";
    case CF_BRANCH_MERGED:
        return "merged";
    case CF_BRANCH_NONE:
        break;
    }
    return "none";
}

static cf_branch_state parse_state(const char *s)
{
    return strcmp(s, "open") == 0     ? CF_BRANCH_OPEN
           : strcmp(s, "sealed") == 0 ? CF_BRANCH_SEALED
           : strcmp(s, "merged") == 0 ? CF_BRANCH_MERGED
                                      : CF_BRANCH_NONE;
}

static cf_status count_children(cf_store *s, const char *id, cf_branch_row *out)
{
    const char *vals[] = {id, out->name};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_BRANCH_COUNTS, vals, &r);
    for (int i = 0; st == CF_OK && i < PQntuples(r); i++)
        out->by_state[cf_wf_state_parse(PQgetvalue(r, i, 0))] += cf_rows_i64(r, i, 1);
    out->counted = st == CF_OK;
    PQclear(r);
    return st;
}

cf_status cf_store_branch_get(cf_store *s, int64_t workflow_id, const char *name, bool counts,
                              cf_branch_row *out)
{
    memset(out, 0, sizeof *out);
    if (!name || !*name || strlen(name) >= sizeof out->name) {
        cf_store_set_error(s, "branch name must be 1-200 bytes");
        return CF_ERR_INVALID;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)workflow_id);
    const char *vals[] = {id, name};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_BRANCH_GET, vals, &r);
    if (st == CF_OK && PQntuples(r) == 1) {
        out->state = parse_state(PQgetvalue(r, 0, 0));
        out->spawned = cf_rows_i64(r, 0, 1);
        out->remaining = cf_rows_i64(r, 0, 2);
    }
    PQclear(r);
    if (st == CF_OK && counts)
        st = count_children(s, id, out);
    return st;
}

cf_status cf_store_branches_of(cf_store *s, int64_t workflow_id, cf_branch_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)workflow_id);
    const char *vals[] = {id};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_BRANCHES_OF, vals, &r);
    int nr = st == CF_OK ? PQntuples(r) : 0;
    if (nr > 0 && !(*rows = cf_calloc((size_t)nr, sizeof **rows)))
        st = CF_ERR_NOMEM;
    for (int i = 0; st == CF_OK && i < nr; i++) {
        cf_branch_row *b = &(*rows)[i];
        snprintf(b->name, sizeof b->name, "%s", PQgetvalue(r, i, 0));
        b->state = parse_state(PQgetvalue(r, i, 1));
        b->spawned = cf_rows_i64(r, i, 2);
        b->remaining = cf_rows_i64(r, i, 3);
        st = count_children(s, id, b);
        if (st == CF_OK)
            (*n)++;
    }
    PQclear(r);
    if (st != CF_OK) {
        cf_free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return st;
}

cf_status cf_store_children_of(cf_store *s, int64_t parent_id, int64_t after_id, size_t limit,
                               cf_wf_list *out)
{
    memset(out, 0, sizeof *out);
    limit = limit ? limit : 50;
    if (limit > 1000) {
        cf_store_set_error(s, "children: limit over 1000");
        return CF_ERR_INVALID;
    }
    char id[24], after[24], lim[24];
    snprintf(id, sizeof id, "%lld", (long long)parent_id);
    snprintf(after, sizeof after, "%lld", (long long)after_id);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *vals[] = {id, after, lim};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_CHILDREN_OF, vals, &r);
    int nr = st == CF_OK ? PQntuples(r) : 0;
    if (nr > 0 && !(out->rows = cf_calloc((size_t)nr, sizeof *out->rows)))
        st = CF_ERR_NOMEM;
    for (int i = 0; st == CF_OK && i < nr; i++) {
        st = cf_rows_wf(r, i, &out->rows[i]);
        if (st == CF_OK)
            out->n++;
    }
    if (st == CF_OK && (size_t)nr == limit)
        out->next_after_id = out->rows[nr - 1].id;
    PQclear(r);
    if (st != CF_OK)
        cf_wf_list_deinit(out);
    return st;
}
