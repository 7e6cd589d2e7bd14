// SPDX-License-Identifier: MIT
/* tests/unit/test_replay_branches.c: branches on replay over the in-memory store
 * (docs/replay.md, "Branches"): a sealed branch's body never runs again; spawn_each resumes
 * after the last committed batch and creates no child twice; a merge halts until its branches
 * are done and then completes once; the completion gate; a child key over 256 bytes; a child's
 * queue and batch from the spawn options, the branch's defaults, its class's registration. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "engine/registry.h"
#include "tests/support/memstore.h"
#include "tests/support/test.h"

#define T0 1700000000000LL

static struct {
    int body_runs;      /* times the branch body ran */
    int items;          /* item function calls */
    int64_t first_item; /* the lowest index asked for in the last pass */
    int fail_at;        /* the item function fails at this index once (-1: never) */
    int count;          /* children */
    bool merge;         /* the workflow merges its branch */
    int fail_commit_at; /* building item i makes the next commit fail once (-1: never) */
    cf_memstore *m;
} S;

static int setup(void **state)
{
    static cf_memstore m;
    memset(&S, 0, sizeof S);
    S.fail_at = -1;
    S.count = 5;
    S.merge = true;
    S.fail_commit_at = -1;
    S.m = &m;
    cf_memstore_init(&m, T0);
    *state = &m;
    return 0;
}

static int teardown(void **state)
{
    cf_memstore_deinit(*state);
    return 0;
}

static cf_flow item(cf_run *run, void *arg, int64_t i, const char **cls, const char **kw)
{
    (void)arg;
    S.items++;
    if (i < S.first_item)
        S.first_item = i;
    if (i == S.fail_commit_at) {
        S.fail_commit_at = -1;
        S.m->fail_next = CF_ERR_IO;
    }
    if (i == S.fail_at) {
        S.fail_at = -1;
        return cf_fail(run, "Item.Flaky", "item %lld fails once", (long long)i);
    }
    *cls = "Child";
    *kw = "{\"n\": 1}";
    return CF_FLOW_OK;
}

static cf_flow body(cf_run *run, void *arg)
{
    (void)arg;
    S.body_runs++;
    S.first_item = INT64_MAX;
    cf_spawn_opts o = {.batch = 2};
    return cf_spawn_each(run, "kid", S.count, item, NULL, &o);
}

static cf_flow parent(cf_run *run)
{
    CF_TRY(cf_branch(run, "b", body, NULL, NULL));
    if (S.merge)
        CF_TRY(cf_merge(run, "b", (const char *const[]){"b"}, 1, NULL));
    return CF_FLOW_OK;
}

static const cf_workflow_def def = {.name = "Parent", .fn = parent};

static size_t child_publishes(const cf_finish_result *fin)
{
    size_t n = 0;
    for (size_t i = 0; i < fin->effects.n; i++)
        n +=
            fin->effects.items[i].kind == CF_EFFECT_PUBLISH && fin->effects.items[i].kwargs != NULL;
    return n;
}

static void test_sealed_branch_body_never_runs_again(void **state)
{
    cf_memstore *m = *state;
    cf_finish_result fin;
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    assert_int_equal(fin.end, CF_PASS_HALTED); /* on the merge */
    assert_int_equal(child_publishes(&fin), 5);
    cf_finish_result_deinit(&fin);
    assert_int_equal(S.body_runs, 1);
    assert_int_equal(S.items, 5);
    assert_int_equal(m->nchildren, 5);
    assert_string_equal(m->children[4], "k-1$b$kid_4");
    cf_memstore_branch *b = cf_memstore_branch_find(m, "b");
    assert_non_null(b);
    assert_int_equal(b->state, CF_BRANCH_SEALED);
    assert_int_equal(b->spawned, 5);
    const cf_step_row *seal = cf_memstore_step(m, "branch$b");
    assert_non_null(seal);
    assert_int_equal(seal->state, CF_STEP_COMPLETED);

    /* woken early: the sealed body is skipped, the merge halts again */
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    assert_int_equal(fin.end, CF_PASS_HALTED);
    cf_finish_result_deinit(&fin);
    assert_int_equal(S.body_runs, 1);
    assert_int_equal(S.items, 5);

    b->remaining = 0; /* every child finished */
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    assert_int_equal(fin.end, CF_PASS_COMPLETED);
    cf_finish_result_deinit(&fin);
    assert_int_equal(S.body_runs, 1);
    assert_int_equal(b->state, CF_BRANCH_MERGED);
    assert_int_equal(m->wf.state, CF_WF_COMPLETED);
}

static void test_spawn_each_resumes_after_the_last_committed_batch(void **state)
{
    cf_memstore *m = *state;
    S.fail_at = 3; /* batches [0,1] [2,3] [4]: the second fails before its commit */
    cf_finish_result fin;
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    assert_int_equal(fin.end, CF_PASS_HALTED); /* a workflow-level error, retried */
    cf_finish_result_deinit(&fin);
    assert_int_equal(m->nchildren, 2);
    assert_int_equal(cf_memstore_errors_of(m, NULL), 1);

    m->now_ms += 3600 * 1000;
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    cf_finish_result_deinit(&fin);
    assert_int_equal(S.first_item, 2); /* resumed at the cursor */
    assert_int_equal(m->nchildren, 5);
    assert_int_equal(m->child_inserts, 5); /* no batch re-sent */
    assert_int_equal(cf_memstore_branch_find(m, "b")->spawned, 5);
    assert_int_equal(S.body_runs, 2);
}

static void test_a_failed_dispatch_commit_loses_and_duplicates_nothing(void **state)
{
    cf_memstore *m = *state;
    S.count = 6;
    S.fail_commit_at = 2; /* the second batch's commit fails: nothing of it is applied */
    cf_finish_result fin;
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    assert_int_equal(fin.end, CF_PASS_STORE_ERROR);
    cf_finish_result_deinit(&fin);
    assert_int_equal(m->nchildren, 2);
    assert_int_equal(cf_memstore_branch_find(m, "b")->state, CF_BRANCH_OPEN);

    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    cf_finish_result_deinit(&fin);
    assert_int_equal(S.first_item, 2);
    assert_int_equal(m->nchildren, 6);
    assert_int_equal(m->child_inserts, 6);
    cf_memstore_branch *b = cf_memstore_branch_find(m, "b");
    assert_int_equal(b->spawned, 6);
    assert_int_equal(b->state, CF_BRANCH_SEALED);
}

static void test_completing_with_an_unmerged_branch_is_an_error(void **state)
{
    cf_memstore *m = *state;
    S.merge = false;
    cf_finish_result fin;
    assert_int_equal(cf_memstore_pass(m, &def, &fin), CF_OK);
    assert_int_equal(fin.end, CF_PASS_HALTED); /* the workflow-level retry */
    cf_finish_result_deinit(&fin);
    assert_int_equal(cf_memstore_errors_of(m, NULL), 1);
    assert_string_equal(m->errors[0].error_class, "Branch.Unmerged");
    assert_int_not_equal(m->wf.state, CF_WF_COMPLETED);
}

static cf_flow long_body(cf_run *run, void *arg)
{
    (void)arg;
    return cf_spawn(run, "one", "Child", NULL, NULL);
}

static cf_flow long_parent(cf_run *run)
{
    CF_TRY(cf_branch(run, "b", long_body, NULL, NULL));
    return cf_merge(run, "b", (const char *const[]){"b"}, 1, NULL);
}

static void test_a_child_key_over_256_bytes_is_refused(void **state)
{
    cf_memstore *m = *state;
    char key[257];
    memset(key, 'k', 251); /* the child's key: 251 + "$b$one" = 257 bytes */
    key[251] = '\0';
    cf_wf_row row;
    cf_step_list steps;
    assert_int_equal(cf_memstore_begin(m, "Long", key, NULL, &row, &steps), CF_OK);
    cf_store_port port = cf_memstore_port(m);
    cf_run run;
    assert_int_equal(cf_run_init(&run, &(cf_workflow_def){.name = "Long", .fn = long_parent}, &port,
                                 &row, &steps, NULL, "jid"),
                     CF_OK);
    cf_step_list_deinit(&steps);
    cf_wf_row_deinit(&row);
    assert_int_equal(long_parent(&run), CF_FLOW_ERROR);
    assert_string_equal(run.fail_class, "Branch.KeyTooLong");
    cf_run_deinit(&run);
    assert_int_equal(m->nchildren, 0);
}

static cf_flow nothing(cf_run *run)
{
    (void)run;
    return CF_FLOW_OK;
}

static cf_flow queued_item(cf_run *run, void *arg, int64_t i, const char **cls, const char **kw)
{
    (void)run;
    (void)arg;
    *cls = i == 0 ? "QueuedChild" : "Unregistered";
    *kw = NULL;
    return CF_FLOW_OK;
}

static cf_flow queued_body(cf_run *run, void *arg)
{
    (void)arg;
    return cf_spawn_each(run, "q", 2, queued_item, NULL, NULL);
}

static const cf_spawn_opts *branch_spawn_defaults;

static cf_flow queued_parent(cf_run *run)
{
    cf_branch_opts bo = {.spawn = branch_spawn_defaults};
    CF_TRY(cf_branch(run, "b", queued_body, NULL, &bo));
    return cf_merge(run, "b", (const char *const[]){"b"}, 1, NULL);
}

static const char *queue_of(const cf_finish_result *fin, const char *key)
{
    for (size_t i = 0; i < fin->effects.n; i++)
        if (strcmp(fin->effects.items[i].key, key) == 0)
            return fin->effects.items[i].queue;
    return "(none)";
}

static void test_a_childs_queue_comes_from_options_else_its_class_else_default(void **state)
{
    cf_memstore *m = *state;
    static const cf_workflow_def child = {.name = "QueuedChild", .fn = nothing, .queue = "slow"};
    if (cf_registry_find("QueuedChild") == NULL)
        assert_int_equal(cf_register(&child), 0);
    const cf_workflow_def def2 = {.name = "Queued", .fn = queued_parent};
    cf_finish_result fin;
    branch_spawn_defaults = NULL;
    assert_int_equal(cf_memstore_pass(m, &def2, &fin), CF_OK);
    assert_int_equal(m->commits, 3); /* one dispatch batch, the seal, the halt on the merge */
    assert_string_equal(queue_of(&fin, "k-1$b$q_0"), "slow");
    assert_string_equal(queue_of(&fin, "k-1$b$q_1"), "default");
    cf_finish_result_deinit(&fin);

    cf_memstore_deinit(m);
    cf_memstore_init(m, T0);
    static const cf_spawn_opts fast = {.queue = "fast", .batch = 1};
    branch_spawn_defaults = &fast; /* the branch's defaults for its spawns */
    assert_int_equal(cf_memstore_pass(m, &def2, &fin), CF_OK);
    assert_string_equal(queue_of(&fin, "k-1$b$q_0"), "fast");
    assert_string_equal(queue_of(&fin, "k-1$b$q_1"), "fast");
    cf_finish_result_deinit(&fin);
    assert_int_equal(m->commits, 4); /* batch 1: one commit per child, the seal, the halt */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sealed_branch_body_never_runs_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_each_resumes_after_the_last_committed_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_dispatch_commit_loses_and_duplicates_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_completing_with_an_unmerged_branch_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_childs_queue_comes_from_options_else_its_class_else_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_child_key_over_256_bytes_is_refused, setup,
                                        teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
