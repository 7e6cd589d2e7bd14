// SPDX-License-Identifier: MIT
/* engine/branch.c: branches, spawns and merges (chronoforge.h; semantics in docs/replay.md and
 * SPEC §3). A branch is the execution-log row `branch$<name>` (completed = sealed; its metadata
 * {"cursors": {<spawn name>: items dispatched}}) plus its chrono_forge_branches row. Every
 * dispatch batch is one commit carrying the cursor, the new children and the branch counters
 * together (store/sql.c BRANCH_CTES), after which the children's envelopes are published; a
 * merge is the row `merge$<name>`, completed once every branch is done. */
#include "engine/branch.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/metrics.h"
#include "engine/registry.h"

#define NAME_MAX_LEN  200
#define KEY_MAX_LEN   256
#define DEFAULT_BATCH 1000
#define MAX_BATCH     10000

typedef struct kid {
    char *wf_class, *key, *queue; /* owned */
    json_t *kwargs;               /* owned ref */
} kid;

typedef struct opened {
    const char *name; /* arena */
    bool merged;
} opened;

typedef struct change {
    const char *name; /* arena */
    bool seal, merged;
} change;

struct cf_branch_pass {
    opened *open; /* branches opened in this pass (the completion gate) */
    size_t nopen, open_cap;
    const char *current; /* the branch whose body runs now (arena), or NULL */
    const cf_branch_opts *cur_opts;
    change *chg; /* seals and merges waiting for the next commit */
    size_t nchg, chg_cap;
    kid *kids; /* children of the current branch waiting for the next commit */
    size_t nkids, kids_cap;
    const char *kids_branch;
    cf_ws_branch *ws_br; /* what the commit in flight borrows */
    size_t ws_br_cap;
    cf_ws_child *ws_kids;
    size_t ws_kids_cap;
    cf_effects end_fx; /* for the pass's end: parents woken, children without a sink */
};

static struct cf_branch_pass *pass_of(cf_run *run)
{
    if (!run->branches)
        run->branches = cf_calloc(1, sizeof *run->branches);
    return run->branches;
}

static void kids_clear(struct cf_branch_pass *bp)
{
    for (size_t i = 0; i < bp->nkids; i++) {
        cf_free(bp->kids[i].wf_class);
        cf_free(bp->kids[i].key);
        cf_free(bp->kids[i].queue);
        json_decref(bp->kids[i].kwargs);
    }
    bp->nkids = 0;
    bp->kids_branch = NULL;
}

void cf_branch_pass_free(cf_run *run)
{
    struct cf_branch_pass *bp = run->branches;
    if (!bp)
        return;
    kids_clear(bp);
    cf_free(bp->kids);
    cf_free(bp->open);
    cf_free(bp->chg);
    cf_free(bp->ws_br);
    cf_free(bp->ws_kids);
    cf_effects_deinit(&bp->end_fx);
    cf_free(bp);
    run->branches = NULL;
}

/* ---- the commit seam (engine/run.c) ---- */

void cf_branch_fill_ws(cf_run *run, cf_write_set *ws, cf_ws_wake *wake)
{
    ws->wake_out = wake;
    struct cf_branch_pass *bp = run->branches;
    if (!bp || (bp->nchg == 0 && bp->nkids == 0))
        return;
    size_t need = bp->nchg + 1;
    if (need > bp->ws_br_cap) {
        cf_ws_branch *p = cf_realloc(bp->ws_br, need * sizeof *p);
        if (!p)
            return; /* nothing sent: cf_branch_committed keeps the changes for the next commit */
        bp->ws_br = p;
        bp->ws_br_cap = need;
    }
    if (bp->nkids > bp->ws_kids_cap) {
        cf_ws_child *p = cf_realloc(bp->ws_kids, bp->nkids * sizeof *p);
        if (!p)
            return;
        bp->ws_kids = p;
        bp->ws_kids_cap = bp->nkids;
    }
    size_t n = 0;
    bool kids_placed = false;
    for (size_t i = 0; i < bp->nchg; i++) {
        bp->ws_br[n] = (cf_ws_branch){
            .name = bp->chg[i].name, .seal = bp->chg[i].seal, .merged = bp->chg[i].merged};
        if (bp->kids_branch && strcmp(bp->kids_branch, bp->chg[i].name) == 0) {
            bp->ws_br[n].children = bp->ws_kids;
            bp->ws_br[n].nchildren = bp->nkids;
            kids_placed = true;
        }
        n++;
    }
    if (bp->nkids && !kids_placed)
        bp->ws_br[n++] = (cf_ws_branch){
            .name = bp->kids_branch, .children = bp->ws_kids, .nchildren = bp->nkids};
    for (size_t i = 0; i < bp->nkids; i++)
        bp->ws_kids[i] = (cf_ws_child){.wf_class = bp->kids[i].wf_class,
                                       .key = bp->kids[i].key,
                                       .queue = bp->kids[i].queue,
                                       .kwargs = bp->kids[i].kwargs};
    ws->branches = bp->ws_br;
    ws->nbranches = n;
}

static void note_oom(cf_run *run, const char *what)
{
    cf_logkv(CF_LOG_ERROR, &run->log, "event=oom",
             "cannot record %s; Postgres holds it and the sweeper publishes it", what);
}

void cf_branch_committed(cf_run *run, const cf_ws_wake *wake)
{
    struct cf_branch_pass *bp = run->branches;
    if (wake->set) {
        if (!bp && !(bp = pass_of(run))) {
            note_oom(run, "a parent's wake");
            return;
        }
        if (cf_effects_publish(&bp->end_fx, wake->wf_class, wake->key, wake->queue, NULL,
                               cf_run_now(run)) != CF_OK)
            note_oom(run, "a parent's wake");
        cf_logkv(CF_LOG_INFO, &run->log, "event=branch_wake", "wakes parent %s/%s", wake->wf_class,
                 wake->key);
    }
    if (!bp)
        return;
    bp->nchg = 0;
    if (bp->nkids == 0)
        return;
    /* The children are durable (born idle and due now): publish their first envelopes, onto
     * the ready list. Not as continuations: those are promoted into P:{Q}:due, ahead of the
     * ready backlog, where 100,000 children would queue in front of every wake of the fleet
     * (their parents' included). */
    cf_effects batch = CF_EFFECTS_INIT;
    cf_effects *fx = run->sink.publish ? &batch : &bp->end_fx;
    int64_t now = cf_run_now(run);
    cf_status st = CF_OK;
    for (size_t i = 0; i < bp->nkids && st == CF_OK; i++)
        st = cf_effects_publish(fx, bp->kids[i].wf_class, bp->kids[i].key, bp->kids[i].queue,
                                bp->kids[i].kwargs, now);
    if (st != CF_OK)
        note_oom(run, "children's envelopes");
    if (run->sink.publish && st == CF_OK) {
        st = run->sink.publish(run->sink.arg, &batch);
        if (st != CF_OK)
            cf_logkv(CF_LOG_WARN, &run->log, "event=children_unpublished",
                     "%zu children are stored but their envelopes could not be published (%s); "
                     "the sweeper publishes them",
                     batch.n, cf_status_str(st));
    }
    cf_effects_deinit(&batch);
    kids_clear(bp);
}

void cf_branch_discard(cf_run *run)
{
    struct cf_branch_pass *bp = run->branches;
    if (!bp)
        return;
    bp->nchg = 0;
    kids_clear(bp);
}

cf_status cf_branch_take_effects(cf_run *run, cf_effects *to)
{
    struct cf_branch_pass *bp = run->branches;
    cf_status st = CF_OK;
    for (size_t i = 0; bp && i < bp->end_fx.n && st == CF_OK; i++) {
        const cf_effect *x = &bp->end_fx.items[i];
        st = cf_effects_publish(to, x->wf_class, x->key, x->queue, x->kwargs, x->due_ms);
    }
    if (bp)
        cf_effects_deinit(&bp->end_fx);
    return st;
}

const char *cf_branch_unmerged(cf_run *run)
{
    struct cf_branch_pass *bp = run->branches;
    for (size_t i = 0; bp && i < bp->nopen; i++)
        if (!bp->open[i].merged)
            return bp->open[i].name;
    return NULL;
}

/* ---- helpers ---- */

static opened *find_open(struct cf_branch_pass *bp, const char *name)
{
    for (size_t i = 0; i < bp->nopen; i++)
        if (strcmp(bp->open[i].name, name) == 0)
            return &bp->open[i];
    return NULL;
}

static change *change_of(cf_run *run, struct cf_branch_pass *bp, const char *name)
{
    for (size_t i = 0; i < bp->nchg; i++)
        if (strcmp(bp->chg[i].name, name) == 0)
            return &bp->chg[i];
    if (cf_grow(&bp->chg, &bp->chg_cap, bp->nchg, sizeof *bp->chg, 4) != 0)
        return NULL;
    change *c = &bp->chg[bp->nchg];
    *c = (change){.name = cf_arena_strdup(&run->arena, name)};
    if (!c->name)
        return NULL;
    bp->nchg++;
    return c;
}

/* check refuses what a pass cannot honour (after a halt, inside a step, a bad name) and writes
 * "<prim>$<name>" into step. Returns CF_FLOW_OK to go on. */
static cf_flow check(cf_run *run, const char *prim, const char *name, char *step, size_t cap)
{
    if (run->halt != CF_HALT_NONE)
        return CF_FLOW_HALT;
    if (run->in_step)
        return cf_fail(run, "Workflow.NestedPrimitive",
                       "%s('%s') was called inside a step; primitives belong in the workflow "
                       "function",
                       prim, name ? name : "");
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > NAME_MAX_LEN || strchr(name, '$') || strchr(name, ','))
        return cf_fail(run, "Workflow.InvalidStepName",
                       "%s name '%s' must be 1-%d bytes without '$' or ','", prim, name ? name : "",
                       NAME_MAX_LEN);
    if (step)
        snprintf(step, cap, "%s$%s", prim, name);
    return CF_FLOW_OK;
}

static cf_flow oom(cf_run *run)
{
    return cf_run_abandon(run, CF_ERR_NOMEM);
}

/* ---- cf_branch ---- */

cf_flow cf_branch(cf_run *run, const char *name, cf_step_fn body, void *arg,
                  const cf_branch_opts *opts)
{
    char step[256];
    CF_TRY(check(run, "branch", name, step, sizeof step));
    struct cf_branch_pass *bp = pass_of(run);
    if (!bp)
        return oom(run);
    if (!body)
        return cf_fail(run, "Branch.Invalid", "branch('%s') needs a body", name);
    if (bp->current)
        return cf_fail(run, "Branch.Nested", "branch('%s') was opened inside branch('%s')", name,
                       bp->current);
    if (!find_open(bp, name)) {
        if (cf_grow(&bp->open, &bp->open_cap, bp->nopen, sizeof *bp->open, 4) != 0)
            return oom(run);
        const char *copy = cf_arena_strdup(&run->arena, name);
        if (!copy)
            return oom(run);
        bp->open[bp->nopen++] = (opened){.name = copy};
    }
    cf_run_step *s = cf_run_step_find(run, step);
    if (s && cf_step_state_done(s->state))
        return CF_FLOW_OK; /* sealed: the body never runs again */
    bp->current = find_open(bp, name)->name;
    bp->cur_opts = opts;
    cf_flow f = body(run, arg);
    bp->current = NULL;
    bp->cur_opts = NULL;
    if (f != CF_FLOW_OK || run->halt != CF_HALT_NONE)
        return f == CF_FLOW_OK ? CF_FLOW_HALT : f;
    /* Seal: the step completes and the branch row turns sealed in the same commit. */
    s = cf_run_step_find(run, step);
    change *c = change_of(run, bp, name);
    if (!c)
        return oom(run);
    c->seal = true;
    cf_status st = cf_run_note_step(run, step, CF_STEP_COMPLETED, s ? s->attempts + 1 : 1,
                                    s ? s->metadata : NULL, NULL, NULL);
    return st == CF_OK ? CF_FLOW_OK : cf_run_abandon(run, st);
}

/* ---- spawns ---- */

typedef struct spawn_ctx {
    cf_run *run;
    struct cf_branch_pass *bp;
    const char *name;
    const cf_spawn_opts *opts;
    char step[256]; /* branch$<current> */
} spawn_ctx;

static cf_flow spawn_begin(cf_run *run, const char *prim, const char *name,
                           const cf_spawn_opts *opts, spawn_ctx *sc)
{
    CF_TRY(check(run, prim, name, NULL, 0));
    struct cf_branch_pass *bp = run->branches;
    if (!bp || !bp->current)
        return cf_fail(run, "Branch.NotInBranch", "%s('%s') must be called inside a branch's body",
                       prim, name);
    *sc = (spawn_ctx){.run = run, .bp = bp, .name = name, .opts = opts};
    if (!sc->opts && bp->cur_opts)
        sc->opts = bp->cur_opts->spawn;
    snprintf(sc->step, sizeof sc->step, "branch$%s", bp->current);
    return CF_FLOW_OK;
}

/* add_kid queues child index (< 0: none) of spawn sc->name for the next commit. */
static cf_flow add_kid(spawn_ctx *sc, int64_t index, const char *wf_class, const char *kw_json)
{
    cf_run *run = sc->run;
    struct cf_branch_pass *bp = sc->bp;
    char key[KEY_MAX_LEN + 2];
    int len = index < 0 ? snprintf(key, sizeof key, "%s$%s$%s", run->row.key, bp->current, sc->name)
                        : snprintf(key, sizeof key, "%s$%s$%s_%lld", run->row.key, bp->current,
                                   sc->name, (long long)index);
    if (len < 0 || len > KEY_MAX_LEN)
        return cf_fail(run, "Branch.KeyTooLong",
                       "child key of spawn '%s' in branch '%s' would be %d bytes (limit %d)",
                       sc->name, bp->current, len, KEY_MAX_LEN);
    size_t cl = wf_class ? strlen(wf_class) : 0;
    if (cl == 0 || cl > 128)
        return cf_fail(run, "Branch.InvalidChild",
                       "spawn '%s' item %lld has no class (1-128 bytes)", sc->name,
                       (long long)index);
    json_error_t jerr;
    json_t *kw = kw_json ? json_loads(kw_json, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!json_is_object(kw)) {
        json_decref(kw);
        return cf_fail(run, "Branch.InvalidChild",
                       "spawn '%s' item %lld: kwargs must be a JSON object", sc->name,
                       (long long)index);
    }
    const cf_workflow_def *def = cf_registry_find(wf_class);
    const char *queue = sc->opts && sc->opts->queue        ? sc->opts->queue
                        : def && def->queue && *def->queue ? def->queue
                                                           : "default";
    if (cf_grow(&bp->kids, &bp->kids_cap, bp->nkids, sizeof *bp->kids, 64) != 0) {
        json_decref(kw);
        return oom(run);
    }
    kid *k = &bp->kids[bp->nkids];
    *k = (kid){.wf_class = cf_strdup(wf_class),
               .key = cf_strdup(key),
               .queue = cf_strdup(queue),
               .kwargs = kw};
    bp->nkids++; /* counted now so that kids_clear frees a partial one */
    if (!k->wf_class || !k->key || !k->queue)
        return oom(run);
    bp->kids_branch = bp->current;
    return CF_FLOW_OK;
}

/* commit_batch records cursor value n for spawn sc->name in the branch step's metadata and
 * commits it with the queued children. */
static cf_flow commit_batch(spawn_ctx *sc, int64_t n)
{
    cf_run *run = sc->run;
    cf_run_step *s = cf_run_step_find(run, sc->step);
    json_t *meta = s && json_is_object(s->metadata) ? json_deep_copy(s->metadata) : json_object();
    json_t *cursors = json_object_get(meta, "cursors");
    if (meta && !json_is_object(cursors)) {
        cursors = json_object();
        json_object_set_new(meta, "cursors", cursors);
    }
    if (!meta || !cursors || json_object_set_new(cursors, sc->name, json_integer(n)) != 0) {
        json_decref(meta);
        return oom(run);
    }
    cf_status st =
        cf_run_note_step(run, sc->step, CF_STEP_PENDING, s ? s->attempts : 1, meta, NULL, NULL);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    return cf_run_flush(run) == CF_OK ? CF_FLOW_OK : CF_FLOW_HALT;
}

static int64_t cursor_of(spawn_ctx *sc)
{
    cf_run_step *s = cf_run_step_find(sc->run, sc->step);
    json_t *v = s ? json_object_get(json_object_get(s->metadata, "cursors"), sc->name) : NULL;
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

cf_flow cf_spawn(cf_run *run, const char *name, const char *wf_class, const char *kwargs_json,
                 const cf_spawn_opts *opts)
{
    spawn_ctx sc;
    CF_TRY(spawn_begin(run, "spawn", name, opts, &sc));
    if (cursor_of(&sc) >= 1)
        return CF_FLOW_OK; /* dispatched by an earlier pass */
    cf_flow f = add_kid(&sc, -1, wf_class, kwargs_json);
    if (f != CF_FLOW_OK) {
        kids_clear(sc.bp);
        return f;
    }
    return commit_batch(&sc, 1);
}

cf_flow cf_spawn_each(cf_run *run, const char *name, int64_t count, cf_item_fn item, void *arg,
                      const cf_spawn_opts *opts)
{
    spawn_ctx sc;
    CF_TRY(spawn_begin(run, "spawn_each", name, opts, &sc));
    if (!item || count < 0)
        return cf_fail(run, "Branch.Invalid", "spawn_each('%s') needs an item function and a count",
                       name);
    int64_t batch = sc.opts && sc.opts->batch > 0 ? sc.opts->batch : DEFAULT_BATCH;
    if (batch > MAX_BATCH)
        batch = MAX_BATCH;
    for (int64_t i = cursor_of(&sc); i < count;) {
        if (run->stopping && atomic_load(run->stopping))
            return cf_run_halt(run, CF_HALT_WAKE, cf_run_now(run)); /* the cursor is durable */
        int64_t end = i + batch < count ? i + batch : count;
        for (int64_t j = i; j < end; j++) {
            const char *cls = NULL, *kw = NULL;
            run->in_step = true; /* no primitive from inside the item function */
            run->failed = false;
            cf_flow f = item(run, arg, j, &cls, &kw);
            run->in_step = false;
            if (f == CF_FLOW_OK)
                f = add_kid(&sc, j, cls, kw);
            if (f != CF_FLOW_OK || run->halt != CF_HALT_NONE) {
                kids_clear(sc.bp); /* nothing of this batch was committed */
                return f == CF_FLOW_OK ? CF_FLOW_HALT : f;
            }
        }
        CF_TRY(commit_batch(&sc, end));
        i = end;
    }
    return CF_FLOW_OK;
}

/* ---- merge ---- */

static int64_t meta_int(const json_t *meta, const char *key)
{
    json_t *v = json_object_get(meta, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* merge_done completes the merge step and marks its branches merged (same commit). */
static cf_flow merge_done(cf_run *run, const char *step, cf_run_step *s, json_t *meta,
                          const char *const *names, size_t n)
{
    struct cf_branch_pass *bp = run->branches;
    for (size_t i = 0; i < n; i++) {
        change *c = change_of(run, bp, names[i]);
        if (!c) {
            json_decref(meta);
            return oom(run);
        }
        c->merged = true;
        find_open(bp, names[i])->merged = true;
    }
    cf_status st =
        cf_run_note_step(run, step, CF_STEP_COMPLETED, s ? s->attempts + 1 : 1, meta, NULL, NULL);
    json_decref(meta);
    return st == CF_OK ? CF_FLOW_OK : cf_run_abandon(run, st);
}

/* merge_error records the merge step failed with an error and halts as kind says. */
static cf_flow merge_error(cf_run *run, const char *step, cf_run_step *s, json_t *meta,
                           cf_halt_kind kind, const char *cls, const char *msg)
{
    int attempts = s ? s->attempts + 1 : 1;
    cf_status st = cf_run_note_error(run, step, attempts, cls, msg);
    if (st == CF_OK)
        st = cf_run_note_step(run, step, CF_STEP_FAILED, attempts, meta, cls, msg);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    cf_logkv(CF_LOG_ERROR, &run->log, "event=merge_failed", "%s: %s", step, msg);
    return cf_run_halt(run, kind, 0);
}

cf_flow cf_merge(cf_run *run, const char *name, const char *const *names, size_t n,
                 const cf_merge_opts *opts)
{
    char step[256];
    CF_TRY(check(run, "merge", name, step, sizeof step));
    struct cf_branch_pass *bp = run->branches;
    if (n == 0 || !names)
        return cf_fail(run, "Branch.Invalid", "merge('%s') names no branch", name);
    for (size_t i = 0; i < n; i++)
        if (!names[i] || !bp || !find_open(bp, names[i]))
            return cf_fail(run, "Branch.Unknown",
                           "merge('%s'): branch '%s' was not opened before it in this pass", name,
                           names[i] ? names[i] : "");
    cf_run_step *s = cf_run_step_find(run, step);
    if (s && cf_step_state_done(s->state)) {
        for (size_t i = 0; i < n; i++)
            find_open(bp, names[i])->merged = true;
        return CF_FLOW_OK;
    }
    /* The seals (and children) of this pass must be durable before the branch rows are read. */
    if (cf_run_flush(run) != CF_OK)
        return CF_FLOW_HALT;
    if (!run->store.branch_get)
        return cf_run_abandon(run, CF_ERR_STATE);
    cf_merge_on_trouble on = opts ? opts->on_trouble : CF_MERGE_WAIT;
    bool all_done = true;
    int64_t spawned = 0, troubled = 0;
    for (size_t i = 0; i < n; i++) {
        cf_branch_row b;
        cf_status st =
            run->store.branch_get(run->store.impl, run->row.id, names[i], on != CF_MERGE_WAIT, &b);
        if (st != CF_OK)
            return cf_run_abandon(run, st);
        spawned += b.spawned;
        bool sealed = b.state == CF_BRANCH_SEALED || b.state == CF_BRANCH_MERGED;
        int64_t trouble = b.by_state[CF_WF_STALLED] + b.by_state[CF_WF_FAILED];
        if (sealed && b.remaining == 0)
            continue;
        if (sealed && on != CF_MERGE_WAIT && b.remaining == trouble) {
            troubled += trouble; /* every unfinished child stalled or failed */
            continue;
        }
        all_done = false;
    }
    json_t *meta = s && json_is_object(s->metadata) ? json_deep_copy(s->metadata) : json_object();
    if (!meta)
        return oom(run);
    int64_t now = cf_run_now(run);
    if (all_done) {
        json_object_set_new(meta, "spawned", json_integer(spawned));
        json_object_set_new(meta, "not_completed", json_integer(troubled));
        if (troubled > 0 && on == CF_MERGE_FAIL) {
            char msg[256];
            snprintf(msg, sizeof msg, "%lld children of merge '%s' stalled or failed",
                     (long long)troubled, name);
            return merge_error(run, step, s, meta, CF_HALT_FAIL, "Branch.ChildFailed", msg);
        }
        return merge_done(run, step, s, meta, names, n);
    }
    int64_t timeout_at = meta_int(meta, "timeout_at_ms");
    if (timeout_at == 0 && opts && opts->timeout_ms > 0) {
        timeout_at = now + opts->timeout_ms;
        json_object_set_new(meta, "timeout_at_ms", json_integer(timeout_at));
    }
    if (timeout_at > 0 && now >= timeout_at) {
        char msg[256];
        snprintf(msg, sizeof msg, "branches of merge '%s' not done within %lldms", name,
                 (long long)(opts ? opts->timeout_ms : 0));
        return merge_error(run, step, s, meta, CF_HALT_STALL, "Timeout", msg);
    }
    if (!json_object_get(meta, "waiting_since_ms"))
        json_object_set_new(meta, "waiting_since_ms", json_integer(now));
    cf_status st =
        cf_run_note_step(run, step, CF_STEP_PENDING, s ? s->attempts + 1 : 1, meta, NULL, NULL);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    int64_t wake = now + CF_MERGE_RECHECK_MS;
    cf_metrics_halt(CF_HALT_REASON_MERGE);
    return cf_run_halt(run, CF_HALT_WAKE, timeout_at > 0 && timeout_at < wake ? timeout_at : wake);
}

/* ---- outcomes ---- */

cf_flow cf_branch_outcome(cf_run *run, const char *branch, const char *spawn, int64_t index,
                          const char **state, const char **context_json)
{
    *state = "none";
    *context_json = NULL;
    if (run->halt != CF_HALT_NONE)
        return CF_FLOW_HALT;
    if (!branch || !spawn)
        return cf_fail(run, "Branch.Invalid", "branch_outcome needs a branch and a spawn name");
    char key[KEY_MAX_LEN + 2];
    int len = index < 0 ? snprintf(key, sizeof key, "%s$%s$%s", run->row.key, branch, spawn)
                        : snprintf(key, sizeof key, "%s$%s$%s_%lld", run->row.key, branch, spawn,
                                   (long long)index);
    if (len < 0 || len > KEY_MAX_LEN)
        return CF_FLOW_OK; /* no such child can exist */
    if (!run->store.wf_get)
        return cf_run_abandon(run, CF_ERR_STATE);
    cf_wf_row row;
    cf_status st = run->store.wf_get(run->store.impl, key, &row);
    if (st == CF_ERR_NOT_FOUND)
        return CF_FLOW_OK;
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    *state = cf_wf_state_name(row.state);
    char *text = row.context ? json_dumps(row.context, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    cf_wf_row_deinit(&row);
    if (text && strlen(text) > CF_BRANCH_OUTCOME_MAX) {
        free(text);
        return cf_fail(run, "Branch.OutcomeTooLarge", "the context of child %s is over %d bytes",
                       key, CF_BRANCH_OUTCOME_MAX);
    }
    *context_json = text ? cf_arena_strdup(&run->arena, text) : NULL;
    free(text);
    return CF_FLOW_OK;
}

cf_flow cf_branch_count(cf_run *run, const char *branch, cf_branch_counts *out)
{
    memset(out, 0, sizeof *out);
    if (run->halt != CF_HALT_NONE)
        return CF_FLOW_HALT;
    if (!run->store.branch_get)
        return cf_run_abandon(run, CF_ERR_STATE);
    cf_branch_row b;
    cf_status st = run->store.branch_get(run->store.impl, run->row.id, branch, true, &b);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    *out = (cf_branch_counts){.spawned = b.spawned,
                              .remaining = b.remaining,
                              .idle = b.by_state[CF_WF_IDLE],
                              .running = b.by_state[CF_WF_RUNNING],
                              .completed = b.by_state[CF_WF_COMPLETED],
                              .stalled = b.by_state[CF_WF_STALLED],
                              .failed = b.by_state[CF_WF_FAILED]};
    return CF_FLOW_OK;
}
