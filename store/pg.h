// SPDX-License-Identifier: MIT
/* store/pg.h: one libpq connection as the store uses it (internal to store/): connect from a
 * conninfo or URI with the session settings (statement_timeout, quiet notices, application
 * name), prepare the statement table of store/sql.h, classify failures into cf_status, and
 * reconnect with capped backoff. Not thread-safe: one thread uses a cf_pg at a time.
 *
 * Deadlines: no call waits for Postgres without one. Connecting is bounded by libpq's
 * connect_timeout and the socket has TCP keepalives (both unless the DSN or the environment
 * sets them); every wait for a result polls the socket until io_timeout_ms passes. A server
 * that stays silent that long (a partition, a stopped host, a wedged backend: keepalives do
 * not fire while the peer's kernel still ACKs) gets a cancel request, sent from a detached
 * thread so that it cannot hang the caller, and the connection is dropped: the call fails
 * with CF_ERR_IO, a lost connection whose outcome is unknown (store/writer.c ends the backend
 * that may still be running it and waits for it to be gone before it reads back what
 * happened). */
#ifndef CF_STORE_PG_H
#define CF_STORE_PG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/status.h"
#include "store/sql.h"

/* cf_pg_limits: the time limits of a connection. */
typedef struct cf_pg_limits {
    int64_t statement_timeout_ms; /* the session's statement_timeout (server side) */
    int64_t io_timeout_ms;        /* longest wait for the server on a socket (client side) */
    int64_t connect_timeout_ms;   /* libpq connect_timeout (whole seconds, at least 2) */
    bool pooled; /* through a transaction-mode pooler (pgbouncer): no prepared statements and
                    no session settings; see cf_pg_send */
} cf_pg_limits;

typedef struct cf_pg {
    PGconn *conn; /* NULL when not connected */
    char *dsn;    /* owned copy, never logged (may hold a password) */
    cf_pg_limits limits;
    const char *app_name; /* application_name (a literal); NULL: "chronoforge" */
    int backend_pid;      /* the server process of the current connection (0: none yet) */
    bool prepared;        /* the statement table is prepared on this connection */
    bool index_joins;     /* session: no hash/merge joins, no seq scans (the writer) */
    char errstr[256];     /* last failure, password-free */
} cf_pg;

/* cf_pg_send sends statement stmt with vals: prepared (by name) normally; when
 * pg->limits.pooled, unnamed (parsed with each call), since a transaction-mode pooler hands
 * each transaction to any server connection and pgbouncer before 1.21 cannot carry prepared
 * statements there. Returns what libpq's send call does. */
int cf_pg_send(const cf_pg *pg, const cf_sql_stmt *stmt, const char *const *vals);

/* cf_pg_init copies dsn (borrowed) and the limits into pg without connecting; CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_pg_init(cf_pg *pg, const char *dsn, const cf_pg_limits *limits);

/* cf_pg_connectdb opens a blocking libpq connection to dsn with connect_timeout
 * (connect_timeout_ms, rounded up to whole seconds, at least 2) and TCP keepalives (idle 30 s,
 * interval 10 s, 3 probes), each unless dsn or the environment (PGCONNECT_TIMEOUT) sets it.
 * Returns what PQconnectdb would (NULL only when out of memory). */
PGconn *cf_pg_connectdb(const char *dsn, int64_t connect_timeout_ms);

/* cf_pg_flush sends what libpq buffered for pg->conn (in nonblocking mode, as every cf_pg
 * connection is), waiting at most until deadline (cf_clock_mono_ms time). CF_OK; CF_ERR_IO when
 * the connection failed or the deadline passed (then pg is abandoned, see above). */
CF_MUST_CHECK cf_status cf_pg_flush(cf_pg *pg, int64_t deadline);

/* cf_pg_next_result waits until the next result is in and returns it (owned; NULL at the end of
 * a query's results, as PQgetResult). When deadline passes first it abandons the connection,
 * sets *timed_out and returns NULL. */
PGresult *cf_pg_next_result(cf_pg *pg, int64_t deadline, bool *timed_out);

/* cf_pg_conn_query runs q->sql on a plain libpq connection c (store/migrate.c), with text
 * parameters vals (q->nparams of them; none: the simple protocol, several statements allowed),
 * waiting at most timeout_ms (0: no deadline) in all. Returns the last result (owned), or NULL
 * when the connection failed (PQerrorMessage says why) or the deadline passed (*timed_out; a
 * cancel request was sent and c is in an unknown state: PQfinish it). */
PGresult *cf_pg_conn_query(PGconn *c, const cf_sql_stmt *q, const char *const *vals,
                           int64_t timeout_ms, bool *timed_out);

/* cf_pg_close closes the connection (the next cf_pg_exec or cf_pg_reconnect opens a new one). */
void cf_pg_close(cf_pg *pg);

/* cf_pg_abandon drops pg's connection after a deadline passed during `what`: sends a cancel
 * request from a detached thread and fills errstr. */
void cf_pg_abandon(cf_pg *pg, const char *what);

/* cf_pg_deadline returns the deadline of a wait starting now: now + limits.io_timeout_ms. */
int64_t cf_pg_deadline(const cf_pg *pg);

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
