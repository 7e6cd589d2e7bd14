// SPDX-License-Identifier: MIT
/* store/queue_flags.c: CF_SQL_QUEUE_PAUSE and CF_SQL_QUEUE_FLAGS (store/queue_flags.h). */
#include "store/queue_flags.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "store/rows.h"
#include "store/store_internal.h"

void cf_queue_flag_list_deinit(cf_queue_flag_list *l)
{
    if (l == NULL)
        return;
    cf_free(l->items);
    l->items = NULL;
    l->n = 0;
}

cf_status cf_store_queue_pause(cf_store *s, const char *queue, bool paused, const char *by)
{
    const char *vals[] = {queue, paused ? "true" : "false", by};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_QUEUE_PAUSE, vals, &r);
    PQclear(r);
    return st;
}

cf_status cf_store_queue_flags(cf_store *s, cf_queue_flag_list *out)
{
    memset(out, 0, sizeof *out);
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_QUEUE_FLAGS, NULL, &r);
    int n = st == CF_OK ? PQntuples(r) : 0;
    if (n > 0) {
        out->items = cf_calloc((size_t)n, sizeof *out->items);
        if (out->items == NULL)
            st = CF_ERR_NOMEM;
    }
    for (int i = 0; st == CF_OK && i < n; i++) {
        cf_queue_flag *f = &out->items[out->n++];
        snprintf(f->name, sizeof f->name, "%s", PQgetvalue(r, i, 0));
        f->paused = PQgetvalue(r, i, 1)[0] == 't';
        f->paused_at_ms = cf_rows_i64(r, i, 2);
        snprintf(f->paused_by, sizeof f->paused_by, "%s", PQgetvalue(r, i, 3));
    }
    PQclear(r);
    return st;
}

bool cf_queue_flag_paused(const cf_queue_flag_list *l, const char *queue)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].paused && strcmp(l->items[i].name, queue) == 0)
            return true;
    return false;
}
