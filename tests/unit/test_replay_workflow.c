// SPDX-License-Identifier: MIT
/* tests/unit/test_replay_workflow.c: workflow-level errors (cf_fail in the body) over the
 * in-memory store: the budget counts consecutive failed passes (SPEC §4): errors separated by
 * step completions never fail the workflow, N in a row do, and a halted pass that completed a
 * step resets it too; attempt numbers keep counting throughout. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "tests/support/memstore.h"
#include "tests/support/test.h"

#define T0 1700000000000LL

static const cf_retry_policy three = {
    .max_attempts = 3, .base_ms = 100, .cap_ms = 100, .no_jitter = true};

static struct {
    bool failed_after[16]; /* the body already failed once after step i */
    int always_fail;       /* the body fails on its way in while > 0 */
} S;

static int setup(void **state)
{
    static cf_memstore m;
    memset(&S, 0, sizeof S);
    cf_memstore_init(&m, T0);
    *state = &m;
    return 0;
}

static int teardown(void **state)
{
    cf_memstore_deinit(*state);
    return 0;
}

static cf_flow ok_step(cf_run *run, void *arg)
{
    (void)run;
    (void)arg;
    return CF_FLOW_OK;
}

/* Ten steps; after each one completes the body fails once: ten body errors, each pass making
 * progress before its error. */
static cf_flow progress_body(cf_run *run)
{
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        CF_TRY(cf_durably_execute(run, name, ok_step, NULL, NULL));
        if (!S.failed_after[i]) {
            S.failed_after[i] = true;
            return cf_fail(run, "Body.Flaky", "after %s", name);
        }
    }
    return CF_FLOW_OK;
}
static const cf_workflow_def progress_def = {
    .name = "Progress", .fn = progress_body, .workflow_policy = &three};

static void next_pass(cf_memstore *m, const cf_workflow_def *def)
{
    if (m->wf.next_wake_at_ms > m->now_ms)
        m->now_ms = m->wf.next_wake_at_ms;
    assert_int_equal(cf_memstore_pass(m, def, NULL), CF_OK);
}

static void test_replay_body_errors_separated_by_progress_never_fail(void **state)
{
    cf_memstore *m = *state;
    for (int i = 0; i < 10; i++) {
        next_pass(m, &progress_def);
        assert_int_equal(m->wf.state, CF_WF_IDLE); /* retried, never failed */
        assert_int_equal(json_integer_value(json_object_get(m->wf.retry_counts, "*")), 1);
    }
    next_pass(m, &progress_def);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(cf_memstore_errors_of(m, NULL), 10);
    assert_int_equal(m->wf.attempt, 10); /* attempt numbers keep counting */
    assert_int_equal(m->errors[9].attempt, 10);
}

static cf_flow failing_body(cf_run *run)
{
    CF_TRY(cf_durably_execute(run, "first", ok_step, NULL, NULL));
    return cf_fail(run, "Body.Broken", "always");
}
static const cf_workflow_def failing_def = {
    .name = "Failing", .fn = failing_body, .workflow_policy = &three};

static void test_replay_consecutive_body_errors_fail_the_workflow(void **state)
{
    cf_memstore *m = *state;
    next_pass(m, &failing_def); /* completes "first", then error 1 (a fresh budget) */
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    next_pass(m, &failing_def); /* error 2: no progress since */
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    next_pass(m, &failing_def); /* error 3: the budget of 3 is spent */
    assert_int_equal(m->wf.state, CF_WF_FAILED);
    assert_int_equal(cf_memstore_errors_of(m, NULL), 3);
    assert_int_equal(json_integer_value(json_object_get(m->wf.retry_counts, "*")), 3);
    char marker[64];
    snprintf(marker, sizeof marker, "$workflow_failure$%lld", (long long)m->errors[2].id);
    assert_non_null(cf_memstore_step(m, marker));
}

/* Error, then a pass that completes a step and halts in a wait, then errors again: the halted
 * pass's progress started the budget over, so max_attempts 2 is not reached. */
static const cf_retry_policy two = {
    .max_attempts = 2, .base_ms = 100, .cap_ms = 100, .no_jitter = true};

static cf_flow halting_body(cf_run *run)
{
    if (S.always_fail > 0) {
        S.always_fail--;
        return cf_fail(run, "Body.Early", "before anything");
    }
    CF_TRY(cf_durably_execute(run, "a", ok_step, NULL, NULL));
    CF_TRY(cf_wait(run, "pause", 1000));
    if (!S.failed_after[0]) {
        S.failed_after[0] = true;
        return cf_fail(run, "Body.Late", "after the wait");
    }
    return CF_FLOW_OK;
}
static const cf_workflow_def halting_def = {
    .name = "Halting", .fn = halting_body, .workflow_policy = &two};

static void test_replay_a_halted_pass_with_progress_resets_the_budget(void **state)
{
    cf_memstore *m = *state;
    S.always_fail = 1;
    next_pass(m, &halting_def); /* error 1 */
    assert_int_equal(json_integer_value(json_object_get(m->wf.retry_counts, "*")), 1);
    next_pass(m, &halting_def); /* "a" completes, the wait halts: the budget starts over */
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(json_object_size(m->wf.retry_counts), 0);
    next_pass(m, &halting_def); /* the wait is due; error: the first of a fresh budget */
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    next_pass(m, &halting_def);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_int_equal(m->wf.attempt, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_replay_body_errors_separated_by_progress_never_fail),
        T(test_replay_consecutive_body_errors_fail_the_workflow),
        T(test_replay_a_halted_pass_with_progress_resets_the_budget),
#undef T
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
