// SPDX-License-Identifier: MIT
/* store/schedules.c: the schedule statements of store/sql.c (CF_SQL_SCHEDULE_*) on reader
 * connections, and their rows. Each call is one statement, hence one commit. */
#include "store/schedules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "store/rows.h"
#include "store/store_internal.h"

void cf_schedule_deinit(cf_schedule *s)
{
    if (s == NULL)
        return;
    json_decref(s->kwargs);
    memset(s, 0, sizeof *s);
}

void cf_schedule_list_deinit(cf_schedule_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        cf_schedule_deinit(&l->items[i]);
    cf_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cf_fire_result_deinit(cf_fire_result *r)
{
    if (r == NULL)
        return;
    json_decref(r->kwargs);
    memset(r, 0, sizeof *r);
}

static void col(char *dst, size_t cap, const PGresult *r, int i, int c)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, i, c) ? "" : PQgetvalue(r, i, c));
}

/* row fills *out from row i (schedule columns from column 0). */
static cf_status row(const PGresult *r, int i, cf_schedule *out)
{
    memset(out, 0, sizeof *out);
    col(out->name, sizeof out->name, r, i, 0);
    col(out->wf_class, sizeof out->wf_class, r, i, 1);
    col(out->queue, sizeof out->queue, r, i, 2);
    col(out->cron, sizeof out->cron, r, i, 3);
    out->every_ms = cf_rows_i64(r, i, 4);
    col(out->tz, sizeof out->tz, r, i, 5);
    out->kwargs = json_loads(PQgetvalue(r, i, 6), JSON_DECODE_ANY, NULL);
    col(out->key_template, sizeof out->key_template, r, i, 7);
    out->overlap_allow = strcmp(PQgetvalue(r, i, 8), "allow") == 0;
    out->paused = PQgetvalue(r, i, 9)[0] == 't';
    out->last_fire_ms = cf_rows_i64(r, i, 10);
    col(out->last_key, sizeof out->last_key, r, i, 11);
    out->next_fire_ms = cf_rows_i64(r, i, 12);
    out->created_ms = cf_rows_i64(r, i, 13);
    out->updated_ms = cf_rows_i64(r, i, 14);
    col(out->updated_by, sizeof out->updated_by, r, i, 15);
    return out->kwargs ? CF_OK : CF_ERR_NOMEM;
}

static cf_status rows(const PGresult *r, cf_schedule_list *out)
{
    out->n = 0;
    out->items = NULL;
    int n = PQntuples(r);
    if (n == 0)
        return CF_OK;
    out->items = cf_calloc((size_t)n, sizeof *out->items);
    if (out->items == NULL)
        return CF_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        out->n++;
        cf_status st = row(r, i, &out->items[i]);
        if (st != CF_OK)
            return st;
    }
    return CF_OK;
}

/* one reads the single row of a statement on a schedule by name. */
static cf_status one(cf_store *s, cf_status st, PGresult *r, cf_schedule *out)
{
    if (st == CF_OK && PQntuples(r) == 0) {
        cf_store_set_error(s, "no such schedule");
        st = CF_ERR_NOT_FOUND;
    }
    if (st == CF_OK && out != NULL)
        st = row(r, 0, out);
    PQclear(r);
    return st;
}

cf_status cf_store_schedule_put(cf_store *s, const cf_schedule *def, const char *by,
                                cf_schedule_put_result *result)
{
    char every[24], next[24];
    snprintf(every, sizeof every, "%lld", (long long)def->every_ms);
    snprintf(next, sizeof next, "%lld", (long long)def->next_fire_ms);
    char *kwargs = def->kwargs ? json_dumps(def->kwargs, JSON_COMPACT) : strdup("{}");
    if (kwargs == NULL)
        return CF_ERR_NOMEM;
    const char *vals[] = {def->name,
                          def->wf_class,
                          def->queue[0] ? def->queue : "default",
                          def->cron[0] ? def->cron : NULL,
                          def->every_ms > 0 ? every : NULL,
                          def->tz[0] ? def->tz : "UTC",
                          kwargs,
                          def->key_template,
                          def->overlap_allow ? "allow" : "skip",
                          next,
                          by};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SCHEDULE_UPSERT, vals, &r);
    free(kwargs);
    if (st == CF_OK && PQntuples(r) == 1 && result != NULL)
        *result = PQgetvalue(r, 0, CF_SQL_SCHEDULE_NCOLS)[0] == 't'       ? CF_SCHEDULE_ADDED
                  : PQgetvalue(r, 0, CF_SQL_SCHEDULE_NCOLS + 1)[0] == 't' ? CF_SCHEDULE_CHANGED
                                                                          : CF_SCHEDULE_UNCHANGED;
    PQclear(r);
    return st;
}

cf_status cf_store_schedule_get(cf_store *s, const char *name, cf_schedule *out)
{
    const char *vals[] = {name};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SCHEDULE_GET, vals, &r);
    return one(s, st, r, out);
}

cf_status cf_store_schedule_list(cf_store *s, cf_schedule_list *out)
{
    memset(out, 0, sizeof *out);
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SCHEDULE_LIST, NULL, &r);
    if (st == CF_OK)
        st = rows(r, out);
    PQclear(r);
    return st;
}

cf_status cf_store_schedule_pause(cf_store *s, const char *name, bool paused, int64_t next_fire_ms,
                                  const char *by, cf_schedule *out)
{
    char next[24];
    snprintf(next, sizeof next, "%lld", (long long)next_fire_ms);
    const char *vals[] = {name, paused ? "true" : "false", next, by};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SCHEDULE_PAUSE, vals, &r);
    return one(s, st, r, out);
}

cf_status cf_store_schedule_remove(cf_store *s, const char *name)
{
    const char *vals[] = {name};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SCHEDULE_REMOVE, vals, &r);
    if (st == CF_OK && PQntuples(r) == 0) {
        cf_store_set_error(s, "no such schedule");
        st = CF_ERR_NOT_FOUND;
    }
    PQclear(r);
    return st;
}

cf_status cf_store_schedules_due(cf_store *s, int64_t now_ms, size_t limit, cf_schedule_list *out)
{
    memset(out, 0, sizeof *out);
    char now[24], lim[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *vals[] = {now, lim};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SCHEDULES_DUE, vals, &r);
    if (st == CF_OK)
        st = rows(r, out);
    PQclear(r);
    return st;
}

cf_status cf_store_schedule_fire(cf_store *s, const cf_fire_req *req, cf_fire_result *out)
{
    memset(out, 0, sizeof *out);
    char tick[24], next[24];
    snprintf(tick, sizeof tick, "%lld", (long long)req->tick_ms);
    snprintf(next, sizeof next, "%lld", (long long)req->next_fire_ms);
    char *options = req->options ? json_dumps(req->options, JSON_COMPACT) : strdup("{}");
    if (options == NULL)
        return CF_ERR_NOMEM;
    const char *vals[] = {req->name, tick, req->key, options, next, req->manual ? "true" : "false"};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_SCHEDULE_FIRE, vals, &r);
    free(options);
    if (st == CF_OK && PQntuples(r) == 1) {
        col(out->wf_class, sizeof out->wf_class, r, 0, 0);
        col(out->queue, sizeof out->queue, r, 0, 1);
        out->kwargs = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
        const char *o = PQgetvalue(r, 0, 3);
        out->outcome = strcmp(o, "fired") == 0     ? CF_FIRE_FIRED
                       : strcmp(o, "skipped") == 0 ? CF_FIRE_SKIPPED
                                                   : CF_FIRE_EXISTS;
        if (out->kwargs == NULL)
            st = CF_ERR_NOMEM;
    }
    PQclear(r);
    return st;
}
