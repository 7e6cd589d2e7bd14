// SPDX-License-Identifier: MIT
/* store/writer.c: the group-commit writer. One thread owns one connection; it takes up to
 * batch_max queued requests (run begins and write sets of different runs) and applies them
 * with at most three prepared statements in one libpq pipeline: every write set of the batch
 * in ONE statement (CF_SQL_WRITE_SETS), every run begin in one (CF_SQL_RUN_BEGINS) and their
 * steps in one (CF_SQL_STEPS_OF_BEGINS), each taking the batch's requests as a JSON array. One
 * Sync ends the pipeline, so they form one implicit transaction and one commit, and every
 * caller is answered once the commit is durable. The fence is checked per row, so a stale
 * write set is refused alone. A statement that Postgres refuses rolls the whole batch back;
 * the writer then applies the same requests again in isolation (one statement per request,
 * as before), where a refused statement fails only its own request and the others are sent
 * again in the next batch. Requests for the same workflow never share a batch (the later one
 * waits for the next). A batch whose commit outcome is unknown (connection cut after the Sync
 * went out) is resolved by reading back which workflows carry the batch's write token, never
 * assumed. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
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
        cf_store_set_error(s, "store is closing");
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
    cf_store_set_error(s, op->st == CF_OK ? "" : op->err);
    return op->st;
}

/* Fills a BEGIN op's answer from row `row` of its statement's result and, when steps were
 * loaded, rows [sfirst, sfirst + sn) of the steps result (step columns from column 1). */
static void finish_begin(cf_op *op, PGresult *res, int row, PGresult *steps, int sfirst, int sn)
{
    cf_status st = cf_rows_wf(res, row, op->begin_out);
    bool begun = st == CF_OK && strcmp(PQgetvalue(res, row, CF_SQL_WF_NCOLS), "begun") == 0;
    if (st == CF_OK) {
        op->begin_out->created = PQgetvalue(res, row, CF_SQL_WF_NCOLS + 1)[0] == 't';
        op->begin_out->retried = PQgetvalue(res, row, CF_SQL_WF_NCOLS + 2)[0] == 't';
    }
    if (st == CF_OK && begun && steps && op->begin->steps)
        st = cf_rows_steps_range(steps, sfirst, sn, 1, op->begin->steps);
    if (st == CF_OK && !begun) {
        snprintf(op->err, sizeof op->err, "workflow %s/%s is %s: not executable",
                 op->begin->wf_class, op->begin->key, op->begin_out->state);
        st = CF_ERR_STATE;
    }
    op->st = st;
}

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
    size_t commits[BATCH_CAP], begins[BATCH_CAP], nc = 0, nb = 0;
    bool steps = false;
    for (size_t i = 0; i < n; i++) {
        if (ops[i]->kind == CF_OP_COMMIT)
            commits[nc++] = i;
        else
            begins[nb++] = i;
        steps = steps || (ops[i]->kind == CF_OP_BEGIN && ops[i]->begin->steps);
    }
    bool ok = true;
    if (!isolated) {
        if (nc)
            ok = plan_add(p, ops, CF_SQL_WRITE_SETS, commits, nc);
        if (ok && nb)
            ok = plan_add(p, ops, CF_SQL_RUN_BEGINS, begins, nb);
        if (ok && nb && steps)
            ok = plan_add(p, ops, CF_SQL_STEPS_OF_BEGINS, begins, nb);
        return ok;
    }
    for (size_t i = 0; i < n && ok; i++) {
        bool begin = ops[i]->kind == CF_OP_BEGIN;
        ok = plan_add(p, ops, begin ? CF_SQL_RUN_BEGINS : CF_SQL_WRITE_SETS, &i, 1);
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

/* Sends every statement of the plan and the Sync; false when the connection failed. */
static bool send_plan(cf_store *s, plan *p, const char *token)
{
    PGconn *c = s->wpg.conn;
    if (!PQenterPipelineMode(c) || PQsetnonblocking(c, 1) != 0)
        return false;
    for (size_t i = 0; i < p->nst; i++) {
        const cf_sql_stmt *st = &cf_sql_stmts[p->st[i].id];
        const char *vals[2] = {p->st[i].param.data, token};
        if (!PQsendQueryPrepared(c, st->name, st->nparams, vals, NULL, NULL, 0))
            return false;
    }
    if (!PQpipelineSync(c))
        return false;
    int rc;
    while ((rc = PQflush(c)) == 1) {
        struct pollfd pf = {.fd = PQsocket(c), .events = POLLIN | POLLOUT};
        if (poll(&pf, 1, 1000) < 0)
            return false;
        if ((pf.revents & POLLIN) && !PQconsumeInput(c))
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

typedef enum batch_result { BATCH_DONE, BATCH_NOT_SENT, BATCH_UNKNOWN, BATCH_ISOLATE } batch_result;

/* Answers every op of a committed batch from the statements' results. */
static void answer_all(cf_store *s, cf_op **ops, size_t n, plan *p, cf_op **retry, size_t *nretry)
{
    int brow[BATCH_CAP], sfirst[BATCH_CAP], sn[BATCH_CAP];
    bool applied[BATCH_CAP];
    PGresult *bres = NULL, *sres = NULL;
    for (size_t i = 0; i < n; i++) {
        brow[i] = -1;
        sfirst[i] = sn[i] = 0;
        applied[i] = false;
    }
    for (size_t k = 0; k < p->nst; k++) {
        PGresult *r = p->st[k].res;
        for (int j = 0; j < PQntuples(r); j++) {
            int col = p->st[k].id == CF_SQL_WRITE_SETS   ? 0
                      : p->st[k].id == CF_SQL_RUN_BEGINS ? CF_SQL_WF_NCOLS + 3
                                                         : 0;
            long i = strtol(PQgetvalue(r, j, col), NULL, 10);
            if (i < 0 || (size_t)i >= n)
                continue;
            if (p->st[k].id == CF_SQL_WRITE_SETS) {
                applied[i] = true;
            } else if (p->st[k].id == CF_SQL_RUN_BEGINS) {
                brow[i] = j;
                bres = r;
            } else {
                if (sn[i]++ == 0)
                    sfirst[i] = j;
                sres = r;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        cf_op *op = ops[i];
        if (op->kind == CF_OP_COMMIT) {
            if (!applied[i])
                snprintf(op->err, sizeof op->err,
                         "workflow %lld: fence moved or run no longer holds it",
                         (long long)op->workflow_id);
            answer(s, op, applied[i] ? CF_OK : CF_ERR_CONFLICT, op->err);
            continue;
        }
        PGresult *br = bres, *sr = sres;
        for (size_t k = 0; k < p->nst; k++) { /* the op's own statements (isolated mode) */
            if (p->st[k].n != 1 || p->members[p->st[k].first] != i)
                continue;
            if (p->st[k].id == CF_SQL_RUN_BEGINS)
                br = p->st[k].res;
            else if (p->st[k].id == CF_SQL_STEPS_OF_BEGINS)
                sr = p->st[k].res;
        }
        if (brow[i] < 0) {
            retry[(*nretry)++] = op; /* lost a creation race: run again, it will find the row */
            continue;
        }
        finish_begin(op, br, brow[i], sr, sfirst[i], sn[i]);
        answer(s, op, op->st, op->err);
    }
    atomic_fetch_add(&s->n_batches, 1);
    atomic_fetch_add(&s->n_write_sets, (int64_t)n);
}

/* Runs one pipeline. On BATCH_DONE every op is either answered (done) or put in retry[]; on
 * BATCH_ISOLATE (a batched statement was refused: nothing was applied) the caller runs the
 * ops again isolated. */
static batch_result run_pipeline(cf_store *s, cf_op **ops, size_t n, bool isolated,
                                 const char *token, cf_op **retry, size_t *nretry)
{
    static plan p; /* only the writer thread runs this */
    if (!plan_build(&p, ops, n, isolated)) {
        plan_free(&p);
        for (size_t i = 0; i < n; i++)
            answer(s, ops[i], CF_ERR_NOMEM, "out of memory building the batch");
        return BATCH_DONE;
    }
    if (!send_plan(s, &p, token)) {
        plan_free(&p);
        leave_pipeline(s);
        return BATCH_NOT_SENT; /* nothing can have committed without the Sync, but a Sync may
                                  have gone out: treat a failure after it as unknown below */
    }
    batch_result br = BATCH_DONE;
    PGconn *c = s->wpg.conn;
    for (size_t k = 0; k < p.nst && br == BATCH_DONE; k++)
        if (!(p.st[k].res = read_one(c)))
            br = BATCH_UNKNOWN;
    PGresult *sync = br == BATCH_DONE ? PQgetResult(c) : NULL;
    if (br == BATCH_DONE && (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC))
        br = BATCH_UNKNOWN;
    PQclear(sync);
    if (br == BATCH_DONE) {
        /* The first refused statement rolled the implicit transaction back. */
        size_t bad = p.nst;
        for (size_t k = 0; k < p.nst && bad == p.nst; k++)
            if (PQresultStatus(p.st[k].res) != PGRES_TUPLES_OK)
                bad = k;
        if (bad < p.nst && p.st[bad].n > 1) {
            br = BATCH_ISOLATE;
        } else if (bad < p.nst) {
            size_t badop = p.members[p.st[bad].first];
            cf_status st = cf_pg_result_status(&s->wpg, p.st[bad].res, PGRES_TUPLES_OK);
            bool transient = cf_status_is_transient(st) || st == CF_ERR_UNAVAILABLE;
            for (size_t i = 0; i < n; i++) {
                if (i == badop && (!transient || ++ops[i]->transient_tries >= MAX_TRANSIENT_TRIES))
                    answer(s, ops[i], st, s->wpg.errstr);
                else
                    retry[(*nretry)++] = ops[i];
            }
        } else {
            answer_all(s, ops, n, &p, retry, nretry);
        }
    }
    plan_free(&p);
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

/* True when op concerns the same workflow as one of ops[0..n): a begin of the same class and
 * key, or a write set of the same workflow id. Such requests wait for the next batch, so one
 * statement never touches a row twice. */
static bool same_workflow(const cf_op *op, cf_op **ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cf_op *o = ops[i];
        if (o->kind != op->kind)
            continue;
        if (op->kind == CF_OP_COMMIT ? o->workflow_id == op->workflow_id
                                     : strcmp(o->begin->key, op->begin->key) == 0 &&
                                           strcmp(o->begin->wf_class, op->begin->wf_class) == 0)
            return true;
    }
    return false;
}

static void run_batch(cf_store *s, cf_op **all, size_t nall, cf_op **retry)
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
        snprintf(token, sizeof token, "%s.%lld", s->token_prefix, (long long)++s->batch_seq);
        if (cf_pg_is_broken(&s->wpg) || !s->wpg.prepared) {
            if (cf_pg_reconnect(&s->wpg, true, s->statement_timeout_ms, &s->stop) != CF_OK) {
                fail_all(s, ops, n, CF_ERR_UNAVAILABLE, s->wpg.errstr);
                requeue(s, retry, nretry);
                return;
            }
            atomic_fetch_add(&s->n_reconnects, 1);
        }
        batch_result br = run_pipeline(s, ops, n, isolated, token, retry, &nretry);
        if (br == BATCH_ISOLATE && !isolated) {
            isolated = true; /* nothing was applied: the same ops again, one statement each */
            continue;
        }
        if (br == BATCH_NOT_SENT || br == BATCH_UNKNOWN) {
            static cf_log_limiter lim;
            int64_t suppressed;
            if (cf_log_ratelimit(&lim, 5000, &suppressed))
                log_warn("store writer lost its connection mid-batch (%zu writes); resolving: %s",
                         n, s->wpg.errstr);
            if (!resolve(s, ops, n, token, retry, &nretry)) {
                fail_all(s, ops, n, CF_ERR_UNAVAILABLE,
                         "postgres unreachable; the outcome of this write is unknown");
                requeue(s, retry, nretry);
                return;
            }
        }
        break;
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
