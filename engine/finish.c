// SPDX-License-Identifier: MIT
/* engine/finish.c: the end of a pass: outcome → write set → the effects it leaves. */
#include "engine/finish.h"

#include <string.h>

#include "engine/branch.h"
#include "engine/class_stats.h"
#include "engine/retry.h"

static cf_finish_result abandoned(cf_run *run)
{
    return (cf_finish_result){.end = run->abandon_status == CF_ERR_CONFLICT ? CF_PASS_CONFLICT
                                                                            : CF_PASS_STORE_ERROR,
                              .abandoned = true,
                              .abandon_status = run->abandon_status};
}

/* await_recheck: a pass that halted awaiting a signal committed; a signal sent while it ran,
 * after it looked, would otherwise wait for the timeout. The store makes the workflow due now
 * when one waits (engine/signals.c); then the wake is published now. Returns the due time. */
static int64_t await_recheck(cf_run *run, int64_t wake_at_ms)
{
    if (run->await_name == NULL || run->store.signal_recheck == NULL)
        return wake_at_ms;
    bool woke = false;
    cf_status st = run->store.signal_recheck(run->store.impl, run->row.id, run->await_name, &woke);
    if (st != CF_OK)
        cf_logkv(CF_LOG_WARN, &run->log, "event=signal_recheck_failed",
                 "cannot recheck for signal '%s' (%s); a signal sent during the pass waits for "
                 "the next wake",
                 run->await_name, cf_status_str(st));
    return woke ? cf_run_now(run) : wake_at_ms;
}

static cf_finish_result commit_outcome(cf_run *run, cf_ws_outcome outcome, int64_t wake_at_ms,
                                       int attempt, json_t *retry_counts)
{
    if (cf_run_finish(run, outcome, wake_at_ms, attempt, retry_counts) != CF_OK)
        return abandoned(run);
    cf_finish_result r = {.end = CF_PASS_COMPLETED};
    const cf_wf_row *w = &run->row;
    cf_status st = CF_OK;
    switch (outcome) {
    case CF_WS_HALT:
        r.end = CF_PASS_HALTED;
        wake_at_ms = await_recheck(run, wake_at_ms);
        if (wake_at_ms > 0)
            st = cf_effects_publish(&r.effects, w->wf_class, w->key, w->queue, NULL, wake_at_ms);
        break;
    case CF_WS_COMPLETE:
    case CF_WS_CONTINUE:
        r.end = CF_PASS_COMPLETED;
        break;
    case CF_WS_STALL:
        r.end = CF_PASS_STALLED;
        break;
    case CF_WS_FAIL:
        r.end = CF_PASS_FAILED;
        break;
    case CF_WS_CANCELLED:
        r.end = CF_PASS_CANCELLED;
        break;
    }
    if (run->cancel_seen && outcome != CF_WS_CONTINUE && outcome != CF_WS_CANCELLED) {
        /* The row carried a cancel request: the store left it cancelling, due now. Its
         * continuation due now replaces any later one (the earliest wins): on_cancel runs. */
        cf_logkv(CF_LOG_INFO, &run->log, "event=cancelled",
                 "pass ended by a cancel (requested by %s); on_cancel runs next",
                 run->row.cancel_by[0] ? run->row.cancel_by : "a client");
        cf_effects_deinit(&r.effects);
        r.end = CF_PASS_CANCELLED;
        st = cf_effects_publish(&r.effects, w->wf_class, w->key, w->queue, NULL, cf_run_now(run));
    } else if (outcome != CF_WS_HALT) {
        st = cf_effects_remove(&r.effects, w->wf_class, w->key, w->queue);
    }
    if (st == CF_OK) /* parents this commit woke, children published at the end */
        st = cf_branch_take_effects(run, &r.effects);
    if (st != CF_OK) /* the outcome is durable; Postgres's next_wake_at heals a lost wake */
        cf_logkv(CF_LOG_ERROR, &run->log, "event=oom",
                 "cannot record the effects of this pass (%s); the sweeper will publish it",
                 cf_status_str(st));
    return r;
}

void cf_finish_result_deinit(cf_finish_result *r)
{
    cf_effects_deinit(&r->effects);
}

/* workflow_error applies the workflow-level policy to an error of the body itself. */
static cf_finish_result workflow_error(cf_run *run, const char *cls, const char *msg)
{
    cf_retry_policy scratch = {0};
    const cf_retry_policy *policy = NULL;
    if (run->def->workflow_policy_fn)
        policy = run->def->workflow_policy_fn(run, &scratch);
    char why[400];
    if (policy && !cf_retry_policy_check(policy, "workflow_policy_fn()", why, sizeof why)) {
        cf_logkv(CF_LOG_ERROR, &run->log, "event=invalid_policy",
                 "%s; the registered workflow policy applies instead", why);
        policy = NULL;
    }
    if (policy == NULL)
        policy = run->def->workflow_policy ? run->def->workflow_policy : &cf_retry_workflow_default;
    int attempt = run->row.attempt + 1;
    json_t *counts = cf_run_workflow_budget(run);
    cf_retry_decision d = cf_retry_decide(policy, cls, counts);
    run->log.attempt = attempt;
    cf_finish_result r;
    if (cf_run_note_error(run, NULL, attempt, cls, msg) != CF_OK) {
        json_decref(counts);
        (void)cf_run_abandon(run, CF_ERR_NOMEM);
        return abandoned(run);
    }
    if (d.retry) {
        cf_logkv(CF_LOG_WARN, &run->log, "event=workflow_retry",
                 "workflow error (%s: %s); retry %d/%d in %lldms", cls, msg, d.budget_used + 1,
                 d.budget_max, (long long)d.delay_ms);
        r = commit_outcome(run, CF_WS_HALT, cf_run_now(run) + d.delay_ms, attempt, counts);
    } else {
        cf_logkv(CF_LOG_ERROR, &run->log, "event=workflow_failed",
                 "workflow error (%s: %s) and the workflow retry policy is exhausted; failed", cls,
                 msg);
        r = commit_outcome(run, CF_WS_FAIL, 0, attempt, counts);
    }
    json_decref(counts);
    return r;
}

/* How soon a cleanup pass whose children could not all be cancelled runs again. */
#define CASCADE_RETRY_MS 5000

/* cleanup_pass cancels the workflow's unfinished children (run->cascade), runs the class's
 * on_cancel for a workflow whose row carries a cancel request, then ends it cancelled; a step retry
 * halts it (cancelling, its continuation due then). An on_cancel step that exhausts its policy, a
 * crash loop or an error of on_cancel itself leave it cancelled with the error recorded (`requeue
 * --cleanup` runs on_cancel again). */
static cf_finish_result cleanup_pass(cf_run *run)
{
    run->cleanup = true;
    const char *why = NULL;
    char msg[200];
    cf_flow flow = CF_FLOW_OK;
    if (run->row.crash_count >= CF_CRASH_LOOP_LIMIT) {
        snprintf(msg, sizeof msg, "%d on_cancel runs in a row died without finishing",
                 run->row.crash_count);
        if (cf_run_note_error(run, NULL, run->row.attempt + 1, "Worker.CrashLoop", msg) != CF_OK)
            return abandoned(run);
        why = msg;
    } else if (run->cascade.cancel_children &&
               run->cascade.cancel_children(run->cascade.arg, run) != CF_OK) {
        cf_logkv(CF_LOG_WARN, &run->log, "event=cancel_children_failed",
                 "its children could not all be cancelled; the cleanup pass runs again in %dms",
                 CASCADE_RETRY_MS);
        return commit_outcome(run, CF_WS_HALT, cf_run_now(run) + CASCADE_RETRY_MS, -1, NULL);
    } else if (run->def->on_cancel) {
        cf_logkv(CF_LOG_INFO, &run->log, "event=on_cancel_start", "reason: %s",
                 run->row.cancel_reason[0] ? run->row.cancel_reason : "(none)");
        flow = run->def->on_cancel(run);
    }
    if (run->halt == CF_HALT_ABANDON)
        return abandoned(run);
    if (run->halt == CF_HALT_WAKE)
        return commit_outcome(run, CF_WS_HALT, run->wake_at_ms, -1, NULL);
    if (run->halt == CF_HALT_STALL || run->halt == CF_HALT_EXTERNAL)
        why = "an on_cancel step exhausted its retry policy or cannot go on";
    else if (flow != CF_FLOW_OK && !why) {
        why = run->failed ? run->fail_msg : "on_cancel returned an error without cf_fail()";
        if (cf_run_note_error(run, NULL, run->row.attempt + 1,
                              run->failed ? run->fail_class : "Workflow.Error", why) != CF_OK)
            return abandoned(run);
    }
    if (why)
        cf_logkv(CF_LOG_ERROR, &run->log, "event=cancelled",
                 "cancelled; its cleanup did not finish (%s): requeue --cleanup runs it again",
                 why);
    else
        cf_logkv(CF_LOG_INFO, &run->log, "event=cancelled", "cancelled%s",
                 run->def->on_cancel ? "; on_cancel finished" : "");
    cf_finish_result fr = commit_outcome(run, CF_WS_CANCELLED, 0, -1, NULL);
    if (fr.end == CF_PASS_CANCELLED)
        cf_class_stats_note_workflow(run->class_stats, CF_WF_EVENT_CANCELLED);
    return fr;
}

cf_finish_result cf_finish_run(cf_run *run)
{
    if (run->row.cancel_requested_at_ms > 0)
        return cleanup_pass(run);
    if (run->row.crash_count >= CF_CRASH_LOOP_LIMIT) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%d runs in a row died without finishing (segfault, abort, OOM kill?); "
                 "stalled to protect the fleet; fix the cause, then requeue",
                 run->row.crash_count);
        cf_logkv(CF_LOG_ERROR, &run->log, "event=crash_loop", "%s", msg);
        if (cf_run_note_error(run, NULL, run->row.attempt + 1, "Worker.CrashLoop", msg) != CF_OK)
            return abandoned(run);
        return commit_outcome(run, CF_WS_STALL, 0, -1, NULL);
    }
    cf_logkv(CF_LOG_DEBUG, &run->log, "event=run_start", "fence %lld", (long long)run->row.fence);
    cf_flow flow = run->def->fn(run);
    if (run->halt == CF_HALT_ABANDON)
        return abandoned(run);
    switch (run->halt) {
    case CF_HALT_WAKE:
        return commit_outcome(run, CF_WS_HALT, run->wake_at_ms, -1, NULL);
    case CF_HALT_EXTERNAL:
        return commit_outcome(run, CF_WS_HALT, 0, -1, NULL);
    case CF_HALT_STALL:
        return commit_outcome(run, CF_WS_STALL, 0, -1, NULL);
    case CF_HALT_CANCEL: /* the store leaves it cancelling, due now (commit_outcome) */
        return commit_outcome(run, CF_WS_HALT, cf_run_now(run), -1, NULL);
    case CF_HALT_FAIL:
        return commit_outcome(run, CF_WS_FAIL, 0, -1, NULL);
    case CF_HALT_ABANDON:
    case CF_HALT_NONE:
        break;
    }
    const char *unmerged = flow == CF_FLOW_OK ? cf_branch_unmerged(run) : NULL;
    if (unmerged) { /* the completion gate */
        char msg[300];
        snprintf(msg, sizeof msg, "the workflow completed with branch '%s' never merged", unmerged);
        return workflow_error(run, "Branch.Unmerged", msg);
    }
    if (flow == CF_FLOW_OK) {
        cf_logkv(CF_LOG_INFO, &run->log, "event=completed", "workflow completed");
        return commit_outcome(run, CF_WS_COMPLETE, 0, -1, NULL);
    }
    if (flow == CF_FLOW_ERROR && run->failed)
        return workflow_error(run, run->fail_class, run->fail_msg);
    return workflow_error(run, "Workflow.Error",
                          flow == CF_FLOW_HALT
                              ? "the workflow returned CF_FLOW_HALT without a primitive "
                                "halting"
                              : "the workflow returned CF_FLOW_ERROR without cf_fail()");
}
