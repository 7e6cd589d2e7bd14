// SPDX-License-Identifier: MIT
/* tests/unit/test_replay_repeat.c: cf_durably_repeat replayed pass after pass over the in-memory
 * store (tests/support/memstore.h) with a clock the test moves: ticks on one grid however late
 * they run, an early wake, start_at, till ending the repeat, the fast-forward of expired ticks
 * (one summary row and one pass whatever their number), the seal of a tick (completes at most
 * once, runs again when its commit was lost), a replay that reads only the coordination row,
 * pruning, per-tick retries under each on_error, requeue after a stall, a till error, a
 * calendar period, a changed period, and refused options. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/calendar.h"
#include "tests/support/memstore.h"
#include "tests/support/test.h"

#define T0 1700000000000LL

static struct {
    cf_repeat_opts opts;
    bool no_opts;        /* call with opts NULL */
    int calls;           /* tick executions */
    int64_t ticks[64];   /* the tick_ms each execution was given */
    int attempts[64];    /* and cf_run_attempt() inside it */
    int fail_times;      /* the next this many executions fail */
    int till_after;      /* till is met once this many executions succeeded (0: never) */
    int ok;              /* successful executions */
    bool till_fails;     /* till returns an error */
    int after_calls;     /* executions of the step after the repeat */
    const char *tz_name; /* a zone for the Months workflow */
} S;

static int setup(void **state)
{
    static cf_memstore m;
    memset(&S, 0, sizeof S);
    S.opts.every_ms = 1000;
    S.opts.timeout_ms = 3000;
    cf_memstore_init(&m, T0);
    *state = &m;
    return 0;
}

static int teardown(void **state)
{
    cf_memstore_deinit(*state);
    return 0;
}

static cf_flow tick_fn(cf_run *run, void *arg, int64_t tick_ms)
{
    (void)arg;
    int i = S.calls++;
    if (i < 64) {
        S.ticks[i] = tick_ms;
        S.attempts[i] = cf_run_attempt(run);
    }
    if (S.fail_times > 0) {
        S.fail_times--;
        return cf_fail(run, "Test.TickFailed", "execution %d fails", i + 1);
    }
    S.ok++;
    return CF_FLOW_OK;
}

static cf_flow till_fn(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    if (S.till_fails)
        return cf_fail(run, "Test.TillFailed", "till cannot tell");
    *met = S.till_after > 0 && S.ok >= S.till_after;
    return CF_FLOW_OK;
}

static cf_flow after_fn(cf_run *run, void *arg)
{
    (void)run;
    (void)arg;
    S.after_calls++;
    return CF_FLOW_OK;
}

static cf_flow body(cf_run *run)
{
    S.opts.till = till_fn;
    CF_TRY(cf_durably_repeat(run, "tick", tick_fn, NULL, S.no_opts ? NULL : &S.opts));
    return cf_durably_execute(run, "after", after_fn, NULL, NULL);
}
static const cf_workflow_def def = {.name = "Repeat", .fn = body};

static void pass(cf_memstore *m)
{
    assert_int_equal(cf_memstore_pass(m, &def, NULL), CF_OK);
}

static const cf_step_row *coord(cf_memstore *m)
{
    return cf_memstore_step(m, "durably_repeat$tick");
}

static int64_t coord_int(cf_memstore *m, const char *key)
{
    return json_integer_value(json_object_get(coord(m)->metadata, key));
}

static const cf_step_row *tick_row(cf_memstore *m, int64_t tick_ms)
{
    char name[64];
    snprintf(name, sizeof name, "durably_repeat$tick$%" PRId64, tick_ms);
    return cf_memstore_step(m, name);
}

/* tick_rows counts the stored rows of the repeat's ticks (summaries included). */
static int tick_rows(cf_memstore *m)
{
    int n = 0;
    for (size_t i = 0; i < m->steps.n; i++)
        n += strncmp(m->steps.rows[i].name, "durably_repeat$tick$", 20) == 0;
    return n;
}

static void test_repeat_ticks_stay_on_the_grid_however_late(void **state)
{
    cf_memstore *m = *state;
    pass(m); /* the first pass anchors the grid and runs tick 0 at once */
    assert_int_equal(S.calls, 1);
    assert_int_equal(S.ticks[0], T0);
    assert_int_equal(S.attempts[0], 1);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 1000);
    assert_int_equal(tick_row(m, T0)->state, CF_STEP_COMPLETED);
    assert_int_equal(coord(m)->state, CF_STEP_PENDING);
    assert_int_equal(coord_int(m, "anchor_ms"), T0);
    assert_int_equal(coord_int(m, "next"), 1);

    m->now_ms = T0 + 1437; /* a late wake: the tick keeps its time, the next one too */
    pass(m);
    assert_int_equal(S.ticks[1], T0 + 1000);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 2000);
    assert_int_equal(
        json_integer_value(json_object_get(tick_row(m, T0 + 1000)->metadata, "late_ms")), 437);
    m->now_ms = T0 + 1900; /* an early (duplicate) wake runs nothing and keeps the tick */
    pass(m);
    assert_int_equal(S.calls, 2);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 2000);
    m->now_ms = T0 + 2000;
    pass(m);
    assert_int_equal(S.ticks[2], T0 + 2000);
    assert_int_equal(coord_int(m, "completed"), 3);
    assert_int_equal(S.after_calls, 0); /* the workflow has not gone past the repeat */
}

static void test_repeat_till_ends_it_and_the_workflow_goes_on(void **state)
{
    cf_memstore *m = *state;
    S.till_after = 2;
    pass(m);
    m->now_ms = T0 + 1000;
    pass(m);
    assert_int_equal(S.calls, 2);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    m->now_ms = T0 + 2000; /* checked before the tick: met, so tick 2 never runs */
    pass(m);
    assert_int_equal(S.calls, 2);
    assert_int_equal(coord(m)->state, CF_STEP_COMPLETED);
    assert_int_equal(S.after_calls, 1);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
    assert_null(tick_row(m, T0 + 2000));
}

static void test_repeat_start_at_in_the_future_waits_for_it(void **state)
{
    cf_memstore *m = *state;
    S.opts.start_at_ms = T0 + 60000;
    pass(m);
    assert_int_equal(S.calls, 0);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 60000);
    assert_int_equal(coord_int(m, "anchor_ms"), T0 + 60000);
    m->now_ms = T0 + 60010;
    pass(m);
    assert_int_equal(S.calls, 1);
    assert_int_equal(S.ticks[0], T0 + 60000);
}

static void test_repeat_fast_forwards_expired_ticks_in_one_row(void **state)
{
    cf_memstore *m = *state;
    pass(m);                  /* tick 0 */
    m->now_ms = T0 + 30500;   /* down for 30 ticks; timeout 3 s: ticks 1..27 expired */
    int commits = m->commits; /* one pass: the summary, then tick 28, due now */
    pass(m);
    assert_int_equal(S.calls, 2);
    assert_int_equal(S.ticks[1], T0 + 28000);
    assert_true(m->commits - commits <= 2);
    const cf_step_row *sum = tick_row(m, T0 + 27000);
    assert_non_null(sum);
    assert_int_equal(sum->state, CF_STEP_FAILED);
    assert_string_equal(sum->error_class, "Timeout");
    assert_int_equal(json_integer_value(json_object_get(sum->metadata, "fast_forwarded")), 27);
    assert_int_equal(json_integer_value(json_object_get(sum->metadata, "from_ms")), T0 + 1000);
    assert_int_equal(coord_int(m, "fast_forwarded"), 27);
    assert_int_equal(tick_rows(m), 3); /* tick 0, the summary, tick 28 */
    /* the ticks still within their timeout run oldest first, one pass each, then the grid */
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 30500); /* tick 29 is due: at once */
    pass(m);
    assert_int_equal(S.ticks[2], T0 + 29000);
    pass(m);
    assert_int_equal(S.ticks[3], T0 + 30000);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 31000);
    assert_int_equal(tick_rows(m), 5);

    /* 100,000 expired ticks cost the same: one summary row, one pass */
    m->now_ms = T0 + 100000000LL + 31000;
    commits = m->commits;
    pass(m);
    assert_int_equal(S.calls, 5);
    assert_int_equal(S.ticks[4], T0 + 100000000LL + 28000);
    assert_true(m->commits - commits <= 2);
    /* rows more than 1000 periods (the default keep) old went with the tick's commit */
    assert_int_equal(tick_rows(m), 2);
    assert_int_equal(m->pruned, 5);
    assert_non_null(tick_row(m, T0 + 100000000LL + 27000)); /* the new summary */
    assert_int_equal(coord_int(m, "fast_forwarded"), 27 + 99997);
    assert_int_equal(m->loaded_steps, 1); /* the replay read the coordination row alone */
}

static void test_repeat_late_tick_within_its_timeout_runs(void **state)
{
    cf_memstore *m = *state;
    pass(m);
    m->now_ms = T0 + 3900; /* tick 1 is 2.9 s late: within 3 s; tick 2, 3 too */
    pass(m);
    assert_int_equal(S.ticks[1], T0 + 1000);
    assert_null(tick_row(m, T0)->error_class);
    assert_int_equal(json_object_get(coord(m)->metadata, "fast_forwarded"), NULL);
}

/* A tick's row and the coordination's advance commit together: a completed tick never runs
 * again; a tick whose commit was lost runs again (at least once). */
static void test_repeat_tick_is_sealed_by_its_commit(void **state)
{
    cf_memstore *m = *state;
    pass(m);
    pass(m); /* a duplicate delivery at the same instant */
    assert_int_equal(S.calls, 1);
    m->now_ms = T0 + 1000;
    m->fail_next = CF_ERR_IO; /* tick 1 runs, its commit is lost */
    assert_int_equal(cf_memstore_pass(m, &def, NULL), CF_OK);
    assert_int_equal(S.calls, 2);
    assert_null(tick_row(m, T0 + 1000));
    m->wf.state = CF_WF_IDLE; /* the lock expired: the next delivery runs it */
    m->wf.locked_by[0] = '\0';
    pass(m);
    assert_int_equal(S.calls, 3);
    assert_int_equal(S.ticks[2], T0 + 1000);
    assert_int_equal(S.attempts[2], 1);
    assert_int_equal(tick_row(m, T0 + 1000)->state, CF_STEP_COMPLETED);
    pass(m);
    assert_int_equal(S.calls, 3);
    assert_int_equal(coord_int(m, "completed"), 2);
}

static void test_repeat_replay_reads_only_the_coordination_row(void **state)
{
    cf_memstore *m = *state;
    m->repeat_keep_ticks = -1; /* keep every tick row */
    for (int i = 0; i < 300; i++) {
        m->now_ms = T0 + i * 1000LL;
        pass(m);
    }
    assert_int_equal(coord_int(m, "completed"), 300);
    assert_int_equal(tick_rows(m), 300);
    assert_int_equal(m->loaded_steps, 1);
    assert_int_equal(m->pruned, 0);
}

static void test_repeat_prunes_tick_rows_beyond_the_setting(void **state)
{
    cf_memstore *m = *state;
    m->repeat_keep_ticks = 5;
    for (int i = 0; i < 20; i++) {
        m->now_ms = T0 + i * 1000LL;
        pass(m);
    }
    assert_int_equal(tick_rows(m), 5);
    assert_int_equal(m->pruned, 15);
    assert_null(tick_row(m, T0 + 14000));
    assert_non_null(tick_row(m, T0 + 15000));
    assert_non_null(tick_row(m, T0 + 19000));
    assert_non_null(coord(m));
}

static const cf_retry_policy two_tries = {
    .max_attempts = 2, .base_ms = 100, .cap_ms = 100, .no_jitter = true};

static void test_repeat_failed_tick_continues_with_the_next(void **state)
{
    cf_memstore *m = *state;
    S.opts.policy = &two_tries;
    S.fail_times = 2;
    pass(m);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 100); /* retried under the tick's policy */
    assert_int_equal(tick_row(m, T0)->state, CF_STEP_PENDING);
    m->now_ms = T0 + 100;
    pass(m);
    assert_int_equal(S.attempts[1], 2);
    const cf_step_row *t = tick_row(m, T0);
    assert_int_equal(t->state, CF_STEP_FAILED);
    assert_string_equal(t->error_class, "Test.TickFailed");
    assert_int_equal(cf_memstore_errors_of(m, "durably_repeat$tick$1700000000000"), 2);
    assert_int_equal(m->wf.state, CF_WF_IDLE);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 1000);
    assert_int_equal(coord_int(m, "failed"), 1);
    m->now_ms = T0 + 1000;
    pass(m); /* the next tick has its own budget */
    assert_int_equal(S.ticks[2], T0 + 1000);
    assert_int_equal(S.attempts[2], 1);
    assert_int_equal(tick_row(m, T0 + 1000)->state, CF_STEP_COMPLETED);
}

static void test_repeat_failed_tick_stalls_then_runs_again_after_requeue(void **state)
{
    cf_memstore *m = *state;
    S.opts.policy = &two_tries;
    S.opts.on_error = CF_REPEAT_STALL;
    S.fail_times = 2;
    pass(m);
    m->now_ms = T0 + 100;
    pass(m);
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_int_equal(coord(m)->state, CF_STEP_FAILED);
    assert_string_equal(coord(m)->error_class, "Test.TickFailed");
    assert_int_equal(tick_row(m, T0)->state, CF_STEP_FAILED);
    m->now_ms = T0 + 500;
    assert_int_equal(cf_memstore_requeue(m), CF_OK);
    pass(m); /* the same tick, a fresh budget; attempt numbers keep counting */
    assert_int_equal(S.calls, 3);
    assert_int_equal(S.ticks[2], T0);
    assert_int_equal(S.attempts[2], 3);
    assert_int_equal(tick_row(m, T0)->state, CF_STEP_COMPLETED);
    assert_int_equal(coord(m)->state, CF_STEP_PENDING);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 1000);
}

static void test_repeat_till_error_stalls(void **state)
{
    cf_memstore *m = *state;
    S.till_fails = true;
    pass(m);
    assert_int_equal(S.calls, 0);
    assert_int_equal(m->wf.state, CF_WF_STALLED);
    assert_string_equal(coord(m)->error_class, "Test.TillFailed");
    assert_int_equal(cf_memstore_errors_of(m, "durably_repeat$tick"), 1);
}

static void test_repeat_months_in_a_zone_clamp_to_month_end(void **state)
{
    cf_memstore *m = *state;
    /* 2024-01-31 09:00 in Berlin (08:00Z); monthly: Feb 29 09:00 CET, Mar 31 09:00 CEST */
    const int64_t jan31 = cf_days_from_civil(2024, 1, 31) * 86400000LL + 8 * 3600000LL;
    m->now_ms = jan31;
    S.opts = (cf_repeat_opts){.months = 1, .tz = "Europe/Berlin"};
    pass(m);
    assert_int_equal(S.ticks[0], jan31);
    int64_t feb29 = cf_days_from_civil(2024, 2, 29) * 86400000LL + 8 * 3600000LL;
    assert_int_equal(m->wf.next_wake_at_ms, feb29);
    m->now_ms = feb29;
    pass(m);
    assert_int_equal(m->wf.next_wake_at_ms,
                     cf_days_from_civil(2024, 3, 31) * 86400000LL + 7 * 3600000LL);
    assert_string_equal(json_string_value(json_object_get(coord(m)->metadata, "period")),
                        "1mo Europe/Berlin");
}

static void test_repeat_changed_period_restarts_the_grid_at_the_current_tick(void **state)
{
    cf_memstore *m = *state;
    pass(m); /* tick 0; the next is T0 + 1000 */
    S.opts.every_ms = 5000;
    m->now_ms = T0 + 1000;
    pass(m);
    assert_int_equal(S.ticks[1], T0 + 1000);
    assert_int_equal(coord_int(m, "anchor_ms"), T0 + 1000);
    assert_int_equal(m->wf.next_wake_at_ms, T0 + 6000);
}

static void expect_invalid(cf_memstore *m, const char *needle)
{
    pass(m);
    assert_int_equal(S.calls, 0);
    assert_int_equal(m->wf.state, CF_WF_IDLE); /* a workflow-level error, retried */
    assert_int_equal(cf_memstore_errors_of(m, NULL), 1);
    assert_string_equal(m->errors[0].error_class, "Workflow.InvalidRepeat");
    if (strstr(m->errors[0].message, needle) == NULL)
        fail_msg("message '%s' does not say '%s'", m->errors[0].message, needle);
    assert_null(coord(m));
    cf_memstore_deinit(m);
    cf_memstore_init(m, T0);
}

static void test_repeat_refuses_bad_options(void **state)
{
    cf_memstore *m = *state;
    S.no_opts = true;
    expect_invalid(m, "options are required");
    S.no_opts = false;
    S.opts = (cf_repeat_opts){0};
    expect_invalid(m, "a period is required");
    S.opts = (cf_repeat_opts){.every_ms = 1000, .days = 1};
    expect_invalid(m, "only one of");
    S.opts = (cf_repeat_opts){.every_ms = 1000, .timeout_ms = -1};
    expect_invalid(m, "must not be negative");
    S.opts = (cf_repeat_opts){.days = 1, .tz = "Mars/Olympus_Mons"};
    expect_invalid(m, "Mars/Olympus_Mons");
    S.opts = (cf_repeat_opts){.days = 1, .tz = "../etc/passwd"};
    expect_invalid(m, "time zone");
    S.opts = (cf_repeat_opts){.months = CF_PERIOD_MAX_MONTHS + 1};
    expect_invalid(m, "months");
    static const cf_retry_policy loop = {.max_attempts = 0, .base_ms = 0};
    S.opts = (cf_repeat_opts){.every_ms = 1000, .policy = &loop};
    expect_invalid(m, "policy");
    S.opts = (cf_repeat_opts){.every_ms = 1000, .on_error = (cf_repeat_on_error)9};
    expect_invalid(m, "on_error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_repeat_ticks_stay_on_the_grid_however_late),
        T(test_repeat_till_ends_it_and_the_workflow_goes_on),
        T(test_repeat_start_at_in_the_future_waits_for_it),
        T(test_repeat_fast_forwards_expired_ticks_in_one_row),
        T(test_repeat_late_tick_within_its_timeout_runs),
        T(test_repeat_tick_is_sealed_by_its_commit),
        T(test_repeat_replay_reads_only_the_coordination_row),
        T(test_repeat_prunes_tick_rows_beyond_the_setting),
        T(test_repeat_failed_tick_continues_with_the_next),
        T(test_repeat_failed_tick_stalls_then_runs_again_after_requeue),
        T(test_repeat_till_error_stalls),
        T(test_repeat_months_in_a_zone_clamp_to_month_end),
        T(test_repeat_changed_period_restarts_the_grid_at_the_current_tick),
        T(test_repeat_refuses_bad_options),
#undef T
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("replay_repeat", tests, NULL, NULL);
}
