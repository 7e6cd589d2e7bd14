// SPDX-License-Identifier: MIT
/* tests/unit/test_states.c: the state tables (store/states.h): every name round-trips, a name
 * this binary does not know parses to UNKNOWN, and UNKNOWN is never executable nor skipped. */
#include <string.h>

#include "store/states.h"
#include "tests/support/test.h"

static void test_states_wf_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"idle",    "running",    "completed", "failed",
                           "stalled", "cancelling", "cancelled"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cf_wf_state st = cf_wf_state_parse(names[i]);
        assert_int_not_equal(st, CF_WF_UNKNOWN);
        assert_string_equal(cf_wf_state_name(st), names[i]);
    }
    for (int v = 1; v < CF_WF_STATE_COUNT; v++)
        assert_int_equal(cf_wf_state_parse(cf_wf_state_name((cf_wf_state)v)), v);
    assert_int_equal(CF_WF_STATE_COUNT, 8); /* UNKNOWN + the seven of SPEC §3 */
}

static void test_states_step_round_trip(void **state)
{
    (void)state;
    for (int v = 1; v < CF_STEP_STATE_COUNT; v++)
        assert_int_equal(cf_step_state_parse(cf_step_state_name((cf_step_state)v)), v);
    assert_int_equal(cf_step_state_parse("pending"), CF_STEP_PENDING);
    assert_int_equal(cf_step_state_parse("completed"), CF_STEP_COMPLETED);
    assert_int_equal(cf_step_state_parse("failed"), CF_STEP_FAILED);
    assert_true(cf_step_state_done(CF_STEP_COMPLETED));
    assert_false(cf_step_state_done(CF_STEP_PENDING));
    assert_false(cf_step_state_done(CF_STEP_FAILED));
}

static void test_states_unknown_strings_parse_to_unknown(void **state)
{
    (void)state;
    /* A newer release's state, a different case, a prefix, empty, NULL. */
    const char *odd[] = {"paused", "IDLE", "idl", "idle ", "", "unknown"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        assert_int_equal(cf_wf_state_parse(odd[i]), CF_WF_UNKNOWN);
        assert_int_equal(cf_step_state_parse(odd[i]), CF_STEP_UNKNOWN);
    }
    assert_int_equal(cf_wf_state_parse(NULL), CF_WF_UNKNOWN);
    assert_int_equal(cf_step_state_parse(NULL), CF_STEP_UNKNOWN);
    assert_string_equal(cf_wf_state_name(CF_WF_UNKNOWN), "unknown");
    assert_string_equal(cf_wf_state_name((cf_wf_state)99), "unknown");
    assert_string_equal(cf_step_state_name((cf_step_state)99), "unknown");
}

static void test_states_unknown_is_never_executable(void **state)
{
    (void)state;
    assert_false(cf_wf_state_executable(CF_WF_UNKNOWN));
    assert_false(cf_wf_state_retryable(CF_WF_UNKNOWN));
    assert_false(cf_wf_state_executable((cf_wf_state)99));
    assert_false(cf_wf_state_retryable((cf_wf_state)99));
    assert_false(cf_step_state_done(CF_STEP_UNKNOWN));
    /* The known states, as SPEC §4 says. */
    assert_true(cf_wf_state_executable(CF_WF_IDLE));
    assert_true(cf_wf_state_executable(CF_WF_RUNNING));
    assert_false(cf_wf_state_executable(CF_WF_STALLED));
    assert_false(cf_wf_state_executable(CF_WF_FAILED));
    assert_false(cf_wf_state_executable(CF_WF_COMPLETED));
    assert_true(cf_wf_state_retryable(CF_WF_STALLED));
    assert_true(cf_wf_state_retryable(CF_WF_FAILED));
    assert_false(cf_wf_state_retryable(CF_WF_IDLE));
    assert_false(cf_wf_state_retryable(CF_WF_RUNNING));
    assert_false(cf_wf_state_retryable(CF_WF_COMPLETED));
    assert_true(cf_wf_state_executable(CF_WF_CANCELLING)); /* its on_cancel pass */
    assert_false(cf_wf_state_executable(CF_WF_CANCELLED));
    assert_false(cf_wf_state_retryable(CF_WF_CANCELLING));
    assert_false(cf_wf_state_retryable(CF_WF_CANCELLED)); /* only requeue --cleanup */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states_wf_round_trip),
        cmocka_unit_test(test_states_step_round_trip),
        cmocka_unit_test(test_states_unknown_strings_parse_to_unknown),
        cmocka_unit_test(test_states_unknown_is_never_executable),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
