// SPDX-License-Identifier: MIT
/* store/writer.c: the group-commit writer (store/writer.h). Each cf_writer has its own thread,
 * connection, queue, lock and batch plan, so several stores in one process never share a
 * batch. The thread owns the connection; it takes up to
 * batch_max queued requests (run begins and write sets of different runs) and applies them
 * with at most five prepared statements in one libpq pipeline: every write set of the batch
 * in ONE statement (CF_SQL_WRITE_SETS; a write set may carry its run's lazy begin), every run
 * begin in one (CF_SQL_RUN_BEGINS) and their steps in one
 * (CF_SQL_STEPS_OF_BEGINS), and the reads of lazy begins (CF_SQL_RUN_PEEKS and their steps,
 * read-only: a batch of reads alone commits nothing durable), each taking the batch's requests as a
 * JSON array. One Sync ends the pipeline, so they form one implicit transaction and one commit, and
 * every caller is answered once the commit is durable. The fence is checked per row, so a stale
 * write set is refused alone. A statement that Postgres refuses rolls the whole batch back;
 * the writer then applies the same requests again in isolation (one statement per request,
 * as before), where a refused statement fails only its own request and the others are sent
 * again in the next batch. Requests for the same workflow never share a batch (the later one
 * waits for the next). A batch whose commit outcome is unknown (connection cut after the Sync
 * went out) is resolved by reading back which workflows carry the batch's write token, never
 * assumed. */
#include "store/writer.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/liveness.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/pg.h"
#include "store/rows.h"

#define MAX_TRANSIENT_TRIES 3
#define BATCH_CAP           CF_WRITER_BATCH_CAP

/* One statement of a pipeline: its kind, the ops it carries (indexes into the batch) and its
 * JSON array parameter. */
#define MAX_STMTS (2 * BATCH_CAP)
typedef struct stmt {
    cf_sql_id id;
    size_t first, n; /* members[first .. first + n) */
    cf_buf param;
    PGresult *res;
} stmt;

typedef struct plan {
    stmt st[MAX_STMTS];
    size_t nst;
    size_t members[MAX_STMTS];
    size_t nmembers;
} plan;

struct cf_writer {
    pthread_mutex_t mu;     /* guards the queue, closing and every op's done/st/err */
    pthread_cond_t cv_work; /* the thread waits here for ops */
    cf_op *head, *tail;     /* queued ops, FIFO */
    bool closing;
    atomic_bool stop; /* cuts reconnect backoff short */
    pthread_t thread;
    bool started;

    /* Only the writer thread touches these once it runs. */
    cf_pg pg;
    int batch_max;
    char token_prefix[48]; /* "<pid>.<random>": unique per writer */
    char batch_name[96];   /* through a pooler: the batch's application_name ("cfw <token>") */
    int64_t batch_seq;
    plan plan; /* the statements of the batch in flight */
    cf_log_limiter lost_log;

    _Atomic int64_t n_batches, n_commits, n_write_sets, n_reconnects, n_unknown;
    int64_t batch_t0_us; /* when the running pipeline was sent (its commit latency) */
};

/* Answers op: fills st/err and wakes its caller. Called with w->mu held. */
static void answer_locked(cf_op *op, cf_status st, const char *err)
{
    op->st = st;
    if (err && err != op->err)
        snprintf(op->err, sizeof op->err, "%s", err);
    op->done = true;
    pthread_cond_signal(&op->cv);
}

static void answer(cf_writer *w, cf_op *op, cf_status st, const char *err)
{
    pthread_mutex_lock(&w->mu);
    answer_locked(op, st, err);
    pthread_mutex_unlock(&w->mu);
}

/* Puts ops back at the head of the queue, in their order, for the next batch. */
static void requeue(cf_writer *w, cf_op **ops, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&w->mu);
    for (size_t i = n; i-- > 0;) {
        ops[i]->next = w->head;
        w->head = ops[i];
        if (!w->tail)
            w->tail = ops[i];
    }
    pthread_mutex_unlock(&w->mu);
}

cf_status cf_writer_submit(cf_writer *w, cf_op *op)
{
    pthread_cond_init(&op->cv, NULL);
    op->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->closing) {
        pthread_mutex_unlock(&w->mu);
        pthread_cond_destroy(&op->cv);
        snprintf(op->err, sizeof op->err, "store is closing");
        return op->st = CF_ERR_UNAVAILABLE;
    }
    if (w->tail)
        w->tail->next = op;
    else
        w->head = op;
    w->tail = op;
    pthread_cond_signal(&w->cv_work);
    while (!op->done)
        pthread_cond_wait(&op->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&op->cv);
    return op->st;
}

/* Fills a BEGIN op's answer from row `row` of its statement's result and, when steps were
 * loaded, rows [sfirst, sfirst + sn) of the steps result (step columns from column 1). */
static void finish_begin(cf_op *op, PGresult *res, int row, PGresult *steps, int sfirst, int sn)
{
    cf_status st = cf_rows_wf(res, row, op->begin_out);
    bool begun =
        st == CF_OK && strcmp(PQgetvalue(res, row, CF_SQL_BEGIN_COL_OUTCOME), "begun") == 0;
    if (st == CF_OK)
        op->begin_out->created = PQgetvalue(res, row, CF_SQL_BEGIN_COL_CREATED)[0] == 't';
    if (st == CF_OK && begun && steps && op->begin->steps)
        st = cf_rows_steps_range(steps, sfirst, sn, 1, op->begin->steps);
    if (st == CF_OK && !begun) {
        snprintf(op->err, sizeof op->err, "workflow %s/%s is %s: not executable",
                 op->begin->wf_class, op->begin->key, cf_wf_state_name(op->begin_out->state));
        st = CF_ERR_STATE;
    }
    op->st = st;
}

/* Appends a statement of kind id carrying ops idx[0..n) to p; false on OOM. */
static bool plan_add(plan *p, cf_op **ops, cf_sql_id id, const size_t *idx, size_t n)
{
    stmt *t = &p->st[p->nst];
    *t = (stmt){.id = id, .first = p->nmembers, .n = n, .param = CF_BUF_INIT};
    bool ok = cf_buf_append(&t->param, "[", 1) == CF_OK;
    for (size_t j = 0; j < n && ok; j++) {
        const cf_op *op = ops[idx[j]];
        p->members[p->nmembers++] = idx[j];
        ok = cf_buf_appendf(&t->param, "%s{\"i\":%zu,", j ? "," : "", idx[j]) == CF_OK &&
             cf_buf_append(&t->param, op->obj + 1, op->obj_len - 1) == CF_OK;
    }
    ok = ok && cf_buf_append(&t->param, "]", 1) == CF_OK && cf_buf_cstr(&t->param);
    p->nst++;
    return ok;
}

/* Builds the statements for ops: batched (one per kind) or isolated (one per op). */
static bool plan_build(plan *p, cf_op **ops, size_t n, bool isolated)
{
    p->nst = p->nmembers = 0;
    size_t commits[BATCH_CAP], begins[BATCH_CAP], peeks[BATCH_CAP], nc = 0, nb = 0, np = 0;
    bool steps = false, full = false;
    for (size_t i = 0; i < n; i++) {
        if (ops[i]->kind == CF_OP_COMMIT)
            commits[nc++] = i;
        else if (ops[i]->kind == CF_OP_PEEK)
            peeks[np++] = i;
        else
            begins[nb++] = i;
        full = full || (ops[i]->kind == CF_OP_COMMIT && ops[i]->full);
        steps = steps || (ops[i]->kind == CF_OP_BEGIN && ops[i]->begin->steps);
    }
    bool ok = true;
    if (!isolated) {
        if (nc)
            ok = plan_add(p, ops, full ? CF_SQL_WRITE_SETS_FULL : CF_SQL_WRITE_SETS, commits, nc);
        if (ok && nb)
            ok = plan_add(p, ops, CF_SQL_RUN_BEGINS, begins, nb);
        if (ok && nb && steps)
            ok = plan_add(p, ops, CF_SQL_STEPS_OF_BEGINS, begins, nb);
        if (ok && np) /* read-only: they make the batch's transaction write nothing more */
            ok = plan_add(p, ops, CF_SQL_RUN_PEEKS, peeks, np) &&
                 plan_add(p, ops, CF_SQL_STEPS_OF_PEEKS, peeks, np);
        return ok;
    }
    for (size_t i = 0; i < n && ok; i++) {
        if (ops[i]->kind == CF_OP_PEEK) {
            ok = plan_add(p, ops, CF_SQL_RUN_PEEKS, &i, 1) &&
                 plan_add(p, ops, CF_SQL_STEPS_OF_PEEKS, &i, 1);
            continue;
        }
        bool begin = ops[i]->kind == CF_OP_BEGIN;
        cf_sql_id ws = ops[i]->full ? CF_SQL_WRITE_SETS_FULL : CF_SQL_WRITE_SETS;
        ok = plan_add(p, ops, begin ? CF_SQL_RUN_BEGINS : ws, &i, 1);
        if (ok && begin && ops[i]->begin->steps)
            ok = plan_add(p, ops, CF_SQL_STEPS_OF_BEGINS, &i, 1);
    }
    return ok;
}

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->nst; i++) {
        cf_buf_deinit(&p->st[i].param);
        PQclear(p->st[i].res);
    }
    p->nst = p->nmembers = 0;
}

/* Sends every statement of the plan and the Sync; false when the connection failed or the
 * deadline passed (the Sync may have gone out: the caller resolves the outcome). */
static bool send_plan(cf_writer *w, plan *p, const char *token, int64_t deadline)
{
    PGconn *c = w->pg.conn;
    if (!PQenterPipelineMode(c))
        return false;
    if (w->pg.limits.pooled) { /* the batch's own settings and name (store/sql.c) */
        char timeout[24];
        snprintf(timeout, sizeof timeout, "%lld", (long long)w->pg.limits.statement_timeout_ms);
        const char *vals[2] = {w->batch_name, timeout};
        if (!cf_pg_send(&w->pg, &cf_sql_stmts[CF_SQL_BATCH_SESSION], vals))
            return false;
    }
    for (size_t i = 0; i < p->nst; i++) {
        const cf_sql_stmt *st = &cf_sql_stmts[p->st[i].id];
        const char *vals[2] = {p->st[i].param.data, token};
        if (!cf_pg_send(&w->pg, st, vals))
            return false;
    }
    return PQpipelineSync(c) && cf_pg_flush(&w->pg, deadline) == CF_OK;
}

/* Reads one statement's result and the NULL that ends it; NULL when the connection failed or
 * the deadline passed (then the connection was dropped). */
static PGresult *read_one(cf_writer *w, int64_t deadline)
{
    bool timed_out;
    PGresult *r = cf_pg_next_result(&w->pg, deadline, &timed_out);
    if (!r)
        return NULL;
    PGresult *end = cf_pg_next_result(&w->pg, deadline, &timed_out);
    if (end || timed_out) { /* a statement has one result; anything else: the stream broke */
        PQclear(end);
        PQclear(r);
        return NULL;
    }
    return r;
}

static void leave_pipeline(cf_writer *w)
{
    PGconn *c = w->pg.conn;
    if (c && PQpipelineStatus(c) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c)) {
        /* results left over: the connection is in an unknown state; drop it */
        PQfinish(c);
        w->pg.conn = NULL;
    }
}

typedef enum batch_result { BATCH_DONE, BATCH_NOT_SENT, BATCH_UNKNOWN, BATCH_ISOLATE } batch_result;

/* count_batch counts a batch that committed; a durable commit unless it held only reads. */
static void count_batch(cf_writer *w, cf_op **ops, size_t n)
{
    bool writes = false;
    for (size_t i = 0; i < n && !writes; i++)
        writes = ops[i]->kind != CF_OP_PEEK;
    atomic_fetch_add(&w->n_batches, 1);
    if (writes) {
        atomic_fetch_add(&w->n_commits, 1);
        /* /metrics: a durable commit's latency (sent to Sync read) and its size */
        cf_hist_observe(&cf_metrics_g.pg_commit, cf_clock_mono_us() - w->batch_t0_us);
        cf_hist_observe(&cf_metrics_g.pg_batch, (int64_t)n);
    }
}

/* Answers every op of a committed batch from the statements' results. */
/* parse_wake fills *out from the write-set statement's wake column ({c, k, q}, BRANCH_WAKE in
 * store/sql.c). A value that does not parse leaves it unset: the wake is durable in Postgres
 * (the parent's next_wake_at) and the sweeper publishes it. */
static void parse_wake(const char *text, cf_ws_wake *out)
{
    json_t *v = json_loads(text, 0, NULL);
    const char *c = json_string_value(json_object_get(v, "c"));
    const char *k = json_string_value(json_object_get(v, "k"));
    const char *q = json_string_value(json_object_get(v, "q"));
    if (c && k && q) {
        snprintf(out->wf_class, sizeof out->wf_class, "%s", c);
        snprintf(out->key, sizeof out->key, "%s", k);
        snprintf(out->queue, sizeof out->queue, "%s", q);
        out->set = true;
    }
    json_decref(v);
}

static void answer_all(cf_writer *w, cf_op **ops, size_t n, plan *p, cf_op **retry, size_t *nretry)
{
    int brow[BATCH_CAP], sfirst[BATCH_CAP], sn[BATCH_CAP];
    bool applied[BATCH_CAP];
    PGresult *bres = NULL, *sres = NULL, *pres = NULL, *psres = NULL; /* begins', peeks' */
    count_batch(w, ops, n); /* before any answer: an answered op is its caller's again */
    for (size_t i = 0; i < n; i++) {
        brow[i] = -1;
        sfirst[i] = sn[i] = 0;
        applied[i] = false;
    }
    for (size_t k = 0; k < p->nst; k++) {
        PGresult *r = p->st[k].res;
        for (int j = 0; j < PQntuples(r); j++) {
            int col = p->st[k].id == CF_SQL_RUN_BEGINS  ? CF_SQL_BEGIN_COL_INDEX
                      : p->st[k].id == CF_SQL_RUN_PEEKS ? CF_SQL_WF_NCOLS
                                                        : 0;
            long i = strtol(PQgetvalue(r, j, col), NULL, 10);
            if (i < 0 || (size_t)i >= n)
                continue;
            if (p->st[k].id == CF_SQL_WRITE_SETS || p->st[k].id == CF_SQL_WRITE_SETS_FULL) {
                applied[i] = true;
                if (ops[i]->cancel_out)
                    *ops[i]->cancel_out = PQgetvalue(r, j, 3)[0] == 't';
                if (ops[i]->wake && !PQgetisnull(r, j, 4))
                    parse_wake(PQgetvalue(r, j, 4), ops[i]->wake);
                if (ops[i]->lazy) {
                    ops[i]->lazy->id_out = cf_rows_i64(r, j, 1);
                    ops[i]->lazy->fence_out = cf_rows_i64(r, j, 2);
                }
            } else if (p->st[k].id == CF_SQL_RUN_BEGINS || p->st[k].id == CF_SQL_RUN_PEEKS) {
                brow[i] = j;
                *(p->st[k].id == CF_SQL_RUN_BEGINS ? &bres : &pres) = r;
            } else {
                if (sn[i]++ == 0)
                    sfirst[i] = j;
                *(p->st[k].id == CF_SQL_STEPS_OF_BEGINS ? &sres : &psres) = r;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        cf_op *op = ops[i];
        if (op->kind == CF_OP_COMMIT) {
            if (!applied[i] && op->lazy)
                snprintf(op->err, sizeof op->err,
                         "workflow %s/%s: changed since this run read it at fence %lld (another "
                         "run began it)",
                         op->lazy->wf_class, op->lazy->key, (long long)op->lazy->fence_read);
            else if (!applied[i])
                snprintf(op->err, sizeof op->err,
                         "workflow %lld: fence moved or run no longer holds it",
                         (long long)op->workflow_id);
            answer(w, op, applied[i] ? CF_OK : CF_ERR_CONFLICT, op->err);
            continue;
        }
        bool peek = op->kind == CF_OP_PEEK;
        PGresult *br = peek ? pres : bres, *sr = peek ? psres : sres;
        for (size_t k = 0; k < p->nst; k++) { /* the op's own statements (isolated mode) */
            if (p->st[k].n != 1 || p->members[p->st[k].first] != i)
                continue;
            if (p->st[k].id == CF_SQL_RUN_BEGINS || p->st[k].id == CF_SQL_RUN_PEEKS)
                br = p->st[k].res;
            else if (p->st[k].id == CF_SQL_STEPS_OF_BEGINS || p->st[k].id == CF_SQL_STEPS_OF_PEEKS)
                sr = p->st[k].res;
        }
        if (peek) {
            cf_status st = brow[i] < 0 ? CF_ERR_NOT_FOUND : cf_rows_wf(br, brow[i], op->begin_out);
            if (st == CF_OK && sr && op->begin->steps)
                st = cf_rows_steps_range(sr, sfirst[i], sn[i], 1, op->begin->steps);
            answer(w, op, st, st == CF_ERR_NOT_FOUND ? "no such workflow" : NULL);
            continue;
        }
        if (brow[i] < 0 && op->begin->must_exist) {
            answer(w, op, CF_ERR_NOT_FOUND, "no such workflow (this begin may not create it)");
            continue;
        }
        if (brow[i] < 0) {
            retry[(*nretry)++] = op; /* lost a creation race: run again, it will find the row */
            continue;
        }
        finish_begin(op, br, brow[i], sr, sfirst[i], sn[i]);
        answer(w, op, op->st, op->err);
    }
    atomic_fetch_add(&w->n_write_sets, (int64_t)n);
}

/* Runs one pipeline. On BATCH_DONE every op is either answered (done) or put in retry[]; on
 * BATCH_ISOLATE (a batched statement was refused: nothing was applied) the caller runs the
 * ops again isolated. */
static batch_result run_pipeline(cf_writer *w, cf_op **ops, size_t n, bool isolated,
                                 const char *token, cf_op **retry, size_t *nretry)
{
    plan *p = &w->plan; /* this writer's own: only its thread runs this */
    if (!plan_build(p, ops, n, isolated)) {
        plan_free(p);
        for (size_t i = 0; i < n; i++)
            answer(w, ops[i], CF_ERR_NOMEM, "out of memory building the batch");
        return BATCH_DONE;
    }
    /* Each wait gets io_timeout of its own: it measures the server's silence, and the
     * pipeline's statements may each take up to statement_timeout. */
    w->batch_t0_us = cf_clock_mono_us();
    if (!send_plan(w, p, token, cf_pg_deadline(&w->pg))) {
        plan_free(p);
        leave_pipeline(w);
        return BATCH_NOT_SENT; /* nothing can have committed without the Sync, but a Sync may
                                  have gone out: treat a failure after it as unknown below */
    }
    batch_result br = BATCH_DONE;
    if (w->pg.limits.pooled) { /* the settings statement's result; a refusal shows below */
        PGresult *r = read_one(w, cf_pg_deadline(&w->pg));
        br = r ? BATCH_DONE : BATCH_UNKNOWN;
        PQclear(r);
    }
    for (size_t k = 0; k < p->nst && br == BATCH_DONE; k++)
        if (!(p->st[k].res = read_one(w, cf_pg_deadline(&w->pg))))
            br = BATCH_UNKNOWN;
    bool timed_out = false;
    PGresult *sync =
        br == BATCH_DONE ? cf_pg_next_result(&w->pg, cf_pg_deadline(&w->pg), &timed_out) : NULL;
    if (br == BATCH_DONE && (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC))
        br = BATCH_UNKNOWN;
    PQclear(sync);
    if (br == BATCH_DONE) {
        /* The first refused statement rolled the implicit transaction back. */
        size_t bad = p->nst;
        for (size_t k = 0; k < p->nst && bad == p->nst; k++)
            if (PQresultStatus(p->st[k].res) != PGRES_TUPLES_OK)
                bad = k;
        if (bad < p->nst && p->st[bad].n > 1) {
            br = BATCH_ISOLATE;
        } else if (bad < p->nst) {
            size_t badop = p->members[p->st[bad].first];
            cf_status st = cf_pg_result_status(&w->pg, p->st[bad].res, PGRES_TUPLES_OK);
            bool transient = cf_status_is_transient(st) || st == CF_ERR_UNAVAILABLE;
            for (size_t i = 0; i < n; i++) {
                if (i == badop && (!transient || ++ops[i]->transient_tries >= MAX_TRANSIENT_TRIES))
                    answer(w, ops[i], st, w->pg.errstr);
                else
                    retry[(*nretry)++] = ops[i];
            }
        } else {
            answer_all(w, ops, n, p, retry, nretry);
        }
    }
    plan_free(p);
    leave_pipeline(w);
    return br;
}

/* read_back_begin reads an applied BEGIN's row (and its steps, when asked) after a resolve. */
static cf_status read_back_begin(cf_writer *w, const cf_op *op, PGresult **row, PGresult **steps)
{
    PQclear(*row);
    PQclear(*steps);
    *row = *steps = NULL;
    const char *vals[] = {op->begin->wf_class, op->begin->key};
    cf_status rs = cf_pg_exec(&w->pg, CF_SQL_WF_BY_CLASS_KEY, vals, PGRES_TUPLES_OK, row);
    if (rs == CF_OK && op->begin->steps)
        rs = cf_pg_exec(&w->pg, CF_SQL_STEPS_BY_KEY, vals, PGRES_TUPLES_OK, steps);
    return rs;
}

/* Reads back which of a batch's workflows carry its token (refs: CF_SQL_RESOLVE's $2), once
 * the server process that ran the batch (batch_pid) is gone: until then its transaction may
 * still commit, so a read would not be final. That process is asked to end (a stopped or
 * wedged one keeps the request pending). Reconnects as needed, with backoff, for at most the
 * longer of io_timeout and statement_timeout; NULL when that passes first. */
static PGresult *read_back(cf_writer *w, const char *token, const char *refs, int batch_pid)
{
    const cf_pg_limits *lim = &w->pg.limits;
    int64_t bound = lim->io_timeout_ms > lim->statement_timeout_ms ? lim->io_timeout_ms
                                                                   : lim->statement_timeout_ms;
    int64_t give_up = cf_clock_mono_ms() + bound;
    char pid[24];
    snprintf(pid, sizeof pid, "%d", batch_pid);
    for (int attempt = 1;; attempt++) {
        int64_t left = give_up - cf_clock_mono_ms();
        if (left <= 0 || atomic_load(&w->stop))
            return NULL;
        cf_status st = CF_OK;
        if (cf_pg_is_broken(&w->pg) || !w->pg.prepared) {
            st = cf_pg_reconnect(&w->pg, true, left, &w->stop);
            if (st == CF_OK)
                atomic_fetch_add(&w->n_reconnects, 1);
        }
        PGresult *r = NULL;
        if (st == CF_OK && (batch_pid > 0 || lim->pooled)) {
            /* through a pooler the batch's backend is found by the name it ran under */
            const char *vals[] = {pid, CF_WRITER_APP_NAME};
            const char *named[] = {w->batch_name};
            st = lim->pooled ? cf_pg_exec(&w->pg, CF_SQL_END_BATCH, named, PGRES_TUPLES_OK, &r)
                             : cf_pg_exec(&w->pg, CF_SQL_END_BACKEND, vals, PGRES_TUPLES_OK, &r);
            if (st == CF_OK && PQntuples(r) > 0) {
                snprintf(w->pg.errstr, sizeof w->pg.errstr,
                         "the postgres process that ran the batch (%s) has not ended",
                         lim->pooled ? w->batch_name : pid);
                st = CF_ERR_UNAVAILABLE;
            }
            PQclear(r);
            r = NULL;
        }
        if (st == CF_OK) {
            const char *vals[] = {token, refs};
            st = cf_pg_exec(&w->pg, CF_SQL_RESOLVE, vals, PGRES_TUPLES_OK, &r);
            if (st == CF_OK)
                return r;
        }
        if (!cf_status_is_transient(st) && st != CF_ERR_UNAVAILABLE)
            return NULL;
        int64_t delay = cf_backoff_delay_ms(50, 1000, attempt, true);
        left = give_up - cf_clock_mono_ms();
        if (!cf_clock_sleep_ms(delay < left ? delay : left, &w->stop))
            return NULL;
    }
}

/* After an unknown outcome: reads back (read_back) which ops' workflows carry the batch token.
 * Applied ops are answered (a BEGIN re-reads its row); the rest go to retry[]. Returns false
 * when the outcome stayed unknown (the ops are then answered UNAVAILABLE by the caller). */
static bool resolve(cf_writer *w, cf_op **ops, size_t n, const char *token, int batch_pid,
                    cf_op **retry, size_t *nretry)
{
    atomic_fetch_add(&w->n_unknown, 1);
    json_t *refs = json_array();
    for (size_t i = 0; refs && i < n; i++) {
        const cf_op *op = ops[i];
        if (op->kind == CF_OP_PEEK)
            continue; /* a read: nothing to resolve */
        json_t *o = op->kind == CF_OP_COMMIT && !op->lazy
                        ? json_pack("{sI}", "id", (json_int_t)op->workflow_id)
                    : op->lazy ? json_pack("{ssss}", "c", op->lazy->wf_class, "k", op->lazy->key)
                               : json_pack("{ssss}", "c", op->begin->wf_class, "k", op->begin->key);
        if (!o || json_array_append_new(refs, o) != 0) {
            json_decref(refs);
            refs = NULL;
        }
    }
    char *text = refs ? json_dumps(refs, JSON_COMPACT) : NULL;
    json_decref(refs);
    if (!text)
        return false;
    PGresult *r = read_back(w, token, text, batch_pid);
    free(text);
    if (!r)
        return false;
    for (size_t i = 0; i < n; i++) {
        cf_op *op = ops[i];
        if (op->kind == CF_OP_PEEK) {
            retry[(*nretry)++] = op; /* read again */
            continue;
        }
        bool applied = false;
        const char *rc = op->lazy ? op->lazy->wf_class : op->begin ? op->begin->wf_class : NULL;
        const char *rk = op->lazy ? op->lazy->key : op->begin ? op->begin->key : NULL;
        int j = 0;
        for (; j < PQntuples(r) && !applied; j++)
            applied =
                op->kind == CF_OP_COMMIT && !op->lazy
                    ? cf_rows_i64(r, j, 0) == op->workflow_id
                    : strcmp(PQgetvalue(r, j, 1), rc) == 0 && strcmp(PQgetvalue(r, j, 2), rk) == 0;
        if (!applied) {
            retry[(*nretry)++] = op; /* a lazy one is sent again: its compare-and-set decides */
            continue;
        }
        if (op->kind == CF_OP_COMMIT) {
            if (op->lazy) { /* the token proves the lazy begin and its write set committed */
                op->lazy->id_out = cf_rows_i64(r, j - 1, 0);
                op->lazy->fence_out = op->lazy->fence_read + 1;
            }
            answer(w, op, CF_OK, NULL);
            continue;
        }
        /* The begin is applied: a read failing now must not answer it as failed (its run would
         * be put back and the next begin would count a crash), so reads are retried. */
        PGresult *row = NULL, *steps = NULL;
        cf_status rs = read_back_begin(w, op, &row, &steps);
        int64_t give_up = cf_clock_mono_ms() + w->pg.limits.statement_timeout_ms;
        while (cf_status_is_transient(rs) && cf_clock_mono_ms() < give_up &&
               cf_pg_reconnect(&w->pg, true, give_up - cf_clock_mono_ms(), &w->stop) == CF_OK) {
            atomic_fetch_add(&w->n_reconnects, 1);
            rs = read_back_begin(w, op, &row, &steps);
        }
        if (rs == CF_OK && PQntuples(row) == 1) {
            rs = cf_rows_wf(row, 0, op->begin_out);
            if (rs == CF_OK)
                op->begin_out->created = op->begin_out->fence == 1;
            if (rs == CF_OK && steps)
                rs = cf_rows_steps(steps, op->begin->steps);
        } else if (rs == CF_OK) {
            rs = CF_ERR_NOT_FOUND;
        }
        answer(w, op, rs, rs == CF_OK ? NULL : w->pg.errstr);
        PQclear(row);
        PQclear(steps);
    }
    PQclear(r);
    return true;
}

static void fail_all(cf_writer *w, cf_op **ops, size_t n, cf_status st, const char *why)
{
    for (size_t i = 0; i < n; i++)
        answer(w, ops[i], st, why);
}

/* True when op concerns the same workflow as one of ops[0..n): a begin of the same class and
 * key, or a write set of the same workflow id. Such requests wait for the next batch, so one
 * statement never touches a row twice. */
static bool same_workflow(const cf_op *op, cf_op **ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cf_op *o = ops[i];
        if (o->kind != op->kind || op->kind == CF_OP_PEEK) /* reads may share a batch */
            continue;
        if (op->kind == CF_OP_BEGIN ? strcmp(o->begin->key, op->begin->key) == 0 &&
                                          strcmp(o->begin->wf_class, op->begin->wf_class) == 0
            : o->lazy && op->lazy ? strcmp(o->lazy->key, op->lazy->key) == 0 &&
                                        strcmp(o->lazy->wf_class, op->lazy->wf_class) == 0
            : !o->lazy && !op->lazy ? o->workflow_id == op->workflow_id
                                    : false)
            return true;
    }
    return false;
}

static void run_batch(cf_writer *w, cf_op **all, size_t nall, cf_op **retry)
{
    cf_op *ops[BATCH_CAP];
    size_t n = 0, nretry = 0;
    for (size_t i = 0; i < nall; i++) {
        if (same_workflow(all[i], ops, n))
            retry[nretry++] = all[i];
        else
            ops[n++] = all[i];
    }
    bool isolated = false;
    for (;;) {
        char token[80];
        snprintf(token, sizeof token, "%s.%lld", w->token_prefix, (long long)++w->batch_seq);
        if (cf_pg_is_broken(&w->pg) || !w->pg.prepared) {
            if (cf_pg_reconnect(&w->pg, true, w->pg.limits.statement_timeout_ms, &w->stop) !=
                CF_OK) {
                fail_all(w, ops, n, CF_ERR_UNAVAILABLE, w->pg.errstr);
                requeue(w, retry, nretry);
                return;
            }
            atomic_fetch_add(&w->n_reconnects, 1);
        }
        int batch_pid = w->pg.backend_pid; /* the server process this batch runs on */
        snprintf(w->batch_name, sizeof w->batch_name, "cfw %s", token);
        batch_result br = run_pipeline(w, ops, n, isolated, token, retry, &nretry);
        if (br == BATCH_ISOLATE && !isolated) {
            isolated = true; /* nothing was applied: the same ops again, one statement each */
            continue;
        }
        if (br == BATCH_NOT_SENT || br == BATCH_UNKNOWN) {
            int64_t suppressed;
            if (cf_log_ratelimit(&w->lost_log, 5000, &suppressed))
                log_warn("event=store_outcome_unknown: the store writer lost its connection "
                         "mid-batch (%zu writes); reading back what committed: %s",
                         n, w->pg.errstr);
            cf_pg_close(&w->pg); /* whatever is left of it is in an unknown state */
            if (!resolve(w, ops, n, token, batch_pid, retry, &nretry)) {
                fail_all(w, ops, n, CF_ERR_UNAVAILABLE,
                         "postgres unreachable; the outcome of this write is unknown");
                requeue(w, retry, nretry);
                return;
            }
        }
        break;
    }
    requeue(w, retry, nretry);
}

static void *writer_main(void *arg)
{
    cf_writer *w = arg;
    size_t cap = (size_t)w->batch_max;
    cf_op *ops[BATCH_CAP], *retry[BATCH_CAP];
    for (;;) {
        cf_liveness_park(); /* idle until work comes: no bound applies */
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->closing)
            pthread_cond_wait(&w->cv_work, &w->mu);
        if (!w->head && w->closing) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        size_t n = 0;
        while (w->head && n < cap) {
            ops[n++] = w->head;
            w->head = w->head->next;
        }
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        cf_liveness_tick("writer");
        run_batch(w, ops, n, retry);
    }
    cf_liveness_leave();
    return NULL;
}

cf_status cf_writer_start(const cf_writer_config *cfg, cf_writer **out, cf_error *err)
{
    *out = NULL;
    cf_writer *w = cf_calloc(1, sizeof *w);
    if (!w)
        return CF_ERR_NOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv_work, NULL);
    w->batch_max = cfg->batch_max < 1                     ? 1
                   : cfg->batch_max > CF_WRITER_BATCH_CAP ? CF_WRITER_BATCH_CAP
                                                          : cfg->batch_max;
    snprintf(w->token_prefix, sizeof w->token_prefix, "%s", cfg->token_prefix);
    cf_status st = cf_pg_init(&w->pg, cfg->dsn, &cfg->limits);
    w->pg.index_joins = true;
    w->pg.app_name = CF_WRITER_APP_NAME;
    if (st == CF_OK && (st = cf_pg_connect(&w->pg, true)) != CF_OK)
        cf_error_set(err, cf_status_str(st), "store", "%s", w->pg.errstr);
    if (st == CF_OK && pthread_create(&w->thread, NULL, writer_main, w) != 0)
        st = CF_ERR_NOMEM;
    if (st != CF_OK) {
        cf_pg_deinit(&w->pg);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv_work);
        cf_free(w);
        return st;
    }
    w->started = true;
    *out = w;
    return CF_OK;
}

void cf_writer_stop(cf_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_broadcast(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
    if (w->started)
        pthread_join(w->thread, NULL);
    cf_pg_deinit(&w->pg);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv_work);
    cf_free(w);
}

void cf_writer_get_stats(cf_writer *w, cf_writer_stats *out)
{
    out->batches = atomic_load(&w->n_batches);
    out->durable_commits = atomic_load(&w->n_commits);
    out->write_sets = atomic_load(&w->n_write_sets);
    out->reconnects = atomic_load(&w->n_reconnects);
    out->unknown_outcomes = atomic_load(&w->n_unknown);
}
