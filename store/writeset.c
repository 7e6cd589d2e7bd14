// SPDX-License-Identifier: MIT
/* store/writeset.c: validates a run's requests (run begin, write set) and turns each into one
 * compact JSON object, an element of the array parameter of CF_SQL_RUN_BEGINS or
 * CF_SQL_WRITE_SETS (store/sql.c names the keys). Runs on the caller's thread, so the JSON
 * encoding of many runs happens in parallel, outside the writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "store/context.h"
#include "store/writer.h"

static const char *const outcome_names[] = {
    [CF_WS_CONTINUE] = "continue", [CF_WS_HALT] = "halt", [CF_WS_COMPLETE] = "complete",
    [CF_WS_STALL] = "stall",       [CF_WS_FAIL] = "fail", [CF_WS_CANCELLED] = "cancelled",
};

static cf_status invalid(cf_op *op, const char *msg, const char *detail)
{
    snprintf(op->err, sizeof op->err, "%s%s%.120s", msg, detail ? ": " : "", detail ? detail : "");
    return CF_ERR_INVALID;
}

/* Makes op->obj, the compact text of o (consumed); CF_ERR_NOMEM when o is NULL. */
static cf_status finish_obj(cf_op *op, json_t *o, int rc)
{
    if (o && rc == 0)
        op->obj = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!op->obj)
        return CF_ERR_NOMEM;
    op->obj_len = strlen(op->obj);
    return CF_OK;
}

/* A borrowed object, or a new {} for NULL. */
static json_t *obj_or_empty(json_t *v)
{
    return v ? json_incref(v) : json_object();
}

static bool valid_text(const char *s, size_t max)
{
    return s && *s && strlen(s) <= max;
}

/* start_row_op fills what a begin and a lazy begin's read share (the request, where the row
 * goes) and checks the workflow's identity; what names the request in the message. */
static cf_status start_row_op(cf_op *op, cf_op_kind kind, const cf_run_begin_args *a,
                              cf_wf_row *out, const char *what)
{
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->begin = a;
    op->begin_out = out;
    if (!valid_text(a->wf_class, 128) || !valid_text(a->key, 256)) {
        snprintf(op->err, sizeof op->err, "%s needs a class (1-128 bytes) and a key (1-256 bytes)",
                 what);
        return CF_ERR_INVALID;
    }
    return CF_OK;
}

cf_status cf_op_encode_begin(cf_op *op, const cf_run_begin_args *a, cf_wf_row *out)
{
    cf_status st = start_row_op(op, CF_OP_BEGIN, a, out, "run begin");
    if (st != CF_OK)
        return st;
    if (!valid_text(a->lock_value, 159))
        return invalid(op, "run begin needs a lock value (1-159 bytes)", NULL);
    if (a->queue && !valid_text(a->queue, 64))
        return invalid(op, "queue name must be 1-64 bytes", NULL);
    if ((a->kwargs && !json_is_object(a->kwargs)) || (a->options && !json_is_object(a->options)))
        return invalid(op, "kwargs and options must be JSON objects", NULL);
    json_t *o = json_object();
    int rc = !o || json_object_set_new(o, "c", json_string(a->wf_class));
    rc = rc || json_object_set_new(o, "k", json_string(a->key));
    rc = rc || json_object_set_new(o, "q", json_string(a->queue ? a->queue : "default"));
    rc = rc || json_object_set_new(o, "kw", obj_or_empty(a->kwargs));
    rc = rc || json_object_set_new(o, "op", obj_or_empty(a->options));
    rc = rc || json_object_set_new(o, "l", json_string(a->lock_value));
    rc = rc || json_object_set_new(o, "me", json_boolean(a->must_exist));
    rc = rc || (a->crashed && json_object_set_new(o, "cr", json_true()));
    return finish_obj(op, o, rc);
}

cf_status cf_op_encode_peek(cf_op *op, const cf_run_begin_args *a, cf_wf_row *out)
{
    cf_status st = start_row_op(op, CF_OP_PEEK, a, out, "a read");
    if (st != CF_OK)
        return st;
    json_t *o = json_pack("{ssss}", "c", a->wf_class, "k", a->key);
    return finish_obj(op, o, 0);
}

static bool is_marker(const char *name)
{
    return strncmp(name, "$workflow_completion$", 21) == 0 ||
           strncmp(name, "$workflow_failure$", 18) == 0;
}

/* Epoch ms as a JSON integer, or leaves the key out when 0. */
static int set_ms(json_t *o, const char *k, int64_t ms)
{
    return ms > 0 ? json_object_set_new(o, k, json_integer(ms)) : 0;
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

static cf_status encode_steps(cf_op *op, const cf_write_set *ws, json_t *obj)
{
    if (ws->nsteps == 0)
        return CF_OK;
    json_t *arr = json_array();
    if (!arr)
        return CF_ERR_NOMEM;
    cf_status st = CF_OK;
    for (size_t i = 0; i < ws->nsteps && st == CF_OK; i++) {
        const cf_ws_step *s = &ws->steps[i];
        if (!s->name || !*s->name || is_marker(s->name)) {
            st = invalid(op, "step name empty or a $workflow_ marker", s->name);
            break;
        }
        if (s->state == CF_STEP_UNKNOWN || s->state >= CF_STEP_STATE_COUNT) {
            st = invalid(op, "step state must be pending, completed or failed", s->name);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(ws->steps[j].name, s->name) == 0)
                st = invalid(op, "step named twice in one write set", s->name);
        if (st != CF_OK)
            break;
        json_t *o = json_object();
        int rc = !o || json_array_append_new(arr, o);
        rc = rc || json_object_set_new(o, "name", json_string(s->name));
        rc = rc || json_object_set_new(o, "state", json_string(cf_step_state_name(s->state)));
        rc = rc || json_object_set_new(o, "attempts", json_integer(s->attempts));
        rc = rc || (s->metadata && json_object_set(o, "metadata", s->metadata));
        rc = rc || set_ms(o, "started_ms", s->started_at_ms);
        rc = rc || set_ms(o, "last_ms", s->last_executed_at_ms);
        rc = rc || set_ms(o, "completed_ms", s->completed_at_ms);
        rc = rc || set_str(o, "error_class", s->error_class);
        rc = rc || set_str(o, "error_message", s->error_message);
        if (rc)
            st = CF_ERR_NOMEM;
    }
    if (st == CF_OK && json_object_set(obj, "st", arr) != 0)
        st = CF_ERR_NOMEM;
    json_decref(arr);
    return st;
}

static cf_status encode_errors(cf_op *op, const cf_write_set *ws, json_t *obj)
{
    if (ws->nerrors == 0)
        return CF_OK;
    json_t *arr = json_array();
    if (!arr)
        return CF_ERR_NOMEM;
    cf_status st = CF_OK;
    for (size_t i = 0; i < ws->nerrors && st == CF_OK; i++) {
        const cf_ws_error *e = &ws->errors[i];
        if (!e->error_class || !*e->error_class || e->attempt < 1) {
            st = invalid(op, "an error needs a class and a 1-based attempt", e->error_class);
            break;
        }
        json_t *snap = NULL;
        const json_t *src = e->context ? e->context : ws->context;
        if (src) {
            snap = cf_context_snapshot(src, CF_CONTEXT_SNAPSHOT_MAX);
            if (!snap) {
                st = CF_ERR_NOMEM;
                break;
            }
        }
        json_t *o = json_object();
        int rc = !o || json_array_append_new(arr, o);
        rc = rc || set_str(o, "step_name", e->step_name);
        rc = rc || json_object_set_new(o, "attempt", json_integer(e->attempt));
        rc = rc || set_str(o, "error_class", e->error_class);
        rc = rc || set_str(o, "message", e->message);
        rc = rc || set_str(o, "backtrace", e->backtrace);
        rc = rc || (snap && json_object_set(o, "context", snap));
        json_decref(snap);
        if (rc)
            st = CF_ERR_NOMEM;
    }
    if (st == CF_OK && json_object_set(obj, "er", arr) != 0)
        st = CF_ERR_NOMEM;
    json_decref(arr);
    return st;
}

/* encode_prune adds rp, a repeat's old tick rows to delete (CF_SQL_WRITE_SETS), when asked. */
static cf_status encode_prune(cf_op *op, const cf_ws_repeat_prune *p, json_t *obj)
{
    if (p == NULL)
        return CF_OK;
    bool ok = p->prefix && strncmp(p->prefix, "durably_repeat$", 15) == 0 && p->before_ms >= 0;
    const char *name = ok ? p->prefix + 15 : ""; /* after "durably_repeat$": "<name>$" */
    size_t n = strlen(name);
    if (!ok || n < 2 || name[n - 1] != '$' || memchr(name, '$', n - 1))
        return invalid(op, "a repeat prune needs a \"durably_repeat$<name>$\" prefix and a time",
                       p->prefix);
    json_t *o = json_pack("{sssI}", "p", p->prefix, "b", (json_int_t)p->before_ms);
    if (o == NULL || json_object_set_new(obj, "rp", o) != 0)
        return CF_ERR_NOMEM;
    return CF_OK;
}

/* encode_branches adds "br": [{n, sl, mg, kids: [{c, k, q, kw}]}] (BRANCH_CTES in
 * store/sql.c). */
static cf_status encode_branches(cf_op *op, const cf_write_set *ws, json_t *obj)
{
    if (ws->nbranches == 0)
        return CF_OK;
    if (!ws->branches)
        return invalid(op, "write set branches malformed", NULL);
    json_t *arr = json_array();
    if (!arr || json_object_set_new(obj, "br", arr) != 0)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < ws->nbranches; i++) {
        const cf_ws_branch *b = &ws->branches[i];
        if (!valid_text(b->name, 200) || (b->nchildren && !b->children))
            return invalid(op, "a branch change needs a name (1-200 bytes)", b->name);
        json_t *kids = json_array();
        if (!kids)
            return CF_ERR_NOMEM;
        for (size_t j = 0; j < b->nchildren; j++) {
            const cf_ws_child *c = &b->children[j];
            if (!valid_text(c->wf_class, 128) || !valid_text(c->key, 256) ||
                !valid_text(c->queue, 64) || !json_is_object(c->kwargs)) {
                json_decref(kids);
                return invalid(op, "a child needs a class, key, queue and kwargs object", c->key);
            }
            if (json_array_append_new(kids, json_pack("{sssssssO}", "c", c->wf_class, "k", c->key,
                                                      "q", c->queue, "kw", c->kwargs)) != 0) {
                json_decref(kids);
                return CF_ERR_NOMEM;
            }
        }
        /* "o" hands kids over to the new object, also when the pack fails */
        json_t *o =
            json_pack("{sssbsbso}", "n", b->name, "sl", b->seal, "mg", b->merged, "kids", kids);
        if (!o || json_array_append_new(arr, o) != 0)
            return CF_ERR_NOMEM;
    }
    return CF_OK;
}

/* encode_signal_uses adds "sg": [{id, by}], the signals the write set's awaits consume. */
static cf_status encode_signal_uses(cf_op *op, const cf_write_set *ws, json_t *obj)
{
    if (ws->nsignal_uses == 0)
        return CF_OK;
    if (!ws->signal_uses)
        return invalid(op, "write set signal uses malformed", NULL);
    json_t *arr = json_array();
    int rc = !arr;
    for (size_t i = 0; !rc && i < ws->nsignal_uses; i++) {
        const cf_ws_signal_use *u = &ws->signal_uses[i];
        if (u->signal_row_id <= 0 || !valid_text(u->step_name, 256)) {
            json_decref(arr);
            return invalid(op, "a signal use needs a signal row id and an await step", NULL);
        }
        rc = json_array_append_new(
            arr, json_pack("{sIss}", "id", (json_int_t)u->signal_row_id, "by", u->step_name));
    }
    if (rc) {
        json_decref(arr);
        return CF_ERR_NOMEM;
    }
    return json_object_set_new(obj, "sg", arr) ? CF_ERR_NOMEM : CF_OK; /* arr stolen either way */
}

cf_status cf_op_encode_commit(cf_op *op, const cf_write_set *ws)
{
    memset(op, 0, sizeof *op);
    op->kind = CF_OP_COMMIT;
    op->workflow_id = ws->workflow_id;
    op->lazy = ws->lazy;
    op->cancel_out = ws->cancel_out;
    if (op->cancel_out)
        *op->cancel_out = false;
    op->full = ws->nbranches > 0 || ws->child || ws->repeat_prune || ws->nsignal_uses > 0;
    op->wake = ws->wake_out;
    if (op->wake)
        op->wake->set = false;
    const cf_ws_lazy *lz = ws->lazy;
    if (lz && (!valid_text(lz->wf_class, 128) || !valid_text(lz->key, 256) ||
               !valid_text(lz->lock_value, 159) || (lz->queue && !valid_text(lz->queue, 64)) ||
               lz->fence_read < 0 || (lz->kwargs && !json_is_object(lz->kwargs)) ||
               (lz->options && !json_is_object(lz->options))))
        return invalid(op, "lazy begin needs a class, key, lock value and fence read", NULL);
    if ((!lz || lz->fence_read > 0) && (ws->workflow_id <= 0 || (!lz && ws->fence <= 0)))
        return invalid(op, "write set needs the workflow id and fence of its run", NULL);
    if ((unsigned)ws->outcome > CF_WS_CANCELLED)
        return invalid(op, "unknown write-set outcome", NULL);
    if (ws->nsteps > CF_WS_MAX_STEPS || (ws->nsteps && !ws->steps) || (ws->nerrors && !ws->errors))
        return invalid(op, "write set steps/errors malformed or over the limit", NULL);
    if (ws->outcome == CF_WS_FAIL && ws->nerrors == 0)
        return invalid(op, "a FAIL write set needs at least one error", NULL);
    if (ws->context && !json_is_object(ws->context))
        return invalid(op, "context must be a JSON object", NULL);
    if (ws->retry_counts && !json_is_object(ws->retry_counts))
        return invalid(op, "retry_counts must be a JSON object", NULL);
    json_t *o = json_object();
    int rc = !o || json_object_set_new(o, "id",
                                       json_integer(lz && !lz->fence_read ? 0 : ws->workflow_id));
    rc = rc || json_object_set_new(o, "f", json_integer(lz ? lz->fence_read + 1 : ws->fence));
    if (lz) { /* the lazy begin, made by CF_SQL_WRITE_SETS by compare-and-set */
        rc = rc || json_object_set_new(o, "lz", json_true());
        rc = rc || json_object_set_new(o, "c", json_string(lz->wf_class));
        rc = rc || json_object_set_new(o, "k", json_string(lz->key));
        rc = rc || json_object_set_new(o, "q", json_string(lz->queue ? lz->queue : "default"));
        rc = rc || json_object_set_new(o, "kw", obj_or_empty(lz->kwargs));
        rc = rc || json_object_set_new(o, "op", obj_or_empty(lz->options));
        rc = rc || json_object_set_new(o, "l", json_string(lz->lock_value));
        rc = rc || json_object_set_new(o, "lf", json_integer(lz->fence_read));
    }
    rc = rc || json_object_set_new(o, "o", json_string(outcome_names[ws->outcome]));
    rc = rc || (ws->outcome == CF_WS_HALT &&
                json_object_set_new(o, "wk", json_integer(ws->next_wake_at_ms)));
    rc = rc || json_object_set_new(o, "a", json_integer(ws->attempt < 0 ? -1 : ws->attempt));
    rc = rc || (ws->context && json_object_set(o, "ctx", ws->context));
    rc = rc || (ws->retry_counts && json_object_set(o, "rc", ws->retry_counts));
    cf_status st = rc ? CF_ERR_NOMEM : CF_OK;
    if (st == CF_OK)
        st = encode_prune(op, ws->repeat_prune, o);
    if (st == CF_OK)
        st = encode_steps(op, ws, o);
    if (st == CF_OK)
        st = encode_errors(op, ws, o);
    if (st == CF_OK)
        st = encode_branches(op, ws, o);
    if (st == CF_OK)
        st = encode_signal_uses(op, ws, o);
    if (st != CF_OK) {
        json_decref(o);
        return st;
    }
    return finish_obj(op, o, 0);
}

void cf_op_deinit(cf_op *op)
{
    free(op->obj); /* json_dumps allocates with jansson's allocator (malloc) */
    op->obj = NULL;
}
