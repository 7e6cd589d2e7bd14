// SPDX-License-Identifier: MIT
/* engine/run.c: a pass's step table, pending writes, flushes and halts. */
#include "engine/run.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "engine/branch.h"
#include "engine/class_stats.h"

/* ---- step table ---- */

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static cf_status index_rebuild(cf_run *run, size_t cap)
{
    uint32_t *idx = cf_calloc(cap, sizeof *idx);
    if (idx == NULL)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < run->nsteps; i++) {
        size_t slot = hash_name(run->steps[i].name) & (cap - 1);
        while (idx[slot])
            slot = (slot + 1) & (cap - 1);
        idx[slot] = (uint32_t)(i + 1);
    }
    cf_free(run->index);
    run->index = idx;
    run->index_cap = cap;
    return CF_OK;
}

cf_run_step *cf_run_step_find(cf_run *run, const char *name)
{
    if (run->index_cap == 0)
        return NULL;
    size_t slot = hash_name(name) & (run->index_cap - 1);
    while (run->index[slot]) {
        cf_run_step *s = &run->steps[run->index[slot] - 1];
        if (strcmp(s->name, name) == 0)
            return s;
        slot = (slot + 1) & (run->index_cap - 1);
    }
    return NULL;
}

static cf_run_step *step_add(cf_run *run, const char *name)
{
    if (cf_grow(&run->steps, &run->steps_cap, run->nsteps, sizeof *run->steps, 16) != 0)
        return NULL;
    cf_run_step *s = &run->steps[run->nsteps];
    memset(s, 0, sizeof *s);
    s->name = cf_arena_strdup(&run->arena, name);
    s->metadata = json_object();
    if (s->name == NULL || s->metadata == NULL) {
        json_decref(s->metadata);
        return NULL;
    }
    run->nsteps++;
    if (run->nsteps * 2 > run->index_cap) { /* keep the table at most half full */
        size_t cap = run->index_cap ? run->index_cap * 2 : 32;
        while (run->nsteps * 2 > cap)
            cap *= 2;
        if (index_rebuild(run, cap) != CF_OK) {
            run->nsteps--;
            json_decref(s->metadata);
            return NULL;
        }
        return s;
    }
    size_t slot = hash_name(name) & (run->index_cap - 1);
    while (run->index[slot])
        slot = (slot + 1) & (run->index_cap - 1);
    run->index[slot] = (uint32_t)run->nsteps;
    return s;
}

/* ---- life cycle ---- */

static int64_t real_clock(void *arg)
{
    (void)arg;
    return cf_clock_unix_ms();
}

int64_t cf_run_now(const cf_run *run)
{
    return run->clock.now_ms(run->clock.arg);
}

cf_status cf_run_init(cf_run *run, const cf_workflow_def *def, const cf_store_port *store,
                      cf_wf_row *row, const cf_step_list *steps, const atomic_bool *stopping,
                      const char *jid)
{
    memset(run, 0, sizeof *run);
    cf_arena_init(&run->arena, 8192);
    run->def = def;
    run->class_stats = cf_class_stats_of(def->name);
    if (store)
        run->store = *store;
    run->clock = (cf_run_clock){.now_ms = real_clock};
    run->repeat_keep_ticks = CF_REPEAT_KEEP_TICKS_DEFAULT;
    run->row = *row;
    memset(row, 0, sizeof *row); /* its JSON now belongs to the run */
    run->stopping = stopping;
    json_t *ctx_doc = run->row.context;
    run->row.context = NULL;
    if (cf_context_init(&run->ctx, ctx_doc) == CF_ERR_NOMEM)
        return CF_ERR_NOMEM;
    run->log.wf_class = run->row.wf_class;
    run->log.wf_key = run->row.key;
    run->log.jid = jid ? cf_arena_strdup(&run->arena, jid) : NULL;
    for (size_t i = 0; steps && i < steps->n; i++) {
        const cf_step_row *r = &steps->rows[i];
        cf_run_step *s = step_add(run, r->name);
        if (s == NULL)
            return CF_ERR_NOMEM;
        s->state = r->state;
        s->attempts = r->attempts;
        s->started_at_ms = r->started_at_ms;
        if (json_is_object(r->metadata)) {
            json_decref(s->metadata);
            s->metadata = json_deep_copy(r->metadata);
            if (s->metadata == NULL)
                return CF_ERR_NOMEM;
        }
    }
    return CF_OK;
}

cf_status cf_run_set_lazy(cf_run *run, const char *queue, const char *lock_value,
                          int64_t fence_read, int64_t bound_ms)
{
    run->lazy = (cf_ws_lazy){
        .wf_class = run->row.wf_class,
        .key = run->row.key,
        .queue = queue ? cf_arena_strdup(&run->arena, queue) : NULL,
        .lock_value = lock_value ? cf_arena_strdup(&run->arena, lock_value) : NULL,
        .kwargs = run->row.kwargs,
        .options = run->row.options,
        .fence_read = fence_read,
    };
    if ((queue && !run->lazy.queue) || (lock_value && !run->lazy.lock_value))
        return CF_ERR_NOMEM;
    run->lazy_open = true;
    run->lazy_until_ms = bound_ms > 0 ? cf_run_now(run) + bound_ms : 0;
    return CF_OK;
}

static void clear_written(cf_run *run)
{
    for (size_t i = 0; i < run->npending; i++)
        json_decref(run->pending[i].metadata);
    run->npending = 0;
    for (size_t i = 0; i < run->nerrors; i++)
        json_decref(run->errors[i].context);
    run->nerrors = 0;
    run->nsig_uses = 0;
    run->ctx.dirty = false;
    run->repeat_prune_set = false;
}

void cf_run_deinit(cf_run *run)
{
    clear_written(run);
    for (size_t i = 0; i < run->nsteps; i++)
        json_decref(run->steps[i].metadata);
    cf_free(run->steps);
    cf_free(run->index);
    cf_free(run->pending);
    cf_free(run->errors);
    cf_branch_pass_free(run);
    cf_free(run->sig_uses);
    cf_context_deinit(&run->ctx);
    cf_wf_row_deinit(&run->row);
    cf_arena_deinit(&run->arena);
    memset(run, 0, sizeof *run);
}

/* ---- pending writes ---- */

cf_status cf_run_note_step(cf_run *run, const char *name, cf_step_state state, int attempts,
                           json_t *metadata, const char *error_class, const char *error_message)
{
    cf_run_step *s = cf_run_step_find(run, name);
    if (s == NULL && (s = step_add(run, name)) == NULL)
        return CF_ERR_NOMEM;
    int64_t now = cf_run_now(run);
    s->state = state;
    s->attempts = attempts;
    if (s->started_at_ms == 0)
        s->started_at_ms = now;
    if (metadata && metadata != s->metadata) {
        json_t *copy = json_deep_copy(metadata);
        if (copy == NULL)
            return CF_ERR_NOMEM;
        json_decref(s->metadata);
        s->metadata = copy;
    }
    cf_ws_step *p = NULL;
    for (size_t i = 0; i < run->npending; i++)
        if (strcmp(run->pending[i].name, s->name) == 0)
            p = &run->pending[i];
    if (p == NULL) {
        if (cf_grow(&run->pending, &run->pending_cap, run->npending, sizeof *run->pending, 8))
            return CF_ERR_NOMEM;
        p = &run->pending[run->npending++];
        memset(p, 0, sizeof *p);
    } else {
        json_decref(p->metadata);
    }
    p->name = s->name;
    p->state = state;
    p->attempts = attempts;
    p->metadata = json_incref(s->metadata);
    p->started_at_ms = s->started_at_ms;
    p->last_executed_at_ms = now;
    p->completed_at_ms = state == CF_STEP_COMPLETED ? now : 0;
    if (state == CF_STEP_COMPLETED)
        run->progressed = true;
    p->error_class = error_class ? cf_arena_strdup(&run->arena, error_class) : NULL;
    p->error_message = error_message ? cf_arena_strdup(&run->arena, error_message) : NULL;
    return CF_OK;
}

cf_status cf_run_note_error(cf_run *run, const char *step_name, int attempt,
                            const char *error_class, const char *message)
{
    if (cf_grow(&run->errors, &run->errors_cap, run->nerrors, sizeof *run->errors, 4))
        return CF_ERR_NOMEM;
    cf_metrics_error(error_class); /* /metrics: errors by error class */
    cf_ws_error *e = &run->errors[run->nerrors];
    memset(e, 0, sizeof *e);
    e->step_name = step_name ? cf_arena_strdup(&run->arena, step_name) : NULL;
    e->attempt = attempt;
    e->error_class = cf_arena_strdup(&run->arena, error_class);
    e->message = cf_arena_strdup(&run->arena, message);
    /* The snapshot is of the context as it was when the error happened. */
    e->context = cf_context_snapshot(run->ctx.doc, CF_CONTEXT_SNAPSHOT_MAX);
    if (e->error_class == NULL || e->message == NULL || e->context == NULL) {
        json_decref(e->context);
        return CF_ERR_NOMEM;
    }
    run->nerrors++;
    return CF_OK;
}

cf_status cf_run_note_signal_use(cf_run *run, int64_t signal_row_id, const char *step_name)
{
    if (cf_grow(&run->sig_uses, &run->sig_uses_cap, run->nsig_uses, sizeof *run->sig_uses, 4))
        return CF_ERR_NOMEM;
    cf_ws_signal_use *u = &run->sig_uses[run->nsig_uses];
    u->signal_row_id = signal_row_id;
    u->step_name = cf_arena_strdup(&run->arena, step_name);
    if (u->step_name == NULL)
        return CF_ERR_NOMEM;
    run->nsig_uses++;
    return CF_OK;
}

json_t *cf_run_workflow_budget(const cf_run *run)
{
    if (run->progressed || !json_is_object(run->row.retry_counts))
        return json_object();
    return json_deep_copy(run->row.retry_counts);
}

static cf_status commit(cf_run *run, cf_ws_outcome outcome, int64_t next_wake_at_ms, int attempt,
                        json_t *retry_counts)
{
    /* A commit that carries a step completion starts the workflow-level budget over (it counts
     * consecutive failed passes), in the same statement as the completion. */
    json_t *reset = NULL;
    if (retry_counts == NULL && run->progressed && json_object_size(run->row.retry_counts) > 0) {
        if ((reset = json_object()) == NULL) {
            (void)cf_run_abandon(run, CF_ERR_NOMEM);
            return CF_ERR_NOMEM;
        }
        retry_counts = reset;
    }
    bool cancelled = false;
    cf_write_set ws = {
        .workflow_id = run->row.id,
        .fence = run->row.fence,
        .steps = run->pending,
        .nsteps = run->npending,
        .errors = run->errors,
        .nerrors = run->nerrors,
        .context = run->ctx.dirty ? run->ctx.doc : NULL,
        .outcome = outcome,
        .next_wake_at_ms = next_wake_at_ms,
        .attempt = attempt,
        .retry_counts = retry_counts,
        .lazy = run->lazy_open ? &run->lazy : NULL,
        .repeat_prune = run->repeat_prune_set ? &run->repeat_prune : NULL,
        .cancel_out = &cancelled,
        .signal_uses = run->sig_uses,
        .nsignal_uses = run->nsig_uses,
        .child = run->row.parent_id != 0,
    };
    cf_ws_wake wake = {0};
    cf_branch_fill_ws(run, &ws, &wake);
    char why[256] = "no store";
    cf_status st = run->store.commit ? run->store.commit(run->store.impl, &ws) : CF_ERR_STATE;
    if (st == CF_OK && run->lazy_open) { /* begun: later commits are plain, under its fence */
        run->row.id = run->lazy.id_out;
        run->row.fence = run->lazy.fence_out;
        run->lazy_open = false;
    }
    if (st == CF_OK && reset) {
        json_decref(run->row.retry_counts);
        run->row.retry_counts = reset; /* stored now: later commits of the pass need not send it */
        reset = NULL;
    }
    json_decref(reset);
    if (st == CF_OK) {
        if (cancelled && !run->cleanup && !run->cancel_seen) {
            run->cancel_seen = true;
            cf_logkv(CF_LOG_INFO, &run->log, "event=cancel_seen",
                     "the workflow was cancelled while this pass ran; what ran is committed, "
                     "nothing more runs");
        }
        clear_written(run);
        cf_branch_committed(run, &wake);
        return CF_OK;
    }
    cf_branch_discard(run);
    if (run->store.errstr)
        snprintf(why, sizeof why, "%s", run->store.errstr(run->store.impl));
    if (st == CF_ERR_CONFLICT)
        cf_logkv(CF_LOG_WARN, &run->log, "event=fence_conflict",
                 "another run took over this workflow (fence %lld%s); abandoning this pass, "
                 "writing and publishing nothing: %s",
                 (long long)(run->lazy_open ? run->lazy.fence_read : run->row.fence),
                 run->lazy_open ? " read, lazy begin" : "", why);
    else
        cf_logkv(CF_LOG_ERROR, &run->log, "event=store_error",
                 "could not commit the run's writes (%s): %s", cf_status_str(st), why);
    (void)cf_run_abandon(run, st);
    return st;
}

cf_status cf_run_flush(cf_run *run)
{
    if (run->halt == CF_HALT_ABANDON)
        return run->abandon_status;
    /* A lazy window past its bound closes before the next step: Postgres learns of the run. */
    bool close_window =
        run->lazy_open && run->lazy_until_ms > 0 && cf_run_now(run) >= run->lazy_until_ms;
    if (run->npending == 0 && run->nerrors == 0 && run->nsig_uses == 0 && !run->ctx.dirty &&
        !close_window)
        return CF_OK;
    if (close_window)
        cf_logkv(CF_LOG_DEBUG, &run->log, "event=lazy_window_closed",
                 "the run outlived its lazy window; its begin is made durable now");
    return commit(run, CF_WS_CONTINUE, 0, -1, NULL);
}

cf_status cf_run_finish(cf_run *run, cf_ws_outcome outcome, int64_t next_wake_at_ms, int attempt,
                        json_t *retry_counts)
{
    if (run->halt == CF_HALT_ABANDON)
        return run->abandon_status;
    return commit(run, outcome, next_wake_at_ms, attempt, retry_counts);
}

cf_flow cf_run_halt(cf_run *run, cf_halt_kind kind, int64_t wake_at_ms)
{
    if (run->halt != CF_HALT_ABANDON) {
        run->halt = kind;
        run->wake_at_ms = wake_at_ms;
    }
    return CF_FLOW_HALT;
}

cf_flow cf_run_abandon(cf_run *run, cf_status st)
{
    run->halt = CF_HALT_ABANDON;
    run->abandon_status = st;
    return CF_FLOW_HALT;
}

/* ---- public: errors and identity ---- */

cf_flow cf_fail(cf_run *run, const char *error_class, const char *fmt, ...)
{
    run->failed = true;
    snprintf(run->fail_class, sizeof run->fail_class, "%s",
             error_class && *error_class ? error_class : "Error");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->fail_msg, sizeof run->fail_msg, fmt, ap);
    va_end(ap);
    return CF_FLOW_ERROR;
}

const char *cf_run_key(cf_run *run)
{
    return run->row.key;
}

const char *cf_run_class(cf_run *run)
{
    return run->row.wf_class;
}

const char *cf_run_cancel_reason(cf_run *run)
{
    return run->row.cancel_requested_at_ms > 0 ? run->row.cancel_reason : NULL;
}

int cf_run_attempt(cf_run *run)
{
    return run->in_step ? run->attempt : 0;
}
