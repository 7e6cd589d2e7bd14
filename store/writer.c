// SPDX-License-Identifier: MIT
/* store/writer.c: the group-commit writer. One thread owns one connection; it takes up to
 * batch_max queued requests (run begins and write sets of different runs), sends each as one
 * prepared statement in a libpq pipeline, ends the pipeline with one Sync (so they form one
 * implicit transaction and one commit), and answers every caller once the commit is durable.
 * A statement that Postgres refuses fails only its own request: the others are sent again in
 * the next batch. A batch whose commit outcome is unknown (connection cut after the Sync went
 * out) is resolved by reading back which workflows carry the batch's write token, never assumed. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "store/rows.h"
#include "store/store_internal.h"

#define MAX_TRANSIENT_TRIES 3
#define BATCH_CAP           CF_STORE_BATCH_CAP

/* Answers op: fills st/err and wakes its caller. Called with s->mu held. */
static void answer_locked(cf_op *op, cf_status st, const char *err)
{
    op->st = st;
    if (err && err != op->err)
        snprintf(op->err, sizeof op->err, "%s", err);
    op->done = true;
    pthread_cond_signal(&op->cv);
}

static void answer(cf_store *s, cf_op *op, cf_status st, const char *err)
{
    pthread_mutex_lock(&s->mu);
    answer_locked(op, st, err);
    pthread_mutex_unlock(&s->mu);
}

/* Puts ops back at the head of the queue, in their order, for the next batch. */
static void requeue(cf_store *s, cf_op **ops, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = n; i-- > 0;) {
        ops[i]->next = s->head;
        s->head = ops[i];
        if (!s->tail)
            s->tail = ops[i];
    }
    pthread_mutex_unlock(&s->mu);
}

cf_status cf_store_enqueue_and_wait(cf_store *s, cf_op *op)
{
    pthread_cond_init(&op->cv, NULL);
    op->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        pthread_cond_destroy(&op->cv);
        cf_store_set_error("store is closing");
        return CF_ERR_UNAVAILABLE;
    }
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    pthread_cond_signal(&s->cv_work);
    while (!op->done)
        pthread_cond_wait(&op->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&op->cv);
    cf_store_set_error(op->st == CF_OK ? "" : op->err);
    return op->st;
}

/* Fills a BEGIN op's answer from its statement's result (and the steps result, if any). */
static bool finish_begin(cf_op *op, PGresult *res, PGresult *steps)
{
    if (PQntuples(res) == 0)
        return false; /* lost a creation race: run again, it will find the row */
    cf_status st = cf_rows_wf(res, 0, op->begin_out);
    bool begun = st == CF_OK && strcmp(PQgetvalue(res, 0, CF_SQL_WF_NCOLS), "begun") == 0;
    if (st == CF_OK) {
        op->begin_out->created = PQgetvalue(res, 0, CF_SQL_WF_NCOLS + 1)[0] == 't';
        op->begin_out->retried = PQgetvalue(res, 0, CF_SQL_WF_NCOLS + 2)[0] == 't';
    }
    if (st == CF_OK && begun && steps && op->begin->steps)
        st = cf_rows_steps(steps, op->begin->steps);
    if (st == CF_OK && !begun) {
        snprintf(op->err, sizeof op->err, "workflow %s/%s is %s: not executable",
                 op->begin->wf_class, op->begin->key, op->begin_out->state);
        st = CF_ERR_STATE;
    }
    op->st = st;
    return true;
}

/* Sends every op of the batch and the Sync; false when the connection failed while sending. */
static bool send_batch(cf_store *s, cf_op **ops, size_t n)
{
    PGconn *c = s->wpg.conn;
    if (!PQenterPipelineMode(c) || PQsetnonblocking(c, 1) != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        cf_sql_id id = ops[i]->kind == CF_OP_BEGIN ? CF_SQL_RUN_BEGIN : CF_SQL_WRITE_SET;
        const cf_sql_stmt *st = &cf_sql_stmts[id];
        if (!PQsendQueryPrepared(c, st->name, st->nparams, ops[i]->vals, NULL, NULL, 0))
            return false;
        if (ops[i]->kind == CF_OP_BEGIN && ops[i]->begin->steps) {
            const cf_sql_stmt *q = &cf_sql_stmts[CF_SQL_STEPS_BY_KEY];
            if (!PQsendQueryPrepared(c, q->name, q->nparams, ops[i]->vals, NULL, NULL, 0))
                return false;
        }
    }
    if (!PQpipelineSync(c))
        return false;
    int rc;
    while ((rc = PQflush(c)) == 1) {
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN | POLLOUT};
        if (poll(&p, 1, 1000) < 0)
            return false;
        if ((p.revents & POLLIN) && !PQconsumeInput(c))
            return false;
    }
    return rc == 0;
}

/* Reads one statement's result and the NULL that ends it; NULL when the connection failed. */
static PGresult *read_one(PGconn *c)
{
    PGresult *r = PQgetResult(c);
    if (!r)
        return NULL;
    PGresult *end = PQgetResult(c);
    if (end) { /* a statement has one result; anything else means the stream is broken */
        PQclear(end);
        PQclear(r);
        return NULL;
    }
    return r;
}

static void leave_pipeline(cf_store *s)
{
    PGconn *c = s->wpg.conn;
    if (!c)
        return;
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c)) {
        /* results left over: the connection is in an unknown state; drop it */
        PQfinish(c);
        s->wpg.conn = NULL;
        return;
    }
    (void)PQsetnonblocking(c, 0);
}

typedef enum batch_result { BATCH_DONE, BATCH_NOT_SENT, BATCH_UNKNOWN } batch_result;

/* Runs one pipeline. On BATCH_DONE every op is either answered (done) or put in retry[]. */
static batch_result run_pipeline(cf_store *s, cf_op **ops, size_t n, cf_op **retry, size_t *nretry)
{
    PGresult *res[BATCH_CAP], *steps[BATCH_CAP];
    memset(res, 0, sizeof res);
    memset(steps, 0, sizeof steps);
    if (!send_batch(s, ops, n)) {
        leave_pipeline(s);
        return BATCH_NOT_SENT; /* nothing can have committed without the Sync, but a Sync may
                                  have gone out: treat a failure after it as unknown below */
    }
    batch_result br = BATCH_DONE;
    PGconn *c = s->wpg.conn;
    for (size_t i = 0; i < n && br == BATCH_DONE; i++) {
        res[i] = read_one(c);
        if (!res[i])
            br = BATCH_UNKNOWN;
        else if (ops[i]->kind == CF_OP_BEGIN && ops[i]->begin->steps && !(steps[i] = read_one(c)))
            br = BATCH_UNKNOWN;
    }
    PGresult *sync = br == BATCH_DONE ? PQgetResult(c) : NULL;
    if (br == BATCH_DONE && (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC))
        br = BATCH_UNKNOWN;
    PQclear(sync);
    if (br == BATCH_DONE) {
        /* The first refused statement rolled the implicit transaction back. */
        size_t bad = n;
        for (size_t i = 0; i < n && bad == n; i++) {
            ExecStatusType t = PQresultStatus(res[i]);
            if (t != PGRES_TUPLES_OK || (steps[i] && PQresultStatus(steps[i]) != PGRES_TUPLES_OK))
                bad = i;
        }
        if (bad < n) {
            PGresult *why = PQresultStatus(res[bad]) != PGRES_TUPLES_OK ? res[bad] : steps[bad];
            cf_status st = cf_pg_result_status(&s->wpg, why, PGRES_TUPLES_OK);
            for (size_t i = 0; i < n; i++) {
                bool transient = cf_status_is_transient(st) || st == CF_ERR_UNAVAILABLE;
                if (i == bad && (!transient || ++ops[i]->transient_tries >= MAX_TRANSIENT_TRIES))
                    answer(s, ops[i], st, s->wpg.errstr);
                else
                    retry[(*nretry)++] = ops[i];
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                cf_op *op = ops[i];
                if (op->kind == CF_OP_BEGIN) {
                    if (!finish_begin(op, res[i], steps[i]))
                        retry[(*nretry)++] = op;
                    else
                        answer(s, op, op->st, op->err);
                } else {
                    bool applied = strcmp(PQgetvalue(res[i], 0, 0), "1") == 0;
                    if (!applied)
                        snprintf(op->err, sizeof op->err,
                                 "workflow %lld: fence moved or run no longer holds it",
                                 (long long)op->workflow_id);
                    answer(s, op, applied ? CF_OK : CF_ERR_CONFLICT, op->err);
                }
            }
            atomic_fetch_add(&s->n_batches, 1);
            atomic_fetch_add(&s->n_write_sets, (int64_t)n);
        }
    }
    for (size_t i = 0; i < n; i++) {
        PQclear(res[i]);
        PQclear(steps[i]);
    }
    leave_pipeline(s);
    return br;
}

/* After an unknown outcome: reconnect, then ask which ops' workflows carry the batch token.
 * Applied ops are answered (a BEGIN re-reads its row); the rest go to retry[]. Returns false
 * when Postgres stayed unreachable (the ops are then answered UNAVAILABLE by the caller). */
static bool resolve(cf_store *s, cf_op **ops, size_t n, const char *token, cf_op **retry,
                    size_t *nretry)
{
    atomic_fetch_add(&s->n_unknown, 1);
    json_t *refs = json_array();
    for (size_t i = 0; refs && i < n; i++) {
        json_t *o =
            ops[i]->kind == CF_OP_COMMIT
                ? json_pack("{sI}", "id", (json_int_t)ops[i]->workflow_id)
                : json_pack("{ssss}", "c", ops[i]->begin->wf_class, "k", ops[i]->begin->key);
        if (!o || json_array_append_new(refs, o) != 0) {
            json_decref(refs);
            refs = NULL;
        }
    }
    char *text = refs ? json_dumps(refs, JSON_COMPACT) : NULL;
    json_decref(refs);
    if (!text)
        return false;
    PGresult *r = NULL;
    cf_status st = CF_ERR_IO;
    while (st == CF_ERR_IO || st == CF_ERR_UNAVAILABLE) {
        if (cf_pg_reconnect(&s->wpg, true, s->statement_timeout_ms, &s->stop) != CF_OK)
            break;
        atomic_fetch_add(&s->n_reconnects, 1);
        const char *vals[] = {token, text};
        st = cf_pg_exec(&s->wpg, CF_SQL_RESOLVE, vals, PGRES_TUPLES_OK, &r);
    }
    free(text);
    if (st != CF_OK)
        return false;
    for (size_t i = 0; i < n; i++) {
        cf_op *op = ops[i];
        bool applied = false;
        for (int j = 0; j < PQntuples(r) && !applied; j++)
            applied = op->kind == CF_OP_COMMIT
                          ? cf_rows_i64(r, j, 0) == op->workflow_id
                          : strcmp(PQgetvalue(r, j, 1), op->begin->wf_class) == 0 &&
                                strcmp(PQgetvalue(r, j, 2), op->begin->key) == 0;
        if (!applied) {
            retry[(*nretry)++] = op;
            continue;
        }
        if (op->kind == CF_OP_COMMIT) {
            answer(s, op, CF_OK, NULL);
            continue;
        }
        PGresult *row = NULL, *steps = NULL;
        const char *vals[] = {op->begin->wf_class, op->begin->key};
        cf_status rs = cf_pg_exec(&s->wpg, CF_SQL_WF_BY_CLASS_KEY, vals, PGRES_TUPLES_OK, &row);
        if (rs == CF_OK && op->begin->steps)
            rs = cf_pg_exec(&s->wpg, CF_SQL_STEPS_BY_KEY, vals, PGRES_TUPLES_OK, &steps);
        if (rs == CF_OK && PQntuples(row) == 1) {
            rs = cf_rows_wf(row, 0, op->begin_out);
            if (rs == CF_OK) {
                op->begin_out->created = op->begin_out->fence == 1;
                op->begin_out->retried = false;
            }
            if (rs == CF_OK && steps)
                rs = cf_rows_steps(steps, op->begin->steps);
        } else if (rs == CF_OK) {
            rs = CF_ERR_NOT_FOUND;
        }
        answer(s, op, rs, rs == CF_OK ? NULL : s->wpg.errstr);
        PQclear(row);
        PQclear(steps);
    }
    PQclear(r);
    return true;
}

static void fail_all(cf_store *s, cf_op **ops, size_t n, cf_status st, const char *why)
{
    for (size_t i = 0; i < n; i++)
        answer(s, ops[i], st, why);
}

static void run_batch(cf_store *s, cf_op **ops, size_t n, cf_op **retry)
{
    char token[80];
    snprintf(token, sizeof token, "%s.%lld", s->token_prefix, (long long)++s->batch_seq);
    for (size_t i = 0; i < n; i++)
        ops[i]->vals[CF_OP_TOKEN_PARAM] = token;
    size_t nretry = 0;
    if (cf_pg_is_broken(&s->wpg) || !s->wpg.prepared) {
        if (cf_pg_reconnect(&s->wpg, true, s->statement_timeout_ms, &s->stop) != CF_OK) {
            fail_all(s, ops, n, CF_ERR_UNAVAILABLE, s->wpg.errstr);
            return;
        }
        atomic_fetch_add(&s->n_reconnects, 1);
    }
    batch_result br = run_pipeline(s, ops, n, retry, &nretry);
    if (br == BATCH_NOT_SENT || br == BATCH_UNKNOWN) {
        static cf_log_limiter lim;
        int64_t suppressed;
        if (cf_log_ratelimit(&lim, 5000, &suppressed))
            log_warn("store writer lost its connection mid-batch (%zu writes); resolving: %s", n,
                     s->wpg.errstr);
        if (!resolve(s, ops, n, token, retry, &nretry)) {
            fail_all(s, ops, n, CF_ERR_UNAVAILABLE,
                     "postgres unreachable; the outcome of this write is unknown");
            return;
        }
    }
    requeue(s, retry, nretry);
}

void *cf_store_writer_main(void *arg)
{
    cf_store *s = arg;
    size_t cap = (size_t)s->batch_max;
    cf_op *ops[BATCH_CAP], *retry[BATCH_CAP];
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->closing)
            pthread_cond_wait(&s->cv_work, &s->mu);
        if (!s->head && s->closing) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        size_t n = 0;
        while (s->head && n < cap) {
            ops[n++] = s->head;
            s->head = s->head->next;
        }
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        run_batch(s, ops, n, retry);
    }
    return NULL;
}
