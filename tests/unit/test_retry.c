// SPDX-License-Identifier: MIT
/* tests/unit/test_retry.c: retry decisions: attempts caps, composite routing by dotted class
 * prefixes, per-policy budgets kept in the counts object, backoff bounds, no-retry policies. */
#include <string.h>

#include <jansson.h>

#include "engine/retry.h"
#include "tests/support/test.h"

static void test_prefix_matching_is_dotted(void **state)
{
    (void)state;
    assert_true(cf_retry_class_matches("Net", "Net"));
    assert_true(cf_retry_class_matches("Net", "Net.Timeout"));
    assert_true(cf_retry_class_matches("Net.Timeout", "Net.Timeout.Read"));
    assert_false(cf_retry_class_matches("Net", "Network"));
    assert_false(cf_retry_class_matches("Net.Timeout", "Net"));
}

static void test_default_step_policy_allows_three_executions(void **state)
{
    (void)state;
    json_t *counts = json_object();
    cf_retry_decision d1 = cf_retry_decide(&cf_retry_step_default, "Any.Error", counts);
    cf_retry_decision d2 = cf_retry_decide(&cf_retry_step_default, "Any.Error", counts);
    cf_retry_decision d3 = cf_retry_decide(&cf_retry_step_default, "Any.Error", counts);
    assert_true(d1.retry);
    assert_in_range(d1.delay_ms, 500, 1000); /* equal jitter of base 1 s */
    assert_true(d2.retry);
    assert_in_range(d2.delay_ms, 1000, 2000);
    assert_false(d3.retry);
    assert_int_equal(json_integer_value(json_object_get(counts, "*")), 3);
    json_decref(counts);
}

static void test_composite_routes_by_class_with_separate_budgets(void **state)
{
    (void)state;
    static const char *const net[] = {"Net", NULL};
    static const char *const rate[] = {"Api.RateLimited", "Api.Busy", NULL};
    cf_retry_policy slow = {.max_attempts = 2, .base_ms = 5000, .cap_ms = 5000, .retry_on = rate};
    cf_retry_policy fast = {.max_attempts = 4,
                            .base_ms = 10,
                            .cap_ms = 40,
                            .no_jitter = true,
                            .retry_on = net,
                            .or_else = &slow};
    json_t *counts = json_object();
    cf_retry_decision d = cf_retry_decide(&fast, "Net.Timeout", counts);
    assert_true(d.retry);
    assert_int_equal(d.delay_ms, 10);
    assert_string_equal(d.budget_key, "Net");
    d = cf_retry_decide(&fast, "Api.RateLimited", counts);
    assert_true(d.retry);
    assert_string_equal(d.budget_key, "Api.RateLimited,Api.Busy");
    assert_int_equal(d.budget_used, 1);
    d = cf_retry_decide(&fast, "Net.Reset", counts); /* Net's second */
    assert_int_equal(d.delay_ms, 20);
    d = cf_retry_decide(&fast, "Api.Busy", counts); /* rate's second: exhausted */
    assert_false(d.retry);
    d = cf_retry_decide(&fast, "Db.Deadlock", counts); /* no policy matches: no retry */
    assert_false(d.retry);
    assert_string_equal(d.budget_key, "");
    assert_int_equal(json_integer_value(json_object_get(counts, "Net")), 2);
    json_decref(counts);
}

static void test_delay_is_capped_and_uncapped_attempts_retry_forever(void **state)
{
    (void)state;
    cf_retry_policy p = {.max_attempts = 0, .base_ms = 100, .cap_ms = 1000, .no_jitter = true};
    json_t *counts = json_object();
    cf_retry_decision d = {0};
    for (int i = 0; i < 50; i++)
        d = cf_retry_decide(&p, "X", counts);
    assert_true(d.retry);
    assert_int_equal(d.delay_ms, 1000);
    json_decref(counts);
}

static void test_retry_none_never_retries(void **state)
{
    (void)state;
    json_t *counts = json_object();
    assert_false(cf_retry_decide(&cf_retry_none, "X", counts).retry);
    json_decref(counts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_matching_is_dotted),
        cmocka_unit_test(test_default_step_policy_allows_three_executions),
        cmocka_unit_test(test_composite_routes_by_class_with_separate_budgets),
        cmocka_unit_test(test_delay_is_capped_and_uncapped_attempts_retry_forever),
        cmocka_unit_test(test_retry_none_never_retries),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
