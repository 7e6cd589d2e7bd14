// SPDX-License-Identifier: MIT
/* tests/unit/test_replay_cancel.c: cancellation in the engine over the in-memory store (SPEC
 * §4): a cancel arriving while a step runs lets that step's completion commit, stops the body
 * before its next primitive and leaves the workflow cancelling with its continuation due now; a
 * cancel that races the body's last commit still wins; the on_cancel pass runs its steps as
 * `on_cancel$<name>` with the reason readable and ends cancelled; a cleanup step that exhausts
 * its policy ends it cancelled with its errors recorded; a class without on_cancel is cancelled
 * at once. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "tests/support/memstore.h"
#include "tests/support/test.h"

#define T0 1700000000000LL

static const cf_retry_policy two = {
    .max_attempts = 2, .base_ms = 100, .cap_ms = 100, .no_jitter = true};

static struct {
    cf_memstore *m;
    int ran[4];        /* executions of steps s1..s3 (index 1..3) */
    int cancel_in;     /* the step (1..3) during which a cancel arrives; 0: none */
    int undo_runs;     /* executions of the cleanup step */
    int undo_failures; /* the cleanup step fails on its first N executions */
    char reason[64];   /* what the cleanup read */
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

static cf_flow body_step(cf_run *run, void *arg)
{
    (void)run;
    int i = *(int *)arg;
    S.ran[i]++;
    if (S.cancel_in == i) /* the operator cancels while this step runs */
        assert_int_equal(cf_memstore_cancel(S.m, "user left"), CF_OK);
    return CF_FLOW_OK;
}

static cf_flow three_steps(cf_run *run)
{
    static int idx[] = {1, 2, 3};
    CF_TRY(cf_durably_execute(run, "s1", body_step, &idx[0], NULL));
    CF_TRY(cf_durably_execute(run, "s2", body_step, &idx[1], NULL));
    CF_TRY(cf_durably_execute(run, "s3", body_step, &idx[2], NULL));
    return CF_FLOW_OK;
}

static cf_flow undo_step(cf_run *run, void *arg)
{
    (void)arg;
    S.undo_runs++;
    snprintf(S.reason, sizeof S.reason, "%s", cf_run_cancel_reason(run));
    if (S.undo_runs <= S.undo_failures)
        return cf_fail(run, "Undo.Broken", "run %d", S.undo_runs);
    return CF_FLOW_OK;
}

static cf_flow on_cancel(cf_run *run)
{
    return cf_durably_execute(run, "undo", undo_step, NULL, NULL);
}

static const cf_workflow_def def = {
    .name = "Cancellable", .fn = three_steps, .on_cancel = on_cancel, .step_policy = &two};

static cf_flow wait_body(cf_run *run)
{
    CF_TRY(cf_wait(run, "nap", 3600000));
    return CF_FLOW_OK;
}

static const cf_workflow_def plain_def = {.name = "Plain", .fn = wait_body};

/* pass runs one pass at the workflow's wake time; returns how it ended and its single effect. */
static cf_pass_end pass(const cf_workflow_def *d, cf_effect_kind *kind, int64_t *due)
{
    if (S.m->wf.next_wake_at_ms > S.m->now_ms)
        S.m->now_ms = S.m->wf.next_wake_at_ms;
    cf_finish_result fin;
    assert_int_equal(cf_memstore_pass(S.m, d, &fin), CF_OK);
    assert_int_equal(fin.effects.n, 1);
    *kind = fin.effects.items[0].kind;
    *due = fin.effects.items[0].due_ms;
    cf_pass_end end = fin.end;
    cf_finish_result_deinit(&fin);
    return end;
}

static void test_replay_cancel_during_a_step_commits_it_and_stops(void **state)
{
    cf_memstore *m = *state;
    S.cancel_in = 2;
    cf_effect_kind kind;
    int64_t due;
    assert_int_equal(pass(&def, &kind, &due), CF_PASS_CANCELLED);
    assert_int_equal(kind, CF_EFFECT_PUBLISH); /* its on_cancel pass, due now */
    assert_int_equal(due, m->now_ms);
    assert_int_equal(m->wf.state, CF_WF_CANCELLING);
    assert_int_equal(S.ran[2], 1);
    assert_int_equal(cf_memstore_step(m, "durably_execute$s2")->state, CF_STEP_COMPLETED);
    assert_int_equal(S.ran[3], 0); /* nothing after the step in progress */
    assert_null(cf_memstore_step(m, "durably_execute$s3"));
    assert_null(cf_memstore_step(m, "$workflow_completion$"));

    assert_int_equal(pass(&def, &kind, &due), CF_PASS_CANCELLED);
    assert_int_equal(kind, CF_EFFECT_REMOVE);
    assert_int_equal(m->wf.state, CF_WF_CANCELLED);
    assert_int_equal(cf_memstore_step(m, "on_cancel$undo")->state, CF_STEP_COMPLETED);
    assert_string_equal(S.reason, "user left");
    assert_int_equal(S.ran[1] + S.ran[2] + S.ran[3], 2); /* the body never ran again */
    assert_int_not_equal(m->wf.completed_at_ms, 0);
}

static void test_replay_cancel_during_the_last_step_wins_over_completion(void **state)
{
    cf_memstore *m = *state;
    S.cancel_in = 3; /* its completion and the workflow's end ride in one commit */
    cf_effect_kind kind;
    int64_t due;
    assert_int_equal(pass(&def, &kind, &due), CF_PASS_CANCELLED);
    assert_int_equal(kind, CF_EFFECT_PUBLISH);
    assert_int_equal(m->wf.state, CF_WF_CANCELLING);
    assert_int_equal(cf_memstore_step(m, "durably_execute$s3")->state, CF_STEP_COMPLETED);
    assert_int_equal(pass(&def, &kind, &due), CF_PASS_CANCELLED);
    assert_int_equal(m->wf.state, CF_WF_CANCELLED);
    assert_int_equal(S.undo_runs, 1);
}

static void test_replay_cleanup_exhausting_its_policy_ends_cancelled(void **state)
{
    cf_memstore *m = *state;
    S.cancel_in = 1;
    S.undo_failures = 5;
    cf_effect_kind kind;
    int64_t due;
    assert_int_equal(pass(&def, &kind, &due), CF_PASS_CANCELLED);
    /* attempt 1 fails: a retry under the step policy, cancelling and due after the backoff */
    assert_int_equal(pass(&def, &kind, &due), CF_PASS_HALTED);
    assert_int_equal(kind, CF_EFFECT_PUBLISH);
    assert_int_equal(due, m->now_ms + 100);
    assert_int_equal(m->wf.state, CF_WF_CANCELLING);
    /* attempt 2 fails: the policy is exhausted; cancelled, the errors recorded */
    assert_int_equal(pass(&def, &kind, &due), CF_PASS_CANCELLED);
    assert_int_equal(kind, CF_EFFECT_REMOVE);
    assert_int_equal(m->wf.state, CF_WF_CANCELLED);
    assert_int_equal(cf_memstore_errors_of(m, "on_cancel$undo"), 2);
    assert_int_equal(cf_memstore_step(m, "on_cancel$undo")->state, CF_STEP_FAILED);
    assert_int_equal(S.ran[2], 0);
}

static void test_replay_cancel_of_an_idle_workflow_without_on_cancel(void **state)
{
    cf_memstore *m = *state;
    cf_effect_kind kind;
    int64_t due;
    assert_int_equal(pass(&plain_def, &kind, &due), CF_PASS_HALTED); /* waiting an hour */
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(cf_memstore_cancel(m, ""), CF_OK);
    assert_int_equal(m->wf.state, CF_WF_CANCELLING);
    assert_int_equal(m->wf.next_wake_at_ms, m->now_ms);
    assert_int_equal(cf_memstore_cancel(m, "again"), CF_ERR_STATE); /* already accepted */
    assert_int_equal(pass(&plain_def, &kind, &due), CF_PASS_CANCELLED);
    assert_int_equal(kind, CF_EFFECT_REMOVE);
    assert_int_equal(m->wf.state, CF_WF_CANCELLED);
    assert_int_equal(cf_memstore_step(m, "wait$nap")->state, CF_STEP_PENDING);
    assert_int_equal(cf_memstore_pass(m, &plain_def, NULL), CF_ERR_STATE); /* terminal */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_replay_cancel_during_a_step_commits_it_and_stops),
        T(test_replay_cancel_during_the_last_step_wins_over_completion),
        T(test_replay_cleanup_exhausting_its_policy_ends_cancelled),
        T(test_replay_cancel_of_an_idle_workflow_without_on_cancel),
    };
#undef T
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("replay_cancel", tests, NULL, NULL);
}
