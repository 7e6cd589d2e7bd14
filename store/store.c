// SPDX-License-Identifier: MIT
/* store/store.c: opening and closing a store, its bounded pool of reader connections, and the
 * calls that go through it (run begin and commit are handed to the store's cf_writer,
 * store/writer.h; lookups run on a reader). */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/redact.h"
#include "store/migrate.h"
#include "store/rows.h"
#include "store/store_internal.h"

/* A store's error messages: one slot per (store, calling thread), found through the store's
 * own thread-specific key, so two stores in one process, or two threads on one store, never
 * see each other's message. Slots are made on a thread's first failing call and freed with the
 * store (a thread that ends before the store keeps its 256 bytes until then). */
struct cf_store_err {
    char msg[256];
    struct cf_store_err *next; /* the store's list of slots, under err_mu */
};

void cf_store_set_error(cf_store *s, const char *msg)
{
    if (s == NULL)
        return;
    cf_store_err *e = pthread_getspecific(s->err_key);
    if (e == NULL) {
        if (msg == NULL || msg[0] == '\0')
            return; /* nothing to say yet */
        if ((e = cf_calloc(1, sizeof *e)) == NULL)
            return;
        if (pthread_setspecific(s->err_key, e) != 0) {
            cf_free(e);
            return;
        }
        pthread_mutex_lock(&s->err_mu);
        e->next = s->errs;
        s->errs = e;
        pthread_mutex_unlock(&s->err_mu);
    }
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "");
}

const char *cf_store_errstr(const cf_store *s)
{
    const cf_store_err *e = pthread_getspecific(s->err_key);
    return e ? e->msg : "";
}

static void set_error(cf_error *err, cf_status st, const char *msg)
{
    if (err == NULL)
        return;
    snprintf(err->code, sizeof err->code, "%s", cf_status_str(st));
    snprintf(err->field, sizeof err->field, "%s", "");
    snprintf(err->msg, sizeof err->msg, "%s", msg);
}

static void free_store(cf_store *s)
{
    cf_writer_stop(s->writer);
    for (int i = 0; s->readers && i < s->nreaders; i++)
        cf_pg_deinit(&s->readers[i]);
    cf_free(s->readers);
    cf_free(s->reader_state);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_pool);
    if (s->err_key_made)
        pthread_key_delete(s->err_key);
    for (cf_store_err *e = s->errs, *next; e; e = next) {
        next = e->next;
        cf_free(e);
    }
    pthread_mutex_destroy(&s->err_mu);
    cf_free(s->dsn);
    cf_free(s);
}

cf_status cf_store_open(const cf_store_config *cfg, cf_store **out, cf_error *err)
{
    *out = NULL;
    if (!cfg || (cfg->max_connections != 0 && cfg->max_connections < 2) ||
        cfg->statement_timeout_ms < 0 || cfg->batch_max < 0 || cfg->io_timeout_ms < 0 ||
        cfg->connect_timeout_ms < 0)
        return cf_error_set(err, "bad_value", "store",
                            "store: max_connections must be >= 2, timeouts >= 0");
    cf_error why = {0};
    int v;
    if (cf_store_schema_check(cfg->dsn, &v, &why) != CF_OK) {
        cf_status st = strcmp(why.code, "unavailable") == 0 ? CF_ERR_UNAVAILABLE : CF_ERR_STATE;
        set_error(err, st, why.msg);
        return st;
    }
    cf_store *s = cf_calloc(1, sizeof *s);
    if (!s)
        return CF_ERR_NOMEM;
    pthread_mutex_init(&s->err_mu, NULL);
    if (pthread_key_create(&s->err_key, NULL) != 0) {
        pthread_mutex_destroy(&s->err_mu);
        cf_free(s);
        return CF_ERR_NOMEM;
    }
    s->err_key_made = true;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_pool, NULL);
    s->max_connections = cfg->max_connections ? cfg->max_connections : 4;
    int64_t stmt = cfg->statement_timeout_ms ? cfg->statement_timeout_ms : 30000;
    s->limits = (cf_pg_limits){
        .statement_timeout_ms = stmt,
        .io_timeout_ms = cfg->io_timeout_ms ? cfg->io_timeout_ms : stmt + 5000,
        .connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 10000,
        .pooled = cfg->no_prepared_statements,
    };
    s->batch_max = cfg->batch_max ? cfg->batch_max : 64;
    if (s->batch_max > CF_WRITER_BATCH_CAP)
        s->batch_max = CF_WRITER_BATCH_CAP;
    s->nreaders = s->max_connections - 1;
    s->dsn = cf_strdup(cfg->dsn ? cfg->dsn : "");
    s->readers = cf_calloc((size_t)s->nreaders, sizeof *s->readers);
    s->reader_state = cf_calloc((size_t)s->nreaders, sizeof *s->reader_state);
    cf_status st = (s->dsn && s->readers && s->reader_state) ? CF_OK : CF_ERR_NOMEM;
    for (int i = 0; st == CF_OK && i < s->nreaders; i++)
        st = cf_pg_init(&s->readers[i], s->dsn, &s->limits);
    if (st == CF_OK) {
        char hex[9], prefix[48];
        cf_rand_hex(hex, 8);
        snprintf(prefix, sizeof prefix, "%ld.%s", (long)getpid(), hex);
        cf_writer_config wc = {
            .dsn = s->dsn, .limits = s->limits, .batch_max = s->batch_max, .token_prefix = prefix};
        st = cf_writer_start(&wc, &s->writer, err);
    }
    if (st == CF_OK && (st = cf_pg_connect(&s->readers[0], true)) != CF_OK)
        set_error(err, st, s->readers[0].errstr);
    if (st == CF_OK)
        s->reader_state[0] = CF_READER_IDLE;
    if (st != CF_OK) {
        free_store(s);
        return st;
    }
    char red[256];
    cf_redact_dsn(s->dsn, red, sizeof red);
    log_debug("store open: %s, %d connections, batch %d", red, s->max_connections, s->batch_max);
    *out = s;
    return CF_OK;
}

void cf_store_close(cf_store *s)
{
    if (!s)
        return;
    free_store(s); /* the writer first: it drains its queue */
}

void cf_store_get_stats(cf_store *s, cf_store_stats *out)
{
    cf_writer_stats w;
    cf_writer_get_stats(s->writer, &w);
    out->batches = w.batches;
    out->durable_commits = w.durable_commits;
    out->write_sets = w.write_sets;
    out->reconnects = w.reconnects + atomic_load(&s->n_reconnects);
    out->unknown_outcomes = w.unknown_outcomes;
}

/* ---- Reader pool ---- */

static cf_pg *reader_acquire(cf_store *s, cf_status *st)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int closed = -1;
        for (int i = 0; i < s->nreaders; i++) {
            if (s->reader_state[i] == CF_READER_IDLE) {
                s->reader_state[i] = CF_READER_BUSY;
                pthread_mutex_unlock(&s->mu);
                *st = CF_OK;
                return &s->readers[i];
            }
            if (s->reader_state[i] == CF_READER_CLOSED && closed < 0)
                closed = i;
        }
        if (closed >= 0) {
            s->reader_state[closed] = CF_READER_BUSY;
            pthread_mutex_unlock(&s->mu);
            cf_pg *pg = &s->readers[closed];
            *st = cf_pg_connect(pg, true);
            if (*st == CF_OK)
                return pg;
            cf_store_set_error(s, pg->errstr);
            pthread_mutex_lock(&s->mu);
            s->reader_state[closed] = CF_READER_CLOSED;
            pthread_cond_signal(&s->cv_pool);
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        pthread_cond_wait(&s->cv_pool, &s->mu);
    }
}

static void reader_release(cf_store *s, cf_pg *pg)
{
    pthread_mutex_lock(&s->mu);
    int i = (int)(pg - s->readers);
    s->reader_state[i] = cf_pg_is_broken(pg) ? CF_READER_CLOSED : CF_READER_IDLE;
    pthread_cond_signal(&s->cv_pool);
    pthread_mutex_unlock(&s->mu);
}

cf_status cf_store_read(cf_store *s, cf_sql_id id, const char *const *vals, PGresult **out)
{
    cf_status st;
    *out = NULL;
    cf_pg *pg = reader_acquire(s, &st);
    if (!pg)
        return st;
    st = cf_pg_exec(pg, id, vals, PGRES_TUPLES_OK, out);
    if (st == CF_ERR_IO) { /* reads are idempotent: one more try on a fresh connection */
        if (cf_pg_reconnect(pg, true, s->limits.statement_timeout_ms, &s->stop) == CF_OK) {
            atomic_fetch_add(&s->n_reconnects, 1);
            st = cf_pg_exec(pg, id, vals, PGRES_TUPLES_OK, out);
        }
    }
    cf_store_set_error(s, st == CF_OK ? "" : pg->errstr);
    reader_release(s, pg);
    return st;
}

/* ---- Calls ---- */

/* submit hands an encoded op (encoded: what its encoder returned) to the writer and waits;
 * records the error for cf_store_errstr and frees the op's texts. */
static cf_status submit(cf_store *s, cf_op *op, cf_status encoded)
{
    cf_status st = encoded == CF_OK ? cf_writer_submit(s->writer, op) : encoded;
    cf_store_set_error(s, st == CF_OK ? "" : op->err);
    cf_op_deinit(op);
    return st;
}

cf_status cf_store_run_begin(cf_store *s, const cf_run_begin_args *args, cf_wf_row *out)
{
    memset(out, 0, sizeof *out);
    cf_op op;
    return submit(s, &op, cf_op_encode_begin(&op, args, out));
}

cf_status cf_store_run_peek(cf_store *s, const cf_run_begin_args *args, cf_wf_row *out)
{
    memset(out, 0, sizeof *out);
    cf_op op;
    return submit(s, &op, cf_op_encode_peek(&op, args, out));
}

cf_status cf_store_commit(cf_store *s, const cf_write_set *ws)
{
    cf_op op;
    return submit(s, &op, cf_op_encode_commit(&op, ws));
}

cf_status cf_store_load_steps(cf_store *s, int64_t workflow_id, cf_step_list *out)
{
    memset(out, 0, sizeof *out);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)workflow_id);
    const char *vals[] = {id};
    PGresult *r;
    cf_status st = cf_store_read(s, CF_SQL_STEPS_BY_ID, vals, &r);
    if (st == CF_OK)
        st = cf_rows_steps(r, out);
    if (st != CF_OK)
        cf_step_list_deinit(out);
    PQclear(r);
    return st;
}

/* One workflow row from a lookup; CF_ERR_NOT_FOUND when none, CF_ERR_INVALID when several. */
static cf_status one_row(cf_store *s, cf_status st, PGresult *r, cf_wf_row *out)
{
    if (st == CF_OK && PQntuples(r) == 0) {
        cf_store_set_error(s, "no such workflow");
        st = CF_ERR_NOT_FOUND;
    } else if (st == CF_OK && PQntuples(r) > 1) {
        cf_store_set_error(s, "the key is used by several classes; name the class");
        st = CF_ERR_INVALID;
    } else if (st == CF_OK) {
        st = cf_rows_wf(r, 0, out);
    }
    PQclear(r);
    return st;
}

cf_status cf_store_find(cf_store *s, const char *wf_class, const char *key, cf_wf_row *out)
{
    memset(out, 0, sizeof *out);
    if (!key)
        return CF_ERR_INVALID;
    PGresult *r;
    const char *vals[] = {wf_class ? wf_class : key, key};
    cf_status st = wf_class ? cf_store_read(s, CF_SQL_WF_BY_CLASS_KEY, vals, &r)
                            : cf_store_read(s, CF_SQL_WF_BY_KEY, vals + 1, &r);
    return one_row(s, st, r, out);
}

cf_status cf_store_find_id(cf_store *s, int64_t id, cf_wf_row *out)
{
    memset(out, 0, sizeof *out);
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)id);
    const char *vals[] = {num};
    PGresult *r;
    cf_status st = cf_store_read(s, CF_SQL_WF_BY_ID, vals, &r);
    return one_row(s, st, r, out);
}

cf_status cf_store_wf_ensure(cf_store *s, const char *wf_class, const char *key, const char *queue,
                             json_t *kwargs, json_t *options, cf_wf_row *out)
{
    memset(out, 0, sizeof *out);
    if (!wf_class || !*wf_class || !key || !*key)
        return CF_ERR_INVALID;
    for (int attempt = 0; attempt < 3; attempt++) {
        cf_status st = cf_store_find(s, wf_class, key, out);
        if (st != CF_ERR_NOT_FOUND)
            return st;
        char *kw = kwargs ? json_dumps(kwargs, JSON_COMPACT) : strdup("{}");
        char *op = options ? json_dumps(options, JSON_COMPACT) : strdup("{}");
        const char *vals[] = {wf_class, key, queue ? queue : "default", kw, op};
        PGresult *r = NULL;
        st = kw && op ? cf_store_read(s, CF_SQL_WF_INSERT_IDLE, vals, &r) : CF_ERR_NOMEM;
        free(kw);
        free(op);
        if (st != CF_OK) {
            PQclear(r);
            return st;
        }
        if (PQntuples(r) == 1) { /* ours; no conflict: the other creator, if any, lost */
            st = cf_rows_wf(r, 0, out);
            out->created = st == CF_OK;
            PQclear(r);
            return st;
        }
        PQclear(r); /* another creator won the race: read its row */
    }
    return CF_ERR_UNAVAILABLE;
}
