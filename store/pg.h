// SPDX-License-Identifier: MIT
/* store/pg.h: one libpq connection as the store uses it (internal to store/): connect from a
 * conninfo or URI with the session settings (statement_timeout, quiet notices, application
 * name), prepare the statement table of store/sql.h, classify failures into cf_status, and
 * reconnect with capped backoff. Not thread-safe: one thread uses a cf_pg at a time. */
#ifndef CF_STORE_PG_H
#define CF_STORE_PG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/status.h"
#include "store/sql.h"

typedef struct cf_pg {
    PGconn *conn;            /* NULL when not connected */
    char *dsn;               /* owned copy, never logged (may hold a password) */
    int64_t stmt_timeout_ms; /* applied to the session at every connect */
    bool prepared;           /* the statement table is prepared on this connection */
    bool index_joins;        /* session: no hash/merge joins, no seq scans (the writer) */
    char errstr[256];        /* last failure, password-free */
} cf_pg;

/* cf_pg_init copies dsn (borrowed) into pg without connecting; CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_pg_init(cf_pg *pg, const char *dsn, int64_t stmt_timeout_ms);

/* cf_pg_deinit closes the connection and frees the copy; NULL-safe, idempotent. */
void cf_pg_deinit(cf_pg *pg);

/* cf_pg_connect (re)opens the connection, applies the session settings and, when prepare is
 * true, prepares every statement of store/sql.h. CF_ERR_INVALID for a malformed DSN,
 * CF_ERR_UNAVAILABLE when the server refuses or cannot be reached, CF_ERR_STATE when a
 * statement cannot be prepared (schema not migrated); pg->errstr says why. Blocks. */
CF_MUST_CHECK cf_status cf_pg_connect(cf_pg *pg, bool prepare);

/* cf_pg_reconnect retries cf_pg_connect with capped exponential backoff (50 ms doubling to
 * 2 s, jittered) until it succeeds, *stop becomes true, or give_up_ms passes (< 0: never).
 * Returns the last status. Blocks. */
CF_MUST_CHECK cf_status cf_pg_reconnect(cf_pg *pg, bool prepare, int64_t give_up_ms,
                                        const atomic_bool *stop);

/* cf_pg_is_broken says whether the connection is missing or in CONNECTION_BAD. */
bool cf_pg_is_broken(const cf_pg *pg);

/* cf_pg_result_status turns a result (NULL allowed: libpq failed to send or lost the
 * connection) into a status and fills pg->errstr: CF_OK when its status is `expect`. Mapping:
 * broken connection or SQLSTATE class 08 -> CF_ERR_IO; 57014 (statement timeout) ->
 * CF_ERR_TIMEOUT; 57P0x, 53xxx, 40001, 40P01 -> CF_ERR_UNAVAILABLE; classes 22 and 23 (bad
 * data, constraint) -> CF_ERR_INVALID; 42xxx (missing table, ...) -> CF_ERR_STATE; others
 * -> CF_ERR_PROTOCOL. Does not clear res. */
cf_status cf_pg_result_status(cf_pg *pg, const PGresult *res, ExecStatusType expect);

/* cf_pg_exec runs prepared statement id with n text parameters (vals borrowed; NULL entries
 * are SQL NULL) and returns its result in *out (owned; PQclear) when its status is `expect`,
 * else clears it and returns cf_pg_result_status's answer (*out NULL). Blocks. */
CF_MUST_CHECK cf_status cf_pg_exec(cf_pg *pg, cf_sql_id id, const char *const *vals,
                                   ExecStatusType expect, PGresult **out);

/* cf_pg_sqlstate_class returns the two-character class of res's SQLSTATE ("" when none). */
const char *cf_pg_sqlstate(const PGresult *res);

#endif
