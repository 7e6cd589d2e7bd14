// SPDX-License-Identifier: MIT
/* engine/primitives.c: the durable primitives of chronoforge.h (durably_execute, wait,
 * wait_until, continue_if): each looks up its step, skips it when completed, and otherwise
 * runs, records or halts. Semantics: docs/replay.md; the Ruby gem's bugs are
 * avoided here (attempts count executions, waits re-schedule only the remainder, completed
 * rows carry no error). */
#include "engine/primitives.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "engine/class_stats.h"
#include "engine/primitive.h"
#include "engine/retry.h"
#include "engine/run.h"

#define STEP_NAME_MAX CF_STEP_NAME_MAX

/* How long a pass that met a step state this release does not know waits before it looks again
 * (by then a newer worker may have taken the workflow on). */
#define UNKNOWN_STATE_RECHECK_MS 60000

/* precheck refuses calls a pass cannot honour: after a halt, from inside a step, or with a
 * name that is empty, too long or contains '$'. Returns CF_FLOW_OK to go on. */
static cf_flow precheck(cf_run *run, const char *prim, const char *name, char *step, size_t cap)
{
    if (run->halt != CF_HALT_NONE)
        return CF_FLOW_HALT; /* the workflow ignored an earlier CF_FLOW_HALT: keep stopping */
    if (run->cancel_seen && !run->cleanup)
        return cf_run_halt(run, CF_HALT_CANCEL, 0); /* cancelled: nothing after it runs */
    if (run->in_step)
        return cf_fail(run, "Workflow.NestedPrimitive",
                       "%s('%s') was called inside a step; primitives belong in the workflow "
                       "function",
                       prim, name ? name : "");
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > STEP_NAME_MAX || strchr(name, '$'))
        return cf_fail(run, "Workflow.InvalidStepName",
                       "%s name '%s' must be 1-%d bytes without '$'", prim, name ? name : "",
                       STEP_NAME_MAX);
    if (run->cleanup) /* on_cancel's steps, apart from the body's (SPEC §4) */
        snprintf(step, cap, "on_cancel$%s", name);
    else
        snprintf(step, cap, "%s$%s", prim, name);
    return CF_FLOW_OK;
}

/* lookup finds the step's row. A state this release does not know (a newer release wrote it,
 * during a rolling deploy) is never executed past: the pass halts there, writing nothing of the
 * step, and looks again later. Returns CF_FLOW_OK to go on. */
static cf_flow lookup(cf_run *run, const char *step, cf_run_step **out)
{
    *out = cf_run_step_find(run, step);
    if (*out == NULL || (*out)->state != CF_STEP_UNKNOWN)
        return CF_FLOW_OK;
    cf_logkv(CF_LOG_WARN, &run->log, "event=unknown_step_state",
             "%s has a state this release does not know (written by a newer release?); halting "
             "the pass there for %dms",
             step, UNKNOWN_STATE_RECHECK_MS);
    cf_metrics_halt(CF_HALT_REASON_UNKNOWN_STATE);
    return cf_run_halt(run, CF_HALT_WAKE, cf_run_now(run) + UNKNOWN_STATE_RECHECK_MS);
}

static bool is_completed(const cf_run_step *s)
{
    return s && cf_step_state_done(s->state);
}

/* metadata_copy returns an owned deep copy of the step's metadata, or a new object. */
static json_t *metadata_copy(const cf_run_step *s)
{
    return s && json_is_object(s->metadata) ? json_deep_copy(s->metadata) : json_object();
}

static int64_t meta_int(json_t *meta, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(meta, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *fail_class(cf_run *run)
{
    return run->failed ? run->fail_class : "Workflow.Error";
}

static const char *fail_message(cf_run *run)
{
    return run->failed ? run->fail_msg : "returned CF_FLOW_ERROR/CF_FLOW_HALT without cf_fail()";
}

/* step_error handles an error of a step or condition: counts it against policy, records the
 * error row and the step row, and halts to retry later or to stall. meta is consumed. */
static cf_flow step_error(cf_run *run, const char *step, int attempts, json_t *meta,
                          const cf_retry_policy *policy)
{
    const char *cls = fail_class(run), *msg = fail_message(run);
    json_t *counts = json_object_get(meta, "retry_counts");
    if (!json_is_object(counts)) {
        counts = json_object();
        json_object_set_new(meta, "retry_counts", counts);
    }
    cf_retry_decision d = cf_retry_decide(policy, cls, counts);
    cf_status st = cf_run_note_error(run, step, attempts, cls, msg);
    if (st == CF_OK)
        st = cf_run_note_step(run, step, d.retry ? CF_STEP_PENDING : CF_STEP_FAILED, attempts, meta,
                              cls, msg);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    run->log.attempt = attempts;
    if (d.retry) {
        cf_logkv(CF_LOG_WARN, &run->log, "event=step_retry",
                 "%s failed (%s: %s); retry %d/%d in %lldms", step, cls, msg, d.budget_used + 1,
                 d.budget_max, (long long)d.delay_ms);
        cf_metrics_halt(CF_HALT_REASON_RETRY);
        return cf_run_halt(run, CF_HALT_WAKE, cf_run_now(run) + d.delay_ms);
    }
    cf_logkv(CF_LOG_ERROR, &run->log, "event=step_exhausted",
             "%s failed (%s: %s) and its retry policy is exhausted%s; %s", step, cls, msg,
             d.budget_key[0] ? "" : " (no policy matches the class)",
             run->cleanup ? "the cleanup ends there" : "stalling the workflow");
    if (strncmp(step, "durably_execute$", 16) == 0) /* the attempts histogram's steps */
        cf_class_stats_note_attempts(run->class_stats, attempts);
    return cf_run_halt(run, CF_HALT_STALL, 0);
}

/* policy_refused checks a per-call policy (cf_retry_policy_check). One that makes no sense is
 * never used: the step is recorded failed with Workflow.InvalidPolicy, without running, and the
 * workflow stalls until the code is fixed and the workflow requeued. Returns CF_FLOW_OK to go
 * on. */
static cf_flow policy_refused(cf_run *run, const char *step, const cf_run_step *s,
                              const cf_retry_policy *policy)
{
    char why[400];
    if (cf_retry_policy_check(policy, "policy", why, sizeof why))
        return CF_FLOW_OK;
    int attempts = s ? s->attempts : 0; /* nothing executed */
    cf_status st =
        cf_run_note_error(run, step, attempts > 0 ? attempts : 1, "Workflow.InvalidPolicy", why);
    if (st == CF_OK)
        st = cf_run_note_step(run, step, CF_STEP_FAILED, attempts, NULL, "Workflow.InvalidPolicy",
                              why);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    cf_logkv(CF_LOG_ERROR, &run->log, "event=invalid_policy",
             "%s was given a retry policy that makes no sense (%s); stalling the workflow", step,
             why);
    return cf_run_halt(run, CF_HALT_STALL, 0);
}

/* begin_execution: shutdown check, then make every earlier write durable before user code
 * with outside effects runs. Returns CF_FLOW_OK to go on. */
static cf_flow begin_execution(cf_run *run)
{
    if (run->stopping && atomic_load(run->stopping)) {
        cf_metrics_halt(CF_HALT_REASON_SHUTDOWN);
        return cf_run_halt(run, CF_HALT_WAKE, cf_run_now(run));
    }
    if (cf_run_flush(run) != CF_OK)
        return CF_FLOW_HALT;
    if (run->cancel_seen && !run->cleanup) /* that commit learnt of a cancel */
        return cf_run_halt(run, CF_HALT_CANCEL, 0);
    return CF_FLOW_OK;
}

cf_flow cf_durably_execute(cf_run *run, const char *name, cf_step_fn fn, void *arg,
                           const cf_retry_policy *policy)
{
    char step[256];
    CF_TRY(precheck(run, "durably_execute", name, step, sizeof step));
    cf_run_step *s;
    CF_TRY(lookup(run, step, &s));
    if (is_completed(s))
        return CF_FLOW_OK;
    CF_TRY(policy_refused(run, step, s, policy));
    CF_TRY(begin_execution(run));
    int attempts = (s ? s->attempts : 0) + 1;
    run->in_step = true;
    run->attempt = attempts;
    run->failed = false;
    int64_t t0 = cf_clock_mono_us();
    cf_flow f = fn(run, arg);
    cf_class_stats_note_step(run->class_stats, f == CF_FLOW_OK, cf_clock_mono_us() - t0);
    run->in_step = false;
    if (run->halt == CF_HALT_ABANDON)
        return CF_FLOW_HALT;
    if (f == CF_FLOW_OK) {
        cf_class_stats_note_attempts(run->class_stats, attempts);
        cf_status st = cf_run_note_step(run, step, CF_STEP_COMPLETED, attempts, NULL, NULL, NULL);
        return st == CF_OK ? CF_FLOW_OK : cf_run_abandon(run, st);
    }
    s = cf_run_step_find(run, step);
    if (policy == NULL)
        policy = run->def->step_policy ? run->def->step_policy : &cf_retry_step_default;
    return step_error(run, step, attempts, metadata_copy(s), policy);
}

cf_flow cf_wait(cf_run *run, const char *name, int64_t duration_ms)
{
    char step[256];
    CF_TRY(precheck(run, "wait", name, step, sizeof step));
    cf_run_step *s;
    CF_TRY(lookup(run, step, &s));
    if (is_completed(s))
        return CF_FLOW_OK;
    int64_t now = cf_run_now(run);
    cf_status st;
    if (s == NULL) {
        int64_t target = now + (duration_ms > 0 ? duration_ms : 0);
        json_t *meta = json_pack("{sI}", "wait_until_ms", (json_int_t)target);
        if (meta == NULL)
            return cf_run_abandon(run, CF_ERR_NOMEM);
        st = cf_run_note_step(run, step, target <= now ? CF_STEP_COMPLETED : CF_STEP_PENDING, 1,
                              meta, NULL, NULL);
        json_decref(meta);
        if (st != CF_OK)
            return cf_run_abandon(run, st);
        if (target <= now)
            return CF_FLOW_OK;
        cf_metrics_halt(CF_HALT_REASON_WAIT);
        return cf_run_halt(run, CF_HALT_WAKE, target);
    }
    /* The target was fixed at the first visit; an early or duplicate wake waits only for the
     * remainder. */
    int64_t target = meta_int(s->metadata, "wait_until_ms", now);
    if (now < target) {
        cf_metrics_halt(CF_HALT_REASON_WAIT);
        return cf_run_halt(run, CF_HALT_WAKE, target);
    }
    st = cf_run_note_step(run, step, CF_STEP_COMPLETED, s->attempts + 1, NULL, NULL, NULL);
    return st == CF_OK ? CF_FLOW_OK : cf_run_abandon(run, st);
}

/* evaluate runs a condition as a step-like call: nested primitives refused, errors captured. */
static cf_flow evaluate(cf_run *run, cf_cond_fn cond, void *arg, int attempts, bool *met)
{
    run->in_step = true;
    run->attempt = attempts;
    run->failed = false;
    *met = false;
    cf_flow f = cond(run, arg, met);
    run->in_step = false;
    return f;
}

cf_flow cf_wait_until(cf_run *run, const char *name, cf_cond_fn cond, void *arg, int64_t timeout_ms,
                      int64_t check_interval_ms, const cf_retry_policy *policy)
{
    char step[256];
    CF_TRY(precheck(run, "wait_until", name, step, sizeof step));
    cf_run_step *s;
    CF_TRY(lookup(run, step, &s));
    if (is_completed(s))
        return CF_FLOW_OK;
    CF_TRY(policy_refused(run, step, s, policy));
    if (run->stopping && atomic_load(run->stopping)) {
        cf_metrics_halt(CF_HALT_REASON_SHUTDOWN);
        return cf_run_halt(run, CF_HALT_WAKE, cf_run_now(run));
    }
    int64_t now = cf_run_now(run);
    json_t *meta = metadata_copy(s);
    if (meta == NULL)
        return cf_run_abandon(run, CF_ERR_NOMEM);
    int64_t timeout_at = meta_int(meta, "timeout_at_ms", 0);
    if (timeout_at == 0) {
        timeout_at = now + (timeout_ms > 0 ? timeout_ms : 0);
        json_object_set_new(meta, "timeout_at_ms", json_integer(timeout_at));
        json_object_set_new(meta, "check_interval_ms", json_integer(check_interval_ms));
    }
    int attempts = (s ? s->attempts : 0) + 1;
    bool met;
    cf_flow f = evaluate(run, cond, arg, attempts, &met);
    if (run->halt == CF_HALT_ABANDON) {
        json_decref(meta);
        return CF_FLOW_HALT;
    }
    if (f != CF_FLOW_OK)
        return step_error(run, step, attempts, meta, policy ? policy : &cf_retry_none);
    cf_status st;
    if (met) {
        json_object_set_new(meta, "result", json_true());
        st = cf_run_note_step(run, step, CF_STEP_COMPLETED, attempts, meta, NULL, NULL);
        json_decref(meta);
        return st == CF_OK ? CF_FLOW_OK : cf_run_abandon(run, st);
    }
    if (now >= timeout_at) {
        json_object_set_new(meta, "result", json_string("timed_out"));
        char msg[300];
        snprintf(msg, sizeof msg, "condition '%s' not met within %lldms", name,
                 (long long)timeout_ms);
        st = cf_run_note_error(run, step, attempts, "Timeout", msg);
        if (st == CF_OK)
            st = cf_run_note_step(run, step, CF_STEP_FAILED, attempts, meta, "Timeout", msg);
        json_decref(meta);
        if (st != CF_OK)
            return cf_run_abandon(run, st);
        cf_logkv(CF_LOG_ERROR, &run->log, "event=wait_timeout", "%s; stalling the workflow", msg);
        return cf_run_halt(run, CF_HALT_STALL, 0);
    }
    st = cf_run_note_step(run, step, CF_STEP_PENDING, attempts, meta, NULL, NULL);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    int64_t next = now + (check_interval_ms > 0 ? check_interval_ms : 1000);
    cf_metrics_halt(CF_HALT_REASON_WAIT);
    return cf_run_halt(run, CF_HALT_WAKE, next < timeout_at ? next : timeout_at);
}

cf_flow cf_continue_if(cf_run *run, const char *name, cf_cond_fn cond, void *arg)
{
    char step[256];
    CF_TRY(precheck(run, "continue_if", name, step, sizeof step));
    cf_run_step *s;
    CF_TRY(lookup(run, step, &s));
    if (is_completed(s))
        return CF_FLOW_OK;
    int attempts = (s ? s->attempts : 0) + 1;
    bool met;
    cf_flow f = evaluate(run, cond, arg, attempts, &met);
    if (run->halt == CF_HALT_ABANDON)
        return CF_FLOW_HALT;
    json_t *meta = metadata_copy(s);
    if (meta == NULL)
        return cf_run_abandon(run, CF_ERR_NOMEM);
    if (f != CF_FLOW_OK) /* continue_if retries nothing: an error stalls the workflow */
        return step_error(run, step, attempts, meta, &cf_retry_none);
    if (met)
        json_object_set_new(meta, "result", json_true());
    cf_status st = cf_run_note_step(run, step, met ? CF_STEP_COMPLETED : CF_STEP_PENDING, attempts,
                                    meta, NULL, NULL);
    json_decref(meta);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    if (met)
        return CF_FLOW_OK;
    cf_metrics_halt(CF_HALT_REASON_CONTINUE_IF);
    return cf_run_halt(run, CF_HALT_EXTERNAL, 0);
}

/* ---- shared with the engine's other primitives (engine/primitives.h) ---- */

cf_flow cf_prim_precheck(cf_run *run, const char *prim, const char *name, char *step, size_t cap)
{
    return precheck(run, prim, name, step, cap);
}

cf_flow cf_prim_lookup(cf_run *run, const char *step, cf_run_step **out)
{
    return lookup(run, step, out);
}

cf_flow cf_prim_begin_execution(cf_run *run)
{
    return begin_execution(run);
}

const char *cf_prim_fail_class(cf_run *run)
{
    return fail_class(run);
}

const char *cf_prim_fail_message(cf_run *run)
{
    return fail_message(run);
}

/* For the primitives kept in files of their own (engine/primitive.h). */
cf_flow cf_primitive_precheck(cf_run *run, const char *prim, const char *name, char *step,
                              size_t cap)
{
    return precheck(run, prim, name, step, cap);
}

cf_flow cf_primitive_lookup(cf_run *run, const char *step, cf_run_step **out)
{
    return lookup(run, step, out);
}
