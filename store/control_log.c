// SPDX-License-Identifier: MIT
/* store/control_log.c: the control requests' answers (store/control_log.h), one statement each
 * (store/sql.c) on a reader connection. */
#include "store/control_log.h"

#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

static void fill(const PGresult *r, cf_control_answer *out)
{
    out->accepted = strcmp(PQgetvalue(r, 0, 0), "accepted") == 0;
    snprintf(out->code, sizeof out->code, "%s", PQgetvalue(r, 0, 1));
    snprintf(out->reason, sizeof out->reason, "%s", PQgetvalue(r, 0, 2));
}

cf_status cf_store_control_seen(cf_store *s, const char *request_id, cf_control_answer *out)
{
    memset(out, 0, sizeof *out);
    const char *vals[] = {request_id};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_CONTROL_SEEN, vals, &r);
    if (st == CF_OK && PQntuples(r) == 0)
        st = CF_ERR_NOT_FOUND;
    else if (st == CF_OK)
        fill(r, out);
    PQclear(r);
    return st;
}

cf_status cf_store_control_record(cf_store *s, const char *request_id, const char *op,
                                  const char *wf_class, const char *key, cf_control_answer *answer)
{
    const char *vals[] = {request_id,
                          op,
                          wf_class,
                          key,
                          answer->accepted ? "accepted" : "refused",
                          answer->accepted ? "" : answer->code,
                          answer->accepted ? "" : answer->reason};
    PGresult *r = NULL;
    cf_status st = cf_store_read(s, CF_SQL_CONTROL_RECORD, vals, &r);
    if (st == CF_OK && PQntuples(r) == 1)
        fill(r, answer);
    PQclear(r);
    return st;
}
