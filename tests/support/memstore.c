// SPDX-License-Identifier: MIT
/* tests/support/memstore.c: the in-memory store of memstore.h: run begin, fenced write sets,
 * markers, a requeue, and a pass driver. Mirrors CF_SQL_RUN_BEGINS, CF_SQL_WRITE_SETS and
 * CF_SQL_REQUEUE (store/sql.c). */
#include "tests/support/memstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static int64_t clock_of(void *arg)
{
    return ((cf_memstore *)arg)->now_ms;
}

void cf_memstore_init(cf_memstore *m, int64_t now_ms)
{
    memset(m, 0, sizeof *m);
    m->now_ms = now_ms;
    m->next_id = 1;
}

void cf_memstore_deinit(cf_memstore *m)
{
    cf_wf_row_deinit(&m->wf);
    cf_step_list_deinit(&m->steps);
    for (size_t i = 0; i < m->nerrors; i++) {
        cf_free(m->errors[i].step_name);
        cf_free(m->errors[i].error_class);
        cf_free(m->errors[i].message);
    }
    cf_free(m->errors);
    for (size_t i = 0; i < m->nchildren; i++)
        cf_free(m->children[i]);
    cf_free(m->children);
    memset(m, 0, sizeof *m);
}

static cf_status refuse(cf_memstore *m, cf_status st, const char *msg)
{
    snprintf(m->err, sizeof m->err, "%s", msg);
    return st;
}

/* ---- rows ---- */

static cf_step_row *step_find(cf_memstore *m, const char *name)
{
    for (size_t i = 0; i < m->steps.n; i++)
        if (strcmp(m->steps.rows[i].name, name) == 0)
            return &m->steps.rows[i];
    return NULL;
}

const cf_step_row *cf_memstore_step(const cf_memstore *m, const char *name)
{
    return cf_step_list_find(&m->steps, name);
}

static cf_step_row *step_upsert(cf_memstore *m, const char *name)
{
    cf_step_row *r = step_find(m, name);
    if (r)
        return r;
    cf_step_row *rows = cf_realloc(m->steps.rows, (m->steps.n + 1) * sizeof *rows);
    if (rows == NULL)
        return NULL;
    m->steps.rows = rows;
    r = &rows[m->steps.n];
    memset(r, 0, sizeof *r);
    r->id = m->next_id++;
    r->name = cf_strdup(name);
    r->metadata = json_null();
    if (r->name == NULL)
        return NULL;
    m->steps.n++;
    return r;
}

static char *dup_or_null(const char *s)
{
    return s ? cf_strdup(s) : NULL;
}

static json_t *copy_or_null(json_t *v)
{
    return v ? json_deep_copy(v) : json_null();
}

/* A repeat's tick row, `durably_repeat$<name>$<ms>` (store/sql.c NOT_REPETITION). */
static bool is_repetition(const char *name)
{
    if (strncmp(name, "durably_repeat$", 15) != 0)
        return false;
    const char *sep = strchr(name + 15, '$');
    return sep != NULL && sep > name + 15;
}

/* A deep copy of every row but repetition rows (what cf_store_load_steps returns). */
static cf_status steps_copy(cf_memstore *m, cf_step_list *out)
{
    memset(out, 0, sizeof *out);
    m->loaded_steps = 0;
    if (m->steps.n == 0)
        return CF_OK;
    out->rows = cf_calloc(m->steps.n, sizeof *out->rows);
    if (out->rows == NULL)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < m->steps.n; i++) {
        const cf_step_row *s = &m->steps.rows[i];
        if (is_repetition(s->name))
            continue;
        cf_step_row *d = &out->rows[out->n];
        *d = *s;
        d->name = cf_strdup(s->name);
        d->metadata = json_deep_copy(s->metadata);
        d->error_class = dup_or_null(s->error_class);
        d->error_message = dup_or_null(s->error_message);
        out->n++;
    }
    m->loaded_steps = out->n;
    return CF_OK;
}

static cf_status wf_copy(const cf_wf_row *src, cf_wf_row *out)
{
    *out = *src;
    out->kwargs = json_deep_copy(src->kwargs);
    out->options = json_deep_copy(src->options);
    out->context = json_deep_copy(src->context);
    out->retry_counts = json_deep_copy(src->retry_counts);
    return out->kwargs && out->options && out->context && out->retry_counts ? CF_OK : CF_ERR_NOMEM;
}

/* ---- run begin ---- */

cf_status cf_memstore_begin(cf_memstore *m, const char *wf_class, const char *key,
                            const char *kwargs_json, cf_wf_row *out, cf_step_list *steps)
{
    memset(out, 0, sizeof *out);
    memset(steps, 0, sizeof *steps);
    bool created = false;
    if (!m->exists) {
        cf_wf_row *w = &m->wf;
        w->id = m->next_id++;
        snprintf(w->wf_class, sizeof w->wf_class, "%s", wf_class);
        snprintf(w->key, sizeof w->key, "%s", key);
        snprintf(w->queue, sizeof w->queue, "default");
        w->kwargs = kwargs_json ? json_loads(kwargs_json, 0, NULL) : json_object();
        w->options = json_object();
        w->context = json_object();
        w->retry_counts = json_object();
        w->state = CF_WF_IDLE; /* born idle inside the transaction, locked below */
        w->created_at_ms = m->now_ms;
        m->exists = created = true;
    } else if (!cf_wf_state_executable(m->wf.state)) {
        (void)wf_copy(&m->wf, out);
        return refuse(m, CF_ERR_STATE, "not executable");
    }
    cf_wf_row *w = &m->wf;
    w->state = CF_WF_RUNNING;
    w->fence++;
    w->crash_count += w->locked_by[0] != '\0';
    snprintf(w->locked_by, sizeof w->locked_by, "test/%lld", (long long)w->fence);
    w->locked_at_ms = m->now_ms;
    if (w->started_at_ms == 0)
        w->started_at_ms = m->now_ms;
    w->next_wake_at_ms = 0;
    cf_status st = wf_copy(w, out);
    out->created = created;
    if (st == CF_OK)
        st = steps_copy(m, steps);
    return st;
}

/* ---- cancel ---- */

static cf_status apply_marker(cf_memstore *m, const char *name, json_t *metadata);

cf_status cf_memstore_cancel(cf_memstore *m, const char *reason)
{
    m->err[0] = '\0';
    if (!m->exists)
        return refuse(m, CF_ERR_NOT_FOUND, "no such workflow");
    cf_wf_row *w = &m->wf;
    if (w->cancel_requested_at_ms > 0 ||
        (w->state != CF_WF_IDLE && w->state != CF_WF_STALLED && w->state != CF_WF_RUNNING))
        return refuse(m, CF_ERR_STATE, "not cancellable");
    if (w->state != CF_WF_RUNNING) {
        w->state = CF_WF_CANCELLING;
        w->next_wake_at_ms = m->now_ms;
    }
    w->cancel_requested_at_ms = m->now_ms;
    snprintf(w->cancel_by, sizeof w->cancel_by, "test");
    snprintf(w->cancel_reason, sizeof w->cancel_reason, "%s", reason ? reason : "");
    char name[64];
    snprintf(name, sizeof name, "$workflow_cancel$%lld", (long long)m->now_ms);
    return apply_marker(m, name, NULL);
}

/* ---- requeue ---- */

cf_status cf_memstore_requeue(cf_memstore *m)
{
    m->err[0] = '\0';
    if (!m->exists)
        return refuse(m, CF_ERR_NOT_FOUND, "no such workflow");
    char name[64];
    snprintf(name, sizeof name, "$workflow_retry$%lld", (long long)m->now_ms);
    if (step_find(m, name) != NULL)
        return CF_OK; /* this request landed already */
    cf_wf_row *w = &m->wf;
    if (!cf_wf_state_retryable(w->state))
        return refuse(m, CF_ERR_STATE, "not stalled or failed");
    json_t *counts = json_object();
    json_t *meta =
        json_pack("{ssss}", "previous_state", cf_wf_state_name(w->state), "requested_by", "test");
    cf_step_row *r = counts && meta ? step_upsert(m, name) : NULL;
    if (r == NULL) {
        json_decref(counts);
        json_decref(meta);
        return refuse(m, CF_ERR_NOMEM, "out of memory");
    }
    /* fresh budgets: the workflow's, and the metadata of its failed steps */
    for (size_t i = 0; i < m->steps.n; i++)
        if (m->steps.rows[i].state == CF_STEP_FAILED)
            json_object_del(m->steps.rows[i].metadata, "retry_counts");
    json_decref(w->retry_counts);
    w->retry_counts = counts;
    w->state = CF_WF_IDLE;
    w->next_wake_at_ms = w->updated_at_ms = m->now_ms;
    r->state = CF_STEP_COMPLETED;
    r->attempts = 1;
    json_decref(r->metadata);
    r->metadata = meta;
    r->started_at_ms = r->last_executed_at_ms = r->completed_at_ms = m->now_ms;
    return CF_OK;
}

/* ---- write sets ---- */

static bool is_marker(const char *name)
{
    return strncmp(name, "$workflow_", 10) == 0;
}

static cf_status validate(cf_memstore *m, const cf_write_set *ws)
{
    if (ws->outcome == CF_WS_FAIL && ws->nerrors == 0)
        return refuse(m, CF_ERR_INVALID, "a FAIL write set needs at least one error");
    for (size_t i = 0; i < ws->nsteps; i++) {
        const cf_ws_step *s = &ws->steps[i];
        if (s->name == NULL || *s->name == '\0' || is_marker(s->name))
            return refuse(m, CF_ERR_INVALID, "step name empty or a $workflow_ marker");
        if (s->state == CF_STEP_UNKNOWN || s->state >= CF_STEP_STATE_COUNT)
            return refuse(m, CF_ERR_INVALID, "step state must be pending, completed or failed");
        for (size_t j = 0; j < i; j++)
            if (strcmp(ws->steps[j].name, s->name) == 0)
                return refuse(m, CF_ERR_INVALID, "step named twice in one write set");
    }
    for (size_t i = 0; i < ws->nerrors; i++)
        if (ws->errors[i].error_class == NULL || ws->errors[i].attempt < 1)
            return refuse(m, CF_ERR_INVALID, "an error needs a class and a 1-based attempt");
    return CF_OK;
}

static cf_status apply_step(cf_memstore *m, const cf_ws_step *s)
{
    cf_step_row *r = step_upsert(m, s->name);
    if (r == NULL)
        return CF_ERR_NOMEM;
    r->state = s->state;
    r->attempts = s->attempts;
    json_decref(r->metadata);
    r->metadata = copy_or_null(s->metadata);
    if (s->started_at_ms)
        r->started_at_ms = s->started_at_ms;
    r->last_executed_at_ms = s->last_executed_at_ms;
    r->completed_at_ms = s->completed_at_ms;
    cf_free(r->error_class);
    cf_free(r->error_message);
    r->error_class = dup_or_null(s->error_class);
    r->error_message = dup_or_null(s->error_message);
    return r->metadata ? CF_OK : CF_ERR_NOMEM;
}

static cf_status apply_error(cf_memstore *m, const cf_ws_error *e)
{
    if (cf_grow(&m->errors, &m->errors_cap, m->nerrors, sizeof *m->errors, 8) != 0)
        return CF_ERR_NOMEM;
    cf_memstore_error *d = &m->errors[m->nerrors++];
    d->id = m->next_id++;
    d->step_name = dup_or_null(e->step_name);
    d->attempt = e->attempt;
    d->error_class = cf_strdup(e->error_class);
    d->message = dup_or_null(e->message);
    return CF_OK;
}

static cf_status apply_marker(cf_memstore *m, const char *name, json_t *metadata)
{
    cf_step_row *r = step_find(m, name);
    bool existed = r != NULL;
    if (!existed && (r = step_upsert(m, name)) == NULL)
        return CF_ERR_NOMEM;
    r->state = CF_STEP_COMPLETED;
    r->attempts = existed ? r->attempts + 1 : 1;
    if (!existed) {
        json_decref(r->metadata);
        r->metadata = metadata ? json_incref(metadata) : json_null();
        r->started_at_ms = m->now_ms;
    }
    r->last_executed_at_ms = r->completed_at_ms = m->now_ms;
    return CF_OK;
}

/* apply_prune deletes the repeat's tick rows named prefix<digits> with digits < before_ms, the
 * oldest CF_WS_PRUNE_MAX first, as CF_SQL_WRITE_SETS's rp does. */
static void apply_prune(cf_memstore *m, const cf_ws_repeat_prune *p)
{
    size_t plen = strlen(p->prefix), kept = 0;
    int deleted = 0;
    for (size_t i = 0; i < m->steps.n; i++) {
        cf_step_row *r = &m->steps.rows[i];
        const char *digits = r->name + plen;
        bool match = strncmp(r->name, p->prefix, plen) == 0 && *digits &&
                     strspn(digits, "0123456789") == strlen(digits) && strlen(digits) <= 18;
        if (match && deleted < CF_WS_PRUNE_MAX && strtoll(digits, NULL, 10) < p->before_ms) {
            cf_free(r->name);
            json_decref(r->metadata);
            cf_free(r->error_class);
            cf_free(r->error_message);
            deleted++;
            m->pruned++;
            continue;
        }
        m->steps.rows[kept++] = *r;
    }
    m->steps.n = kept;
}

static void set_json(json_t **slot, json_t *v)
{
    json_t *copy = json_deep_copy(v);
    if (copy) {
        json_decref(*slot);
        *slot = copy;
    }
}

cf_memstore_branch *cf_memstore_branch_find(cf_memstore *m, const char *name)
{
    for (size_t i = 0; i < m->nbranches; i++)
        if (strcmp(m->branches[i].name, name) == 0)
            return &m->branches[i];
    return NULL;
}

/* apply_branch: BRANCH_CTES for one branch change (children inserted unless their key exists,
 * counters raised by the new ones, seal and merge). */
static cf_status apply_branch(cf_memstore *m, const cf_ws_branch *b)
{
    cf_memstore_branch *row = cf_memstore_branch_find(m, b->name);
    if (!row) {
        if (m->nbranches == CF_MEMSTORE_MAX_BRANCHES)
            return refuse(m, CF_ERR_INVALID, "too many branches for the memstore");
        row = &m->branches[m->nbranches++];
        memset(row, 0, sizeof *row);
        snprintf(row->name, sizeof row->name, "%s", b->name);
        row->state = CF_BRANCH_OPEN;
    }
    for (size_t i = 0; i < b->nchildren; i++) {
        m->child_inserts++;
        bool exists = false;
        for (size_t j = 0; j < m->nchildren && !exists; j++)
            exists = strcmp(m->children[j], b->children[i].key) == 0;
        if (exists)
            continue;
        if (cf_grow(&m->children, &m->children_cap, m->nchildren, sizeof *m->children, 16) != 0)
            return CF_ERR_NOMEM;
        if (!(m->children[m->nchildren] = cf_strdup(b->children[i].key)))
            return CF_ERR_NOMEM;
        m->nchildren++;
        row->spawned++;
        row->remaining++;
    }
    if (b->merged)
        row->state = CF_BRANCH_MERGED;
    else if (b->seal && row->state == CF_BRANCH_OPEN)
        row->state = CF_BRANCH_SEALED;
    return CF_OK;
}

static cf_status mem_branch_get(void *impl, int64_t workflow_id, const char *name, bool counts,
                                cf_branch_row *out)
{
    (void)workflow_id;
    (void)counts;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    const cf_memstore_branch *b = cf_memstore_branch_find(impl, name);
    if (b) {
        out->state = b->state;
        out->spawned = b->spawned;
        out->remaining = b->remaining;
        out->by_state[CF_WF_COMPLETED] = b->spawned - b->remaining;
        out->by_state[CF_WF_IDLE] = b->remaining;
        out->counted = true;
    }
    return CF_OK;
}

static cf_status mem_commit(void *impl, const cf_write_set *ws)
{
    cf_memstore *m = impl;
    m->err[0] = '\0';
    cf_status st = validate(m, ws);
    if (st != CF_OK)
        return st;
    if (m->fail_next != CF_OK) {
        st = m->fail_next;
        m->fail_next = CF_OK;
        return refuse(m, st, "injected failure");
    }
    cf_wf_row *w = &m->wf;
    if (!m->exists || ws->workflow_id != w->id || ws->fence != w->fence ||
        w->state != CF_WF_RUNNING)
        return refuse(m, CF_ERR_CONFLICT, "fence moved or not running");
    if (ws->context)
        set_json(&w->context, ws->context);
    static const cf_wf_state after[] = {
        [CF_WS_CONTINUE] = CF_WF_RUNNING,   [CF_WS_HALT] = CF_WF_IDLE,
        [CF_WS_COMPLETE] = CF_WF_COMPLETED, [CF_WS_STALL] = CF_WF_STALLED,
        [CF_WS_FAIL] = CF_WF_FAILED,        [CF_WS_CANCELLED] = CF_WF_CANCELLED};
    w->state = after[ws->outcome];
    if (ws->outcome != CF_WS_CONTINUE) {
        w->locked_by[0] = '\0';
        w->locked_at_ms = 0;
        w->crash_count = 0;
    }
    w->next_wake_at_ms = ws->outcome == CF_WS_HALT ? ws->next_wake_at_ms : 0;
    /* a releasing outcome of a row with a cancel request leaves it cancelling, due (CX_STATE) */
    bool cx = w->cancel_requested_at_ms > 0;
    if (cx && ws->outcome != CF_WS_CONTINUE && ws->outcome != CF_WS_CANCELLED) {
        w->state = CF_WF_CANCELLING;
        if (w->next_wake_at_ms == 0 || w->next_wake_at_ms > m->now_ms)
            w->next_wake_at_ms = m->now_ms; /* due now (CX_WAKE) */
    }
    if (ws->cancel_out)
        *ws->cancel_out = cx;
    if (ws->outcome == CF_WS_COMPLETE || ws->outcome == CF_WS_CANCELLED)
        w->completed_at_ms = m->now_ms;
    if (ws->attempt >= 0)
        w->attempt = ws->attempt;
    if (ws->retry_counts)
        set_json(&w->retry_counts, ws->retry_counts);
    w->updated_at_ms = m->now_ms;
    for (size_t i = 0; st == CF_OK && i < ws->nsteps; i++)
        st = apply_step(m, &ws->steps[i]);
    for (size_t i = 0; st == CF_OK && i < ws->nerrors; i++)
        st = apply_error(m, &ws->errors[i]);
    if (st == CF_OK && ws->repeat_prune)
        apply_prune(m, ws->repeat_prune);
    if (st == CF_OK && ws->outcome == CF_WS_COMPLETE)
        st = apply_marker(m, "$workflow_completion$", NULL);
    if (st == CF_OK && ws->outcome == CF_WS_FAIL) {
        int64_t eid = m->errors[m->nerrors - 1].id;
        char name[64];
        snprintf(name, sizeof name, "$workflow_failure$%lld", (long long)eid);
        json_t *meta = json_pack("{sI}", "error_log_id", (json_int_t)eid);
        st = apply_marker(m, name, meta);
        json_decref(meta);
    }
    for (size_t i = 0; st == CF_OK && i < ws->nbranches; i++)
        st = apply_branch(m, &ws->branches[i]);
    m->commits++;
    return st;
}

static const char *mem_errstr(void *impl)
{
    return ((cf_memstore *)impl)->err;
}

cf_store_port cf_memstore_port(cf_memstore *m)
{
    return (cf_store_port){
        .impl = m, .commit = mem_commit, .errstr = mem_errstr, .branch_get = mem_branch_get};
}

size_t cf_memstore_errors_of(const cf_memstore *m, const char *step_name)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nerrors; i++) {
        const char *s = m->errors[i].step_name;
        n += step_name ? (s && strcmp(s, step_name) == 0) : s == NULL;
    }
    return n;
}

/* ---- a pass ---- */

cf_status cf_memstore_pass(cf_memstore *m, const cf_workflow_def *def, cf_finish_result *fin)
{
    cf_wf_row row;
    cf_step_list steps;
    cf_status st = cf_memstore_begin(m, def->name, "k-1", NULL, &row, &steps);
    if (st != CF_OK) {
        cf_wf_row_deinit(&row);
        cf_step_list_deinit(&steps);
        return st;
    }
    cf_store_port port = cf_memstore_port(m);
    cf_run run;
    st = cf_run_init(&run, def, &port, &row, &steps, NULL, "jid");
    cf_step_list_deinit(&steps);
    if (st == CF_OK) {
        run.clock = (cf_run_clock){.now_ms = clock_of, .arg = m};
        if (m->repeat_keep_ticks)
            run.repeat_keep_ticks = m->repeat_keep_ticks < 0 ? 0 : m->repeat_keep_ticks;
        cf_finish_result r = cf_finish_run(&run);
        if (fin)
            *fin = r;
        else
            cf_finish_result_deinit(&r);
    }
    cf_run_deinit(&run);
    return st;
}
