// SPDX-License-Identifier: MIT
/* store/pg.c: one libpq connection of the store: connect with session settings, prepare the
 * statement table, classify failures, reconnect with capped backoff, and bound every wait for
 * the server with a deadline (store/pg.h). */
#include "store/pg.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/liveness.h"

/* Notices ("relation exists, skipping", ...) would go to stderr; the store stays quiet. */
static void quiet_notice(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

cf_status cf_pg_init(cf_pg *pg, const char *dsn, const cf_pg_limits *limits)
{
    memset(pg, 0, sizeof *pg);
    pg->dsn = cf_strdup(dsn ? dsn : "");
    pg->limits = *limits;
    return pg->dsn ? CF_OK : CF_ERR_NOMEM;
}

void cf_pg_deinit(cf_pg *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    cf_free(pg->dsn);
    memset(pg, 0, sizeof *pg);
}

bool cf_pg_is_broken(const cf_pg *pg)
{
    return pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK;
}

const char *cf_pg_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* Copies libpq's message without its trailing newline. libpq messages never echo a password. */
static void set_err(cf_pg *pg, const char *prefix, const char *msg)
{
    snprintf(pg->errstr, sizeof pg->errstr, "%s%s", prefix, msg ? msg : "");
    size_t n = strlen(pg->errstr);
    while (n > 0 && (pg->errstr[n - 1] == '\n' || pg->errstr[n - 1] == ' '))
        pg->errstr[--n] = '\0';
}

cf_status cf_pg_result_status(cf_pg *pg, const PGresult *res, ExecStatusType expect)
{
    if (res && PQresultStatus(res) == expect)
        return CF_OK;
    if (!res && !pg->conn)
        return CF_ERR_IO; /* dropped at a deadline (cf_pg_abandon): errstr says so */
    if (!res || cf_pg_is_broken(pg)) {
        set_err(pg, "postgres connection lost: ", pg->conn ? PQerrorMessage(pg->conn) : "");
        return CF_ERR_IO;
    }
    const char *msg = PQresultErrorMessage(res);
    if (!msg || !*msg)
        msg = PQresStatus(PQresultStatus(res));
    set_err(pg, "postgres: ", msg);
    const char *st = cf_pg_sqlstate(res);
    if (strncmp(st, "08", 2) == 0)
        return CF_ERR_IO;
    if (strcmp(st, "57014") == 0)
        return CF_ERR_TIMEOUT;
    if (strncmp(st, "57P", 3) == 0 || strncmp(st, "53", 2) == 0 || strcmp(st, "40001") == 0 ||
        strcmp(st, "40P01") == 0)
        return CF_ERR_UNAVAILABLE;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return CF_ERR_INVALID;
    if (strncmp(st, "42", 2) == 0)
        return CF_ERR_STATE;
    return CF_ERR_PROTOCOL;
}

int64_t cf_pg_deadline(const cf_pg *pg)
{
    return cf_clock_mono_ms() + pg->limits.io_timeout_ms;
}

static void *cancel_main(void *arg)
{
    char buf[256];
    (void)PQcancel(arg, buf, sizeof buf); /* best effort: the connection is gone either way */
    PQfreeCancel(arg);
    return NULL;
}

void cf_pg_close(cf_pg *pg)
{
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    pg->prepared = false;
}

/* Asks the server to cancel what c runs. PQcancel connects with no timeout of its own: a
 * detached thread keeps it off the caller's time. */
static void cancel_async(PGconn *c)
{
    PGcancel *cancel = PQgetCancel(c);
    pthread_t th;
    pthread_attr_t attr;
    bool started = false;
    if (cancel && pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&th, &attr, cancel_main, cancel) == 0;
        pthread_attr_destroy(&attr);
    }
    if (cancel && !started)
        PQfreeCancel(cancel);
}

void cf_pg_abandon(cf_pg *pg, const char *what)
{
    if (!pg->conn)
        return;
    snprintf(pg->errstr, sizeof pg->errstr,
             "postgres did not answer %s within %lld ms: connection dropped, outcome unknown", what,
             (long long)pg->limits.io_timeout_ms);
    cancel_async(pg->conn);
    cf_pg_close(pg);
}

/* Waits until the socket is ready for events or deadline passes (false). */
static bool wait_socket(PGconn *c, short events, int64_t deadline)
{
    if (PQsocket(c) < 0)
        return true; /* no socket: libpq reports the failure */
    for (;;) {
        int64_t left = deadline - cf_clock_mono_ms();
        if (left <= 0)
            return false;
        struct pollfd pf = {.fd = PQsocket(c), .events = events};
        int rc = poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (rc > 0 || (rc < 0 && errno != EINTR))
            return true; /* ready, or a socket error libpq will report */
    }
}

cf_status cf_pg_flush(cf_pg *pg, int64_t deadline)
{
    if (!pg->conn)
        return CF_ERR_IO;
    int rc;
    while ((rc = PQflush(pg->conn)) == 1) {
        if (!wait_socket(pg->conn, POLLIN | POLLOUT, deadline)) {
            cf_pg_abandon(pg, "(sending)");
            return CF_ERR_IO;
        }
        if (!PQconsumeInput(pg->conn)) /* the server may answer while we send: read it */
            break;
    }
    if (rc == 0)
        return CF_OK;
    set_err(pg, "postgres connection lost: ", PQerrorMessage(pg->conn));
    return CF_ERR_IO;
}

PGresult *cf_pg_next_result(cf_pg *pg, int64_t deadline, bool *timed_out)
{
    *timed_out = false;
    if (!pg->conn)
        return NULL;
    while (PQisBusy(pg->conn)) {
        if (!wait_socket(pg->conn, POLLIN, deadline)) {
            cf_pg_abandon(pg, "(waiting for a result)");
            *timed_out = true;
            return NULL;
        }
        if (!PQconsumeInput(pg->conn))
            break; /* the connection failed: PQgetResult reports it without waiting */
    }
    return PQgetResult(pg->conn);
}

/* After a query was sent (sent: its PQsend* call's answer): flushes it and collects its
 * results until deadline, returning the last (owned), or NULL when the connection failed or
 * the deadline passed (pg->errstr says which). */
static PGresult *await_last(cf_pg *pg, int sent)
{
    int64_t deadline = cf_pg_deadline(pg);
    if (!sent || cf_pg_flush(pg, deadline) != CF_OK)
        return NULL;
    PGresult *last = NULL, *r;
    bool timed_out = false;
    while ((r = cf_pg_next_result(pg, deadline, &timed_out))) {
        PQclear(last);
        last = r;
    }
    if (timed_out) {
        PQclear(last);
        return NULL;
    }
    return last;
}

PGresult *cf_pg_conn_query(PGconn *c, const cf_sql_stmt *q, const char *const *vals,
                           int64_t timeout_ms, bool *timed_out)
{
    *timed_out = false;
    int sent = q->nparams > 0 ? PQsendQueryParams(c, q->sql, q->nparams, NULL, vals, NULL, NULL, 0)
                              : PQsendQuery(c, q->sql);
    if (!sent)
        return NULL;
    int64_t deadline = timeout_ms > 0 ? cf_clock_mono_ms() + timeout_ms : INT64_MAX;
    int rc = 0;
    bool ready = true;
    while (ready && (rc = PQflush(c)) == 1)
        ready = wait_socket(c, POLLIN | POLLOUT, deadline) && PQconsumeInput(c);
    PGresult *last = NULL, *r;
    while (ready && rc == 0) {
        while (ready && PQisBusy(c)) {
            ready = wait_socket(c, POLLIN, deadline);
            if (ready && !PQconsumeInput(c))
                break; /* failed: PQgetResult reports it without waiting */
        }
        if (!ready)
            break;
        if (!(r = PQgetResult(c)))
            return last;
        PQclear(last);
        last = r;
    }
    PQclear(last);
    *timed_out = !ready && cf_clock_mono_ms() >= deadline;
    if (*timed_out)
        cancel_async(c);
    return NULL;
}

/* Every session: statement timeout, quiet notices, its name, generic plans, and no JIT. A
 * generic plan made before the tables have statistics (a restored or bulk-loaded database)
 * can be estimated above jit_above_cost although it reads a handful of index pages; Postgres
 * then compiles it at every execution, ~7 ms for a 0.03 ms statement (docs/indexes.md,
 * "a million rows"). No statement of the store gains from JIT. */
static cf_status apply_session(cf_pg *pg)
{
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lld", (long long)pg->limits.statement_timeout_ms);
    const char *vals[] = {timeout, pg->app_name ? pg->app_name : "chronoforge"};
    PGresult *r =
        await_last(pg, PQsendQueryParams(pg->conn,
                                         "SELECT set_config('statement_timeout', $1, false),"
                                         " set_config('client_min_messages', 'warning', false),"
                                         " set_config('application_name', $2, false),"
                                         " set_config('plan_cache_mode', 'force_generic_plan',"
                                         " false), set_config('jit', 'off', false)",
                                         2, NULL, vals, NULL, NULL, 0));
    cf_status st = cf_pg_result_status(pg, r, PGRES_TUPLES_OK);
    PQclear(r);
    if (st != CF_OK || !pg->index_joins)
        return st;
    /* The writer's batched statements join a request array of at most batch_max rows to the
     * big tables. Their plans are generic and made once, often while the tables are still
     * small, when a hash join over a sequential scan looks cheapest and then stays cached as
     * the tables grow. Nested loops over the unique indexes are right at every size. */
    r = await_last(pg, PQsendQuery(pg->conn, "SELECT set_config('enable_hashjoin', 'off', false),"
                                             " set_config('enable_mergejoin', 'off', false),"
                                             " set_config('enable_seqscan', 'off', false)"));
    st = cf_pg_result_status(pg, r, PGRES_TUPLES_OK);
    PQclear(r);
    return st;
}

/* prepare_all prepares every statement of store/sql.c in ONE pipeline and round trip (one Sync):
 * a reconnect costs one wait, not one per statement, and a network that drops a reply now and
 * then cannot starve it. */
static cf_status prepare_all(cf_pg *pg)
{
    PGconn *c = pg->conn;
    if (!PQenterPipelineMode(c)) {
        snprintf(pg->errstr, sizeof pg->errstr, "cannot enter pipeline mode: %.150s",
                 PQerrorMessage(c));
        return CF_ERR_IO;
    }
    int64_t deadline = cf_pg_deadline(pg);
    bool sent = true;
    for (int i = 0; sent && i < CF_SQL_COUNT_; i++) {
        const cf_sql_stmt *stmt = &cf_sql_stmts[i];
        sent = PQsendPrepare(c, stmt->name, stmt->sql, stmt->nparams, NULL);
    }
    cf_status st = sent && PQpipelineSync(c) ? cf_pg_flush(pg, deadline) : CF_ERR_IO;
    int failed = -1; /* the first statement Postgres refused */
    char why[200] = "";
    for (int i = 0; st == CF_OK && i < CF_SQL_COUNT_; i++) {
        bool timed_out = false;
        PGresult *r = cf_pg_next_result(pg, deadline, &timed_out);
        if (r == NULL) {
            st = CF_ERR_IO; /* the stream broke (or the deadline passed: pg abandoned) */
            break;
        }
        ExecStatusType rs = PQresultStatus(r);
        if (rs == PGRES_PIPELINE_ABORTED) {
            /* skipped after an earlier refusal */
        } else if (rs != PGRES_COMMAND_OK && failed < 0) {
            failed = i;
            snprintf(why, sizeof why, "%.150s", PQresultErrorMessage(r));
        }
        PQclear(r);
        PGresult *end = cf_pg_next_result(pg, deadline, &timed_out); /* NULL between results */
        if (end != NULL || timed_out) {
            PQclear(end);
            st = CF_ERR_IO;
        }
    }
    if (st == CF_OK) {
        bool timed_out = false;
        PGresult *sync = cf_pg_next_result(pg, deadline, &timed_out);
        if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
            st = CF_ERR_IO;
        PQclear(sync);
    }
    if (pg->conn && !PQexitPipelineMode(pg->conn))
        st = CF_ERR_IO;
    if (st != CF_OK) {
        if (pg->conn) { /* the stream broke (a deadline already dropped it, saying so) */
            snprintf(pg->errstr, sizeof pg->errstr,
                     "postgres connection lost while preparing statements: %.150s",
                     PQerrorMessage(pg->conn));
            cf_pg_close(pg);
        }
        return CF_ERR_IO;
    }
    if (failed >= 0) {
        snprintf(pg->errstr, sizeof pg->errstr,
                 "cannot prepare %s (schema not migrated? run `chronoforge migrate`): %.120s",
                 cf_sql_stmts[failed].name, why);
        return CF_ERR_STATE;
    }
    pg->prepared = true;
    return CF_OK;
}

PGconn *cf_pg_connectdb(const char *dsn, int64_t connect_timeout_ms)
{
    /* Keywords are applied in order: dbname, expanded from the user's DSN, comes last, so
     * whatever the DSN sets wins over these defaults. */
    char ct[24];
    int64_t secs = (connect_timeout_ms + 999) / 1000;
    snprintf(ct, sizeof ct, "%lld", (long long)(secs < 2 ? 2 : secs));
    const char *env_ct = getenv("PGCONNECT_TIMEOUT");
    bool own_ct = !(env_ct && *env_ct);
    const char *keys[8], *vals[8];
    size_t n = 0;
    if (own_ct) {
        keys[n] = "connect_timeout";
        vals[n++] = ct;
    }
    keys[n] = "keepalives";
    vals[n++] = "1";
    keys[n] = "keepalives_idle";
    vals[n++] = "30";
    keys[n] = "keepalives_interval";
    vals[n++] = "10";
    keys[n] = "keepalives_count";
    vals[n++] = "3";
    keys[n] = "dbname";
    vals[n++] = dsn ? dsn : "";
    keys[n] = vals[n] = NULL;
    return PQconnectdbParams(keys, vals, 1);
}

cf_status cf_pg_connect(cf_pg *pg, bool prepare)
{
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->prepared = false;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(pg->dsn, &err);
    if (!opts) {
        set_err(pg, "invalid database DSN: ", err ? err : "out of memory");
        PQfreemem(err);
        return err ? CF_ERR_INVALID : CF_ERR_NOMEM;
    }
    PQconninfoFree(opts);
    pg->conn = cf_pg_connectdb(pg->dsn, pg->limits.connect_timeout_ms);
    if (!pg->conn) {
        set_err(pg, "", "out of memory");
        return CF_ERR_NOMEM;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        set_err(pg, "cannot connect to postgres: ", PQerrorMessage(pg->conn));
        return CF_ERR_UNAVAILABLE;
    }
    PQsetNoticeReceiver(pg->conn, quiet_notice, NULL);
    /* through a pooler, the pid is the pooler's own: never one to signal */
    pg->backend_pid = pg->limits.pooled ? 0 : PQbackendPID(pg->conn);
    if (PQsetnonblocking(pg->conn, 1) != 0) {
        set_err(pg, "postgres: cannot make the connection nonblocking: ", PQerrorMessage(pg->conn));
        return CF_ERR_UNAVAILABLE;
    }
    if (pg->limits.pooled) {
        /* Nothing to set up: a pooler gives each transaction any server connection, so session
         * settings would land on others' and prepared statements be missing (cf_pg_send);
         * the writer sets its batch's settings per transaction (store/writer.c). */
        pg->prepared = prepare;
        return CF_OK;
    }
    cf_status st = apply_session(pg);
    if (st == CF_OK && prepare)
        st = prepare_all(pg);
    return st;
}

cf_status cf_pg_reconnect(cf_pg *pg, bool prepare, int64_t give_up_ms, const atomic_bool *stop)
{
    int64_t deadline = cf_clock_mono_ms() + give_up_ms;
    for (int attempt = 1;; attempt++) {
        cf_liveness_touch(); /* waiting for a server known to be down counts as alive */
        cf_status st = cf_pg_connect(pg, prepare);
        if (st == CF_OK || st == CF_ERR_INVALID || st == CF_ERR_NOMEM)
            return st;
        if (stop && atomic_load(stop))
            return st;
        int64_t delay = cf_backoff_delay_ms(50, 2000, attempt, true);
        if (give_up_ms >= 0 && cf_clock_mono_ms() + delay > deadline)
            return st;
        if (!cf_clock_sleep_ms(delay, stop))
            return st;
    }
}

int cf_pg_send(const cf_pg *pg, const cf_sql_stmt *stmt, const char *const *vals)
{
    if (pg->limits.pooled)
        return PQsendQueryParams(pg->conn, stmt->sql, stmt->nparams, NULL, vals, NULL, NULL, 0);
    return PQsendQueryPrepared(pg->conn, stmt->name, stmt->nparams, vals, NULL, NULL, 0);
}

cf_status cf_pg_exec(cf_pg *pg, cf_sql_id id, const char *const *vals, ExecStatusType expect,
                     PGresult **out)
{
    *out = NULL;
    if (cf_pg_is_broken(pg) || !pg->prepared) {
        cf_status st = cf_pg_connect(pg, true);
        if (st != CF_OK)
            return st;
    }
    const cf_sql_stmt *stmt = &cf_sql_stmts[id];
    PGresult *r = await_last(pg, cf_pg_send(pg, stmt, vals));
    cf_status st = cf_pg_result_status(pg, r, expect);
    if (st != CF_OK) {
        PQclear(r);
        return st;
    }
    *out = r;
    return CF_OK;
}
