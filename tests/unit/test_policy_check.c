// SPDX-License-Identifier: MIT
/* tests/unit/test_policy_check.c: retry policies that make no sense are refused with a message
 * naming the field: at registration (cf_register / cf_registry_check: step_policy,
 * workflow_policy, their or_else chains), and when used (a per-call policy stalls its step
 * without running it; a workflow_policy_fn result falls back to the registered policy). */
#include <string.h>

#include "engine/registry.h"
#include "engine/retry.h"
#include "tests/support/memstore.h"
#include "tests/support/test.h"

static const char *const net[] = {"Net", NULL};
static const char *const none[] = {NULL};
static const char *const blank[] = {"Net", "", NULL};
static const char *const spaced[] = {"Net Timeout", NULL};

/* Refused: what check says, and that the message contains field. */
static void refused(const cf_retry_policy *p, const char *what, const char *field)
{
    char err[400] = "";
    assert_false(cf_retry_policy_check(p, what, err, sizeof err));
    if (strstr(err, field) == NULL)
        fail_msg("message '%s' does not name '%s'", err, field);
}

static void test_policy_check_refuses_unbounded_zero_delay(void **state)
{
    (void)state;
    const cf_retry_policy only_net = {.retry_on = net}; /* what {.retry_on = net} gives */
    refused(&only_net, "policy", "policy.max_attempts is 0");
    refused(&only_net, "policy", "policy.base_ms is 0");
    const cf_retry_policy zero = {0};
    refused(&zero, "step_policy", "step_policy.max_attempts");
    /* bounded with no delay, or unbounded with a delay: both meaningful */
    const cf_retry_policy bounded = {.max_attempts = 3};
    const cf_retry_policy forever_slowly = {.base_ms = 1000, .cap_ms = 60000};
    char err[400];
    assert_true(cf_retry_policy_check(&bounded, "p", err, sizeof err));
    assert_true(cf_retry_policy_check(&forever_slowly, "p", err, sizeof err));
}

static void test_policy_check_refuses_negative_values_and_cap_below_base(void **state)
{
    (void)state;
    const cf_retry_policy neg_max = {.max_attempts = -1, .base_ms = 10};
    const cf_retry_policy neg_base = {.max_attempts = 3, .base_ms = -5};
    const cf_retry_policy neg_cap = {.max_attempts = 3, .base_ms = 5, .cap_ms = -1};
    const cf_retry_policy low_cap = {.max_attempts = 3, .base_ms = 5000, .cap_ms = 1000};
    refused(&neg_max, "p", "p.max_attempts is negative");
    refused(&neg_base, "p", "p.base_ms is negative");
    refused(&neg_cap, "p", "p.cap_ms is negative");
    refused(&low_cap, "p", "p.cap_ms (1000) is below base_ms (5000)");
    const cf_retry_policy no_cap = {.max_attempts = 3, .base_ms = 5000}; /* cap 0: = base */
    char err[400];
    assert_true(cf_retry_policy_check(&no_cap, "p", err, sizeof err));
}

static void test_policy_check_refuses_bad_retry_on_lists(void **state)
{
    (void)state;
    const cf_retry_policy empty = {.max_attempts = 3, .base_ms = 1, .retry_on = none};
    const cf_retry_policy with_blank = {.max_attempts = 3, .base_ms = 1, .retry_on = blank};
    const cf_retry_policy with_space = {.max_attempts = 3, .base_ms = 1, .retry_on = spaced};
    refused(&empty, "p", "p.retry_on is an empty list");
    refused(&with_blank, "p", "p.retry_on[1]");
    refused(&with_space, "p", "p.retry_on[0] 'Net Timeout'");
}

static void test_policy_check_walks_the_or_else_chain(void **state)
{
    (void)state;
    const cf_retry_policy bad_tail = {.max_attempts = 0, .base_ms = 0};
    const cf_retry_policy mid = {
        .max_attempts = 2, .base_ms = 10, .retry_on = net, .or_else = &bad_tail};
    const cf_retry_policy head = {
        .max_attempts = 2, .base_ms = 10, .retry_on = net, .or_else = &mid};
    refused(&head, "workflow_policy", "workflow_policy.or_else.or_else.max_attempts is 0");
    /* an or_else after a catch-all is never consulted */
    const cf_retry_policy tail = {.max_attempts = 2, .base_ms = 10};
    const cf_retry_policy catch_all = {.max_attempts = 2, .base_ms = 10, .or_else = &tail};
    refused(&catch_all, "p", "p.or_else is never consulted");
    /* a composite with a catch-all last is fine */
    const cf_retry_policy good = {
        .max_attempts = 2, .base_ms = 10, .retry_on = net, .or_else = &tail};
    char err[400];
    assert_true(cf_retry_policy_check(&good, "p", err, sizeof err));
    assert_true(cf_retry_policy_check(NULL, "p", err, sizeof err));
    assert_true(cf_retry_policy_check(&cf_retry_none, "p", err, sizeof err));
    assert_true(cf_retry_policy_check(&cf_retry_step_default, "p", err, sizeof err));
    assert_true(cf_retry_policy_check(&cf_retry_workflow_default, "p", err, sizeof err));
}

static void test_policy_check_refuses_cycles_and_long_chains(void **state)
{
    (void)state;
    static const char *const a_on[] = {"A", NULL};
    static const char *const b_on[] = {"B", NULL};
    cf_retry_policy a = {.max_attempts = 2, .base_ms = 10, .retry_on = a_on};
    cf_retry_policy b = {.max_attempts = 2, .base_ms = 10, .retry_on = b_on, .or_else = &a};
    a.or_else = &b; /* a -> b -> a */
    refused(&a, "p", "p.or_else.or_else points back");
    a.or_else = &a; /* a -> a */
    refused(&a, "p", "p.or_else points back");
    cf_retry_policy chain[CF_RETRY_CHAIN_MAX + 1];
    for (int i = 0; i <= CF_RETRY_CHAIN_MAX; i++)
        chain[i] = (cf_retry_policy){.max_attempts = 2,
                                     .base_ms = 10,
                                     .retry_on = a_on,
                                     .or_else = i < CF_RETRY_CHAIN_MAX ? &chain[i + 1] : NULL};
    refused(&chain[0], "p", "longer than 16");
    chain[CF_RETRY_CHAIN_MAX - 1].or_else = NULL; /* exactly 16 links */
    char err[400];
    assert_true(cf_retry_policy_check(&chain[0], "p", err, sizeof err));
}

static cf_flow body(cf_run *run)
{
    (void)run;
    return CF_FLOW_OK;
}

static void test_register_refuses_nonsense_policies_naming_the_field(void **state)
{
    (void)state;
    static const cf_retry_policy only_net = {.retry_on = net};
    static const cf_retry_policy composite = {
        .max_attempts = 3, .base_ms = 10, .retry_on = net, .or_else = &only_net};
    char err[512];
    cf_workflow_def def = {.name = "PolicyCheck.Step", .fn = body, .step_policy = &only_net};
    assert_int_equal(cf_registry_check(&def, err, sizeof err), -1);
    assert_non_null(strstr(err, "workflow 'PolicyCheck.Step': step_policy.max_attempts"));
    assert_int_equal(cf_register(&def), -1);
    assert_null(cf_registry_find("PolicyCheck.Step")); /* nothing registered */

    def = (cf_workflow_def){.name = "PolicyCheck.Wf", .fn = body, .workflow_policy = &composite};
    assert_int_equal(cf_registry_check(&def, err, sizeof err), -1);
    assert_non_null(strstr(err, "workflow_policy.or_else.base_ms"));
    assert_int_equal(cf_register(&def), -1);
    assert_null(cf_registry_find("PolicyCheck.Wf"));

    def.workflow_policy = &cf_retry_workflow_default;
    def.step_policy = &cf_retry_step_default;
    assert_int_equal(cf_registry_check(&def, err, sizeof err), 0);
    assert_int_equal(cf_register(&def), 0);
    assert_non_null(cf_registry_find("PolicyCheck.Wf"));
}

/* ---- at use ---- */

static int step_calls;

static cf_flow counting_step(cf_run *run, void *arg)
{
    (void)run;
    (void)arg;
    step_calls++;
    return CF_FLOW_OK;
}

static cf_flow per_call_body(cf_run *run)
{
    static const cf_retry_policy forever_now = {.retry_on = net};
    return cf_durably_execute(run, "charge", counting_step, NULL, &forever_now);
}

static void test_policy_per_call_nonsense_stalls_the_step_without_running_it(void **state)
{
    (void)state;
    cf_memstore m;
    cf_memstore_init(&m, 1700000000000LL);
    static const cf_workflow_def def = {.name = "PerCall", .fn = per_call_body};
    step_calls = 0;
    assert_int_equal(cf_memstore_pass(&m, &def, NULL), CF_OK);
    assert_int_equal(step_calls, 0);
    assert_int_equal(m.wf.state, CF_WF_STALLED);
    const cf_step_row *r = cf_memstore_step(&m, "durably_execute$charge");
    assert_int_equal(r->state, CF_STEP_FAILED);
    assert_int_equal(r->attempts, 0); /* attempts count executions */
    assert_string_equal(r->error_class, "Workflow.InvalidPolicy");
    assert_non_null(strstr(r->error_message, "policy.max_attempts is 0"));
    assert_int_equal(cf_memstore_errors_of(&m, "durably_execute$charge"), 1);
    cf_memstore_deinit(&m);
}

static cf_flow failing_body(cf_run *run)
{
    return cf_fail(run, "Body.Boom", "always");
}

static const cf_retry_policy *nonsense_fn(cf_run *run, cf_retry_policy *scratch)
{
    (void)run;
    *scratch = (cf_retry_policy){0}; /* would retry at once, forever */
    return scratch;
}

static void test_policy_nonsense_from_workflow_policy_fn_falls_back(void **state)
{
    (void)state;
    static const cf_retry_policy once = {.max_attempts = 1, .base_ms = 10};
    static const cf_workflow_def def = {.name = "PolicyFn",
                                        .fn = failing_body,
                                        .workflow_policy = &once,
                                        .workflow_policy_fn = nonsense_fn};
    cf_memstore m;
    cf_memstore_init(&m, 1700000000000LL);
    assert_int_equal(cf_memstore_pass(&m, &def, NULL), CF_OK);
    assert_int_equal(m.wf.state, CF_WF_FAILED); /* `once`, not an immediate endless retry */
    cf_memstore_deinit(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_check_refuses_unbounded_zero_delay),
        cmocka_unit_test(test_policy_check_refuses_negative_values_and_cap_below_base),
        cmocka_unit_test(test_policy_check_refuses_bad_retry_on_lists),
        cmocka_unit_test(test_policy_check_walks_the_or_else_chain),
        cmocka_unit_test(test_policy_check_refuses_cycles_and_long_chains),
        cmocka_unit_test(test_register_refuses_nonsense_policies_naming_the_field),
        cmocka_unit_test(test_policy_per_call_nonsense_stalls_the_step_without_running_it),
        cmocka_unit_test(test_policy_nonsense_from_workflow_policy_fn_falls_back),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
