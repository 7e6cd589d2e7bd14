// SPDX-License-Identifier: MIT
/* tests/unit/test_replay_primitives.c: the decision table of every primitive, replayed pass
 * after pass over the in-memory store (tests/support/memstore.h) with a clock the test moves:
 * wait due / not due and the R-9 early wake; wait_until met / not met / timeout / error under a
 * policy; continue_if met / not met / error; step retry budgets, composite (or_else) routing,
 * a requeue giving the failed step a fresh budget; a step state this release does not know; a
 * fence that moved mid-pass. */
#include <string.h>

#include <jansson.h>

#include "common/metrics.h"
#include "engine/retry.h"
#include "tests/support/memstore.h"
#include "tests/support/test.h"

#define T0 1700000000000LL

/* What the test's steps and conditions do, and what they saw. */
static struct {
    int calls;              /* executions of the step / evaluations of the condition */
    int fail_times;         /* the next this many calls fail ... */
    const char *fail_class; /* ... with this class (NULL: "Test.Error") */
    const char *classes[8]; /* or, when set, call i fails with classes[i] (NULL: succeeds) */
    bool met;               /* what the condition answers */
    int after_calls;        /* executions of the step after the primitive under test */
    cf_memstore *m;         /* for the step that moves the fence */
} S;

static int setup(void **state)
{
    static cf_memstore m;
    memset(&S, 0, sizeof S);
    cf_memstore_init(&m, T0);
    S.m = &m;
    *state = &m;
    return 0;
}

static int teardown(void **state)
{
    cf_memstore_deinit(*state);
    return 0;
}

static cf_flow scripted(cf_run *run)
{
    int i = S.calls++;
    const char *cls = i < 8 ? S.classes[i] : NULL;
    if (cls)
        return cf_fail(run, cls, "call %d fails", i + 1);
    if (S.fail_times > 0) {
        S.fail_times--;
        return cf_fail(run, S.fail_class ? S.fail_class : "Test.Error", "call %d fails", i + 1);
    }
    return CF_FLOW_OK;
}

static cf_flow step_fn(cf_run *run, void *arg)
{
    (void)arg;
    return scripted(run);
}

static cf_flow cond_fn(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    cf_flow f = scripted(run);
    *met = S.met;
    return f;
}

static cf_flow after_fn(cf_run *run, void *arg)
{
    (void)run;
    (void)arg;
    S.after_calls++;
    return CF_FLOW_OK;
}

static cf_flow then_after(cf_run *run, cf_flow f)
{
    CF_TRY(f);
    return cf_durably_execute(run, "after", after_fn, NULL, NULL);
}

static int64_t meta_int(const cf_step_row *r, const char *k)
{
    return json_integer_value(json_object_get(r->metadata, k));
}

static int64_t budget(const cf_step_row *r, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(r->metadata, "retry_counts"), k));
}

static void pass(cf_memstore *m, const cf_workflow_def *def)
{
    assert_int_equal(cf_memstore_pass(m, def, NULL), CF_OK);
}

/* ---- wait ---- */

static cf_flow wait_body(cf_run *run)
{
    return then_after(run, cf_wait(run, "cool", 10000));
}
static const cf_workflow_def wait_def = {.name = "Wait", .fn = wait_body};

static void test_replay_wait_not_due_halts_due_completes(void **state)
{
    cf_memstore *m = *state;
    pass(m, &wait_def);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 10000);
    const cf_step_row *w = cf_memstore_step(m, "wait$cool");
    assert_int_equal(w->state, CF_STEP_PENDING);
    assert_int_equal(meta_int(w, "wait_until_ms"), T0 + 10000);
    assert_int_equal(S.after_calls, 0);
    assert_string_equal(m->wf.locked_by, ""); /* released */

    m->now_ms = T0 + 10000; /* due */
    pass(m, &wait_def);
    assert_int_equal(cf_memstore_step(m, "wait$cool")->state, CF_STEP_COMPLETED);
    assert_int_equal(S.after_calls, 1);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_non_null(cf_memstore_step(m, "$workflow_completion$"));
}

/* a wait woken early halts only until its recorded target, never a whole duration more. */
static void test_replay_wait_woken_early_halts_until_recorded_target(void **state)
{
    cf_memstore *m = *state;
    pass(m, &wait_def);
    m->now_ms = T0 + 4000; /* an early or duplicate wake */
    pass(m, &wait_def);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 10000); /* not T0 + 14000 */
    assert_int_equal(meta_int(cf_memstore_step(m, "wait$cool"), "wait_until_ms"), T0 + 10000);
    m->now_ms = T0 + 9999;
    pass(m, &wait_def);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 10000);
    assert_int_equal(S.after_calls, 0);
    m->now_ms = T0 + 10001; /* a late wake completes */
    pass(m, &wait_def);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(S.after_calls, 1);
}

static cf_flow wait0_body(cf_run *run)
{
    return then_after(run, cf_wait(run, "none", 0));
}

static void test_replay_wait_of_zero_completes_in_the_same_pass(void **state)
{
    cf_memstore *m = *state;
    static const cf_workflow_def def = {.name = "Wait0", .fn = wait0_body};
    pass(m, &def);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(cf_memstore_step(m, "wait$none")->state, CF_STEP_COMPLETED);
    assert_int_equal(S.after_calls, 1);
}

/* ---- wait_until ---- */

static const cf_retry_policy two_tries = {
    .max_attempts = 2, .base_ms = 100, .cap_ms = 100, .no_jitter = true};

static cf_flow until_body(cf_run *run)
{
    return then_after(run, cf_wait_until(run, "ready", cond_fn, NULL, 60000, 15000, NULL));
}
static const cf_workflow_def until_def = {.name = "Until", .fn = until_body};

static cf_flow until_policy_body(cf_run *run)
{
    return then_after(run, cf_wait_until(run, "ready", cond_fn, NULL, 60000, 15000, &two_tries));
}
static const cf_workflow_def until_policy_def = {.name = "UntilP", .fn = until_policy_body};

static void test_replay_wait_until_met_completes(void **state)
{
    cf_memstore *m = *state;
    S.met = true;
    pass(m, &until_def);
    const cf_step_row *r = cf_memstore_step(m, "wait_until$ready");
    assert_int_equal(r->state, CF_STEP_COMPLETED);
    assert_true(json_is_true(json_object_get(r->metadata, "result")));
    assert_null(r->error_class); /* a completed row carries no error */
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(S.after_calls, 1);
}

static void test_replay_wait_until_not_met_polls_then_times_out(void **state)
{
    cf_memstore *m = *state;
    S.met = false;
    pass(m, &until_def);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 15000); /* the next check */
    const cf_step_row *r = cf_memstore_step(m, "wait_until$ready");
    assert_int_equal(r->state, CF_STEP_PENDING);
    assert_int_equal(meta_int(r, "timeout_at_ms"), T0 + 60000);
    m->now_ms = T0 + 50000; /* the next check would pass the deadline: capped at it */
    pass(m, &until_def);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 60000);
    m->now_ms = T0 + 60000; /* deadline, still not met */
    pass(m, &until_def);
    r = cf_memstore_step(m, "wait_until$ready");
    assert_int_equal(r->state, CF_STEP_FAILED);
    assert_string_equal(r->error_class, "Timeout");
    assert_string_equal(json_string_value(json_object_get(r->metadata, "result")), "timed_out");
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(cf_memstore_errors_of(m, "wait_until$ready"), 1);
    assert_int_equal(S.calls, 3); /* one evaluation per pass */
    assert_int_equal(S.after_calls, 0);
}

static void test_replay_wait_until_error_without_policy_stalls(void **state)
{
    cf_memstore *m = *state;
    S.fail_times = 1;
    pass(m, &until_def);
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(cf_memstore_step(m, "wait_until$ready")->state, CF_STEP_FAILED);
    assert_int_equal(cf_memstore_errors_of(m, "wait_until$ready"), 1);
}

static void test_replay_wait_until_error_retried_under_its_policy(void **state)
{
    cf_memstore *m = *state;
    S.fail_times = 2;
    pass(m, &until_policy_def);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 100); /* the policy's backoff */
    const cf_step_row *r = cf_memstore_step(m, "wait_until$ready");
    assert_int_equal(r->state, CF_STEP_PENDING);
    assert_int_equal(budget(r, "*"), 1);
    m->now_ms = T0 + 100;
    pass(m, &until_policy_def); /* the second error exhausts 2 attempts */
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(cf_memstore_step(m, "wait_until$ready")->attempts, 2);

    /* the same policy, an error then a met condition: completes */
    cf_memstore_deinit(m);
    cf_memstore_init(m, T0);
    memset(&S, 0, sizeof S);
    S.fail_times = 1;
    S.met = true;
    pass(m, &until_policy_def);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    m->now_ms = T0 + 100;
    pass(m, &until_policy_def);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(S.after_calls, 1);
}

/* ---- continue_if ---- */

static cf_flow cont_body(cf_run *run)
{
    return then_after(run, cf_continue_if(run, "paid", cond_fn, NULL));
}
static const cf_workflow_def cont_def = {.name = "Cont", .fn = cont_body};

static void test_replay_continue_if_not_met_idles_then_met_completes(void **state)
{
    cf_memstore *m = *state;
    S.met = false;
    uint64_t halts = cf_metrics_g.halts[CF_HALT_REASON_CONTINUE_IF];
    pass(m, &cont_def);
    assert_int_equal(cf_metrics_g.halts[CF_HALT_REASON_CONTINUE_IF], halts + 1); /* /metrics */
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, 0); /* nothing scheduled: an enqueue wakes it */
    assert_int_equal(cf_memstore_step(m, "continue_if$paid")->state, CF_STEP_PENDING);
    S.met = true;
    pass(m, &cont_def);
    assert_int_equal(cf_memstore_step(m, "continue_if$paid")->state, CF_STEP_COMPLETED);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(S.calls, 2);
    assert_int_equal(S.after_calls, 1);
}

static void test_replay_continue_if_error_stalls(void **state)
{
    cf_memstore *m = *state;
    S.fail_times = 1;
    pass(m, &cont_def);
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(cf_memstore_step(m, "continue_if$paid")->state, CF_STEP_FAILED);
    assert_int_equal(cf_memstore_errors_of(m, "continue_if$paid"), 1);
    assert_int_equal(S.after_calls, 0);
}

/* ---- durably_execute: budgets, composite policies, requeue ---- */

static cf_flow exec_body(cf_run *run)
{
    return then_after(run, cf_durably_execute(run, "charge", step_fn, NULL, NULL));
}
static const cf_workflow_def exec_def = {.name = "Exec", .fn = exec_body};

static void test_replay_step_default_budget_three_executions_then_stall(void **state)
{
    cf_memstore *m = *state;
    S.fail_times = 3;
    pass(m, &exec_def);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    int64_t wake = m->wf.next_wake_at_ms;
    assert_in_range(wake, T0 + 500, T0 + 1000); /* base 1 s with equal jitter */
    m->now_ms = wake;
    pass(m, &exec_def);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    m->now_ms = m->wf.next_wake_at_ms;
    pass(m, &exec_def);
    const cf_step_row *r = cf_memstore_step(m, "durably_execute$charge");
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(r->state, CF_STEP_FAILED);
    assert_int_equal(r->attempts, 3);
    assert_int_equal(budget(r, "*"), 3);
    assert_int_equal(cf_memstore_errors_of(m, "durably_execute$charge"), 3);
    assert_int_equal(S.calls, 3);
    assert_int_equal(S.after_calls, 0);
    /* a plain delivery does not run a stalled workflow */
    assert_int_equal(cf_memstore_pass(m, &exec_def, NULL), CF_ERR_STATE);
    assert_int_equal(S.calls, 3);
}

static void test_replay_step_success_after_a_retry_is_not_run_again(void **state)
{
    cf_memstore *m = *state;
    S.fail_times = 1;
    pass(m, &exec_def);
    m->now_ms = m->wf.next_wake_at_ms;
    pass(m, &exec_def);
    const cf_step_row *r = cf_memstore_step(m, "durably_execute$charge");
    assert_int_equal(r->state, CF_STEP_COMPLETED);
    assert_int_equal(r->attempts, 2);
    assert_null(r->error_class);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(S.calls, 2);
}

static const char *const net_on[] = {"Net", NULL};
static const char *const api_on[] = {"Api", NULL};
static const cf_retry_policy api_once = {
    .max_attempts = 2, .base_ms = 50, .cap_ms = 50, .no_jitter = true, .retry_on = api_on};
static const cf_retry_policy net_first = {.max_attempts = 3,
                                          .base_ms = 10,
                                          .cap_ms = 1000,
                                          .no_jitter = true,
                                          .retry_on = net_on,
                                          .or_else = &api_once};

static cf_flow composite_body(cf_run *run)
{
    return then_after(run, cf_durably_execute(run, "call", step_fn, NULL, &net_first));
}
static const cf_workflow_def composite_def = {.name = "Composite", .fn = composite_body};

static void test_replay_composite_policy_routes_by_class_with_own_budgets(void **state)
{
    cf_memstore *m = *state;
    S.classes[0] = "Net.Timeout";
    S.classes[1] = "Api.Busy";
    S.classes[2] = "Net.Reset";
    S.classes[3] = "Api.Busy"; /* Api's second: its budget (2) is spent */
    pass(m, &composite_def);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 10); /* Net: base 10 */
    m->now_ms = T0 + 10;
    pass(m, &composite_def);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 10 + 50); /* Api: its own base, first use */
    m->now_ms += 50;
    pass(m, &composite_def);
    assert_int_equal(m->wf.next_wake_at_ms, m->now_ms + 20); /* Net's second: 20 */
    m->now_ms += 20;
    pass(m, &composite_def);
    const cf_step_row *r = cf_memstore_step(m, "durably_execute$call");
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(budget(r, "Net"), 2);
    assert_int_equal(budget(r, "Api"), 2);
    assert_int_equal(r->attempts, 4);
}

static void test_replay_composite_class_no_policy_matches_stalls_at_once(void **state)
{
    cf_memstore *m = *state;
    S.classes[0] = "Disk.Full";
    pass(m, &composite_def);
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(cf_memstore_step(m, "durably_execute$call")->attempts, 1);
}

/* A requeue (cf_memstore_requeue, as cf_store_requeue does for a retry_workflow delivery) gives
 * the failed step a fresh budget; attempts keep counting; the wake is then a plain pass. */
static void test_replay_requeue_resets_the_failed_step_budget(void **state)
{
    cf_memstore *m = *state;
    S.fail_times = 5;
    for (int i = 0; i < 3; i++) {
        pass(m, &exec_def);
        m->now_ms = m->wf.next_wake_at_ms ? m->wf.next_wake_at_ms : m->now_ms;
    }
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(budget(cf_memstore_step(m, "durably_execute$charge"), "*"), 3);

    /* A plain delivery does not run it; a requeue makes it idle with a fresh budget. */
    assert_int_equal(cf_memstore_pass(m, &exec_def, NULL), CF_ERR_STATE);
    assert_int_equal(cf_memstore_requeue(m), CF_OK);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, m->now_ms); /* due now */
    const cf_step_row *r = cf_memstore_step(m, "durably_execute$charge");
    assert_null(json_object_get(r->metadata, "retry_counts"));
    assert_int_equal(r->attempts, 3);
    char mark[64];
    snprintf(mark, sizeof mark, "$workflow_retry$%lld", (long long)m->now_ms);
    assert_non_null(cf_memstore_step(m, mark));
    assert_int_equal(cf_memstore_requeue(m), CF_OK); /* the same request again: no change */
    assert_int_equal(m->wf.state, CF_WF_IDLE);

    pass(m, &exec_def); /* the requeued workflow's wake: a plain begin */
    r = cf_memstore_step(m, "durably_execute$charge");
    assert_int_equal(r->attempts, 4);          /* attempt numbers keep counting */
    assert_int_equal(budget(r, "*"), 1);       /* a fresh budget: this failure is its first */
    assert_int_equal(m->wf.state, CF_WF_IDLE); /* so it is retried, not stalled again */
    assert_true(m->wf.next_wake_at_ms > m->now_ms);
    m->now_ms = m->wf.next_wake_at_ms;
    pass(m, &exec_def); /* 5th failure: the new budget's second */
    m->now_ms = m->wf.next_wake_at_ms;
    pass(m, &exec_def); /* 6th call succeeds */
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(cf_memstore_step(m, "durably_execute$charge")->attempts, 6);
    assert_int_equal(S.after_calls, 1);
    m->now_ms++;
    assert_int_equal(cf_memstore_requeue(m), CF_ERR_STATE); /* completed: not resumable */
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
}

/* ---- what the engine refuses to go past ---- */

static void test_replay_unknown_step_state_is_never_executed(void **state)
{
    cf_memstore *m = *state;
    S.fail_times = 1;
    uint64_t retries = cf_metrics_g.halts[CF_HALT_REASON_RETRY];
    uint64_t unknown = cf_metrics_g.halts[CF_HALT_REASON_UNKNOWN_STATE];
    pass(m, &exec_def); /* leaves a pending step row */
    assert_int_equal(cf_metrics_g.halts[CF_HALT_REASON_RETRY], retries + 1);
    cf_step_row *r = &m->steps.rows[0];
    assert_string_equal(r->name, "durably_execute$charge");
    r->state = CF_STEP_UNKNOWN; /* as rows.c parses a newer release's state */
    int attempts = r->attempts;
    m->now_ms = m->wf.next_wake_at_ms;
    pass(m, &exec_def);
    assert_int_equal(S.calls, 1); /* not executed again */
    assert_int_equal(r->state, CF_STEP_UNKNOWN);
    assert_int_equal(r->attempts, attempts);
    assert_int_equal(m->wf.state, CF_WF_IDLE); /* halted, released, looks again later */
    assert_true(m->wf.next_wake_at_ms > m->now_ms);
    assert_int_equal(S.after_calls, 0);
    assert_int_equal(cf_metrics_g.halts[CF_HALT_REASON_UNKNOWN_STATE], unknown + 1);
}

static cf_flow takeover_fn(cf_run *run, void *arg)
{
    (void)run;
    (void)arg;
    S.m->wf.fence++; /* another run took the workflow over meanwhile */
    return CF_FLOW_OK;
}

static cf_flow takeover_body(cf_run *run)
{
    CF_TRY(cf_durably_execute(run, "slow", takeover_fn, NULL, NULL));
    return cf_durably_execute(run, "after", after_fn, NULL, NULL);
}

static void test_replay_fence_moved_mid_pass_writes_nothing_more(void **state)
{
    cf_memstore *m = *state;
    static const cf_workflow_def def = {.name = "Takeover", .fn = takeover_body};
    cf_finish_result fin;
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    assert_true(fin.abandoned);
    assert_int_equal(fin.abandon_status, CF_ERR_CONFLICT);
    assert_null(cf_memstore_step(m, "durably_execute$slow")); /* its completion was refused */
    assert_int_equal(S.after_calls, 0);                       /* and nothing ran after it */
    assert_int_equal(m->wf.state, CF_WF_RUNNING);             /* the new owner's */
    cf_finish_result_deinit(&fin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_replay_wait_not_due_halts_due_completes),
        T(test_replay_wait_woken_early_halts_until_recorded_target),
        T(test_replay_wait_of_zero_completes_in_the_same_pass),
        T(test_replay_wait_until_met_completes),
        T(test_replay_wait_until_not_met_polls_then_times_out),
        T(test_replay_wait_until_error_without_policy_stalls),
        T(test_replay_wait_until_error_retried_under_its_policy),
        T(test_replay_continue_if_not_met_idles_then_met_completes),
        T(test_replay_continue_if_error_stalls),
        T(test_replay_step_default_budget_three_executions_then_stall),
        T(test_replay_step_success_after_a_retry_is_not_run_again),
        T(test_replay_composite_policy_routes_by_class_with_own_budgets),
        T(test_replay_composite_class_no_policy_matches_stalls_at_once),
        T(test_replay_requeue_resets_the_failed_step_budget),
        T(test_replay_unknown_step_state_is_never_executed),
        T(test_replay_fence_moved_mid_pass_writes_nothing_more),
#undef T
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
