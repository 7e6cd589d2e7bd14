// SPDX-License-Identifier: MIT
/* tests/unit/test_inputs.c: what a workflow reads and writes besides steps (engine/inputs.c):
 * kwargs by path with defaults, and the context API: set, set_once, merge, merge_once, has,
 * typed gets with defaults, the 16 KiB value limit as a Context.Invalid failure. No store: the
 * context only reaches Postgres at a commit, which these calls never make. */
#include <string.h>

#include <jansson.h>

#include "engine/run.h"
#include "tests/support/test.h"

static cf_flow body(cf_run *run)
{
    (void)run;
    return CF_FLOW_OK;
}

static const cf_workflow_def def = {.name = "Inputs", .fn = body};

static int setup(void **state)
{
    static cf_run run;
    cf_wf_row row = {0};
    strcpy(row.wf_class, "Inputs");
    strcpy(row.key, "in-1");
    row.kwargs = json_loads("{\"n\": 7, \"f\": 2.5, \"ok\": true, \"s\": \"x\","
                            " \"items\": [{\"sku\": \"A\", \"qty\": 2}, {\"sku\": \"B\"}]}",
                            0, NULL);
    row.context = json_loads("{\"seen\": 1}", 0, NULL);
    if (cf_run_init(&run, &def, NULL, &row, NULL, NULL, "jid-1") != CF_OK)
        return -1;
    *state = &run;
    return 0;
}

static int teardown(void **state)
{
    cf_run_deinit(*state);
    return 0;
}

static void test_kwargs_by_path_with_defaults(void **state)
{
    cf_run *run = *state;
    assert_int_equal(cf_kwarg_int(run, "n", 0), 7);
    assert_true(cf_kwarg_double(run, "f", 0) == 2.5);
    assert_true(cf_kwarg_bool(run, "ok", false));
    assert_string_equal(cf_kwarg_str(run, "items[1].sku", NULL), "B");
    assert_int_equal(cf_kwarg_int(run, "items[0].qty", 0), 2);
    assert_int_equal(cf_kwarg_int(run, "items[1].qty", 1), 1); /* absent: the default */
    assert_int_equal(cf_kwarg_int(run, "s", -1), -1);          /* another type: the default */
    assert_int_equal(cf_kwarg_len(run, "items"), 2);
    assert_int_equal(cf_kwarg_len(run, "nope"), -1);
    assert_string_equal(cf_kwarg_json(run, "items[1]"), "{\"sku\":\"B\"}");
    assert_null(cf_kwarg_json(run, "items[9]"));
    assert_string_equal(cf_run_class(run), "Inputs");
    assert_string_equal(cf_run_key(run), "in-1");
}

static void test_context_set_get_once_and_merge(void **state)
{
    cf_run *run = *state;
    assert_true(cf_ctx_has(run, "seen"));
    assert_int_equal(cf_ctx_set_double(run, "ratio", 0.25), CF_FLOW_OK);
    assert_int_equal(cf_ctx_set_str(run, "name", "ada"), CF_FLOW_OK);
    assert_int_equal(cf_ctx_set_once_str(run, "name", "grace"), CF_FLOW_OK);
    assert_string_equal(cf_ctx_get_str(run, "name", NULL), "ada");
    assert_int_equal(cf_ctx_set_json(run, "tags", "[\"a\", \"b\"]"), CF_FLOW_OK);
    assert_string_equal(cf_ctx_get_json(run, "tags"), "[\"a\",\"b\"]");
    assert_int_equal(cf_ctx_set_once_json(run, "tags", "[]"), CF_FLOW_OK);
    assert_string_equal(cf_ctx_get_json(run, "tags"), "[\"a\",\"b\"]");
    assert_int_equal(cf_ctx_merge(run, "{\"seen\": 2, \"flag\": true}"), CF_FLOW_OK);
    assert_int_equal(cf_ctx_get_int(run, "seen", 0), 2);
    assert_true(cf_ctx_get_bool(run, "flag", false));
    assert_int_equal(cf_ctx_merge_once(run, "{\"seen\": 3, \"new\": 4}"), CF_FLOW_OK);
    assert_int_equal(cf_ctx_get_int(run, "seen", 0), 2);
    assert_int_equal(cf_ctx_get_int(run, "new", 0), 4);
    assert_true(cf_ctx_get_double(run, "ratio", 0) == 0.25);
    assert_int_equal(cf_ctx_get_int(run, "absent", 42), 42);
    assert_null(cf_ctx_get_json(run, "absent"));
    assert_true(run->ctx.dirty);
}

static void test_context_refusals_are_failures_and_change_nothing(void **state)
{
    cf_run *run = *state;
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    assert_int_equal(cf_ctx_set_str(run, "big", big), CF_FLOW_ERROR);
    assert_string_equal(run->fail_class, "Context.Invalid");
    assert_false(cf_ctx_has(run, "big"));
    assert_int_equal(cf_ctx_set_json(run, "bad", "{not json"), CF_FLOW_ERROR);
    assert_int_equal(cf_ctx_merge(run, "[1, 2]"), CF_FLOW_ERROR); /* not an object */
    assert_int_equal(cf_ctx_set_int(run, "", 1), CF_FLOW_ERROR);  /* empty key */
    assert_int_equal(cf_ctx_set_double(run, "nan", 0.0 / 0.0), CF_FLOW_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kwargs_by_path_with_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_set_get_once_and_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_refusals_are_failures_and_change_nothing,
                                        setup, teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("inputs", tests, NULL, NULL);
}
