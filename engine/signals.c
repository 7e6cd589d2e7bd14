// SPDX-License-Identifier: MIT
/* engine/signals.c: cf_await_signal (chronoforge.h), the durable await of a signal. Its step
 * `await_signal$<name>` is pending while it waits (metadata: the signal's name and, with a
 * timeout, timeout_at_ms, fixed at the first visit) and completes with the signal it consumed
 * (signal_id, payload, sent_at_ms, sender) or with timed_out. The consumption rides in the
 * same write set as the completion (cf_run_note_signal_use), so a signal is consumed by
 * exactly one await, and a replay returns the payload from the step's metadata. A pass that
 * halts waiting names the signal (run->await_name): after its commit, engine/finish.c rechecks
 * for one sent while the pass ran (docs/replay.md, "Signals"). */
#include "store/signals.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/metrics.h"
#include "engine/primitive.h"
#include "engine/run.h"

/* payload_out sets *out to the completed step's payload as compact JSON text (arena), or NULL
 * for a timed-out await. */
static cf_flow payload_out(cf_run *run, const cf_run_step *s, const char **out)
{
    json_t *p = json_object_get(s->metadata, "payload");
    if (out == NULL)
        return CF_FLOW_OK;
    *out = NULL;
    if (p == NULL || json_is_true(json_object_get(s->metadata, "timed_out")))
        return CF_FLOW_OK;
    char *text = json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return cf_run_abandon(run, CF_ERR_NOMEM);
    *out = cf_arena_strdup(&run->arena, text);
    free(text); /* jansson's allocator */
    return *out ? CF_FLOW_OK : cf_run_abandon(run, CF_ERR_NOMEM);
}

/* skip_ids lists the signal rows this pass consumed and has not committed yet. */
static int64_t *skip_ids(cf_run *run, size_t *n)
{
    *n = run->nsig_uses;
    int64_t *ids = cf_calloc(run->nsig_uses ? run->nsig_uses : 1, sizeof *ids);
    for (size_t i = 0; ids && i < run->nsig_uses; i++)
        ids[i] = run->sig_uses[i].signal_row_id;
    return ids;
}

/* next_signal reads the oldest signal `name` waiting for this workflow: CF_OK (found),
 * CF_ERR_NOT_FOUND, or a store error. A workflow the store does not know yet (a lazy run of a
 * new workflow) has none. */
static cf_status next_signal(cf_run *run, const char *name, cf_signal_row *out)
{
    memset(out, 0, sizeof *out);
    if (run->row.id <= 0 || run->store.signal_next == NULL)
        return CF_ERR_NOT_FOUND;
    size_t n;
    int64_t *ids = skip_ids(run, &n);
    if (ids == NULL)
        return CF_ERR_NOMEM;
    cf_status st = run->store.signal_next(run->store.impl, run->row.id, name, ids, n, out);
    cf_free(ids);
    return st;
}

/* consume completes the await with signal g, queuing its consumption with the completion. */
static cf_flow consume(cf_run *run, const char *step, json_t *meta, const cf_signal_row *g,
                       int attempts, const char **payload_json)
{
    json_t *payload = json_null();
    if (g->payload) {
        json_error_t jerr;
        payload = json_loads(g->payload, JSON_DECODE_ANY, &jerr);
    }
    int rc = !payload || json_object_set_new(meta, "payload", payload);
    rc = rc || json_object_set_new(meta, "signal_id", json_string(g->signal_id));
    rc = rc || json_object_set_new(meta, "sent_at_ms", json_integer(g->sent_at_ms));
    rc = rc || json_object_set_new(meta, "sender", json_string(g->sender));
    cf_status st = rc ? CF_ERR_NOMEM : cf_run_note_signal_use(run, g->id, step);
    if (st == CF_OK)
        st = cf_run_note_step(run, step, CF_STEP_COMPLETED, attempts, meta, NULL, NULL);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    cf_logkv(CF_LOG_INFO, &run->log, "event=signal_consumed", "%s took signal id %s", step,
             g->signal_id);
    return payload_out(run, cf_run_step_find(run, step), payload_json);
}

/* timed_out applies opts' timeout rule: stall with Timeout, or complete with no payload. */
static cf_flow timed_out(cf_run *run, const char *step, const char *signal_name, json_t *meta,
                         int attempts, const cf_await_opts *opts, const char **payload_json)
{
    json_object_set_new(meta, "timed_out", json_true());
    cf_status st;
    if (opts->on_timeout == CF_AWAIT_TIMEOUT_RETURN) {
        st = cf_run_note_step(run, step, CF_STEP_COMPLETED, attempts, meta, NULL, NULL);
        json_decref(meta);
        if (st != CF_OK)
            return cf_run_abandon(run, st);
        cf_logkv(CF_LOG_INFO, &run->log, "event=await_timeout",
                 "%s: no signal '%s' within %lldms; returning without one", step, signal_name,
                 (long long)opts->timeout_ms);
        return payload_out(run, cf_run_step_find(run, step), payload_json);
    }
    char msg[300];
    snprintf(msg, sizeof msg, "no signal '%s' within %lldms", signal_name,
             (long long)opts->timeout_ms);
    st = cf_run_note_error(run, step, attempts, "Timeout", msg);
    if (st == CF_OK)
        st = cf_run_note_step(run, step, CF_STEP_FAILED, attempts, meta, "Timeout", msg);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    cf_logkv(CF_LOG_ERROR, &run->log, "event=await_timeout", "%s: %s; stalling the workflow", step,
             msg);
    return cf_run_halt(run, CF_HALT_STALL, 0);
}

cf_flow cf_await_signal(cf_run *run, const char *step_name, const char *signal_name,
                        const cf_await_opts *opts, const char **payload_json)
{
    static const cf_await_opts no_timeout = {0, CF_AWAIT_TIMEOUT_STALL};
    if (payload_json)
        *payload_json = NULL;
    if (opts == NULL)
        opts = &no_timeout;
    char step[256];
    CF_TRY(cf_primitive_precheck(run, "await_signal", step_name, step, sizeof step));
    size_t nlen = signal_name ? strlen(signal_name) : 0;
    if (nlen == 0 || nlen > CF_SIGNAL_NAME_MAX || strchr(signal_name, '$') || opts->timeout_ms < 0)
        return cf_fail(run, "Workflow.InvalidArgument",
                       "await_signal('%s'): the signal name must be 1-200 bytes without '$' and "
                       "the timeout >= 0",
                       step_name);
    cf_run_step *s;
    CF_TRY(cf_primitive_lookup(run, step, &s));
    if (s && cf_step_state_done(s->state))
        return payload_out(run, s, payload_json);
    int64_t now = cf_run_now(run);
    json_t *meta = s && json_is_object(s->metadata) ? json_deep_copy(s->metadata) : json_object();
    if (meta == NULL)
        return cf_run_abandon(run, CF_ERR_NOMEM);
    json_object_set_new(meta, "signal", json_string(signal_name));
    int attempts = (s ? s->attempts : 0) + 1;
    cf_signal_row g;
    cf_status st = next_signal(run, signal_name, &g);
    if (st == CF_OK) {
        cf_flow f = consume(run, step, meta, &g, attempts, payload_json);
        cf_signal_row_deinit(&g);
        return f;
    }
    if (st != CF_ERR_NOT_FOUND) {
        json_decref(meta);
        cf_logkv(CF_LOG_ERROR, &run->log, "event=store_error", "%s: cannot read signals (%s): %s",
                 step, cf_status_str(st),
                 run->store.errstr ? run->store.errstr(run->store.impl) : "");
        return cf_run_abandon(run, st);
    }
    json_t *t = json_object_get(meta, "timeout_at_ms");
    int64_t timeout_at = json_is_integer(t) ? (int64_t)json_integer_value(t) : 0;
    if (s == NULL && opts->timeout_ms > 0) {
        timeout_at = now + opts->timeout_ms;
        json_object_set_new(meta, "timeout_at_ms", json_integer(timeout_at));
    }
    if (timeout_at > 0 && now >= timeout_at)
        return timed_out(run, step, signal_name, meta, attempts, opts, payload_json);
    st = s == NULL ? cf_run_note_step(run, step, CF_STEP_PENDING, 1, meta, NULL, NULL) : CF_OK;
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    run->await_name = cf_arena_strdup(&run->arena, signal_name);
    if (run->await_name == NULL)
        return cf_run_abandon(run, CF_ERR_NOMEM);
    cf_logkv(CF_LOG_DEBUG, &run->log, "event=await_signal", "%s waits for signal '%s'", step,
             signal_name);
    cf_metrics_halt(CF_HALT_REASON_SIGNAL);
    return timeout_at > 0 ? cf_run_halt(run, CF_HALT_WAKE, timeout_at)
                          : cf_run_halt(run, CF_HALT_EXTERNAL, 0);
}
