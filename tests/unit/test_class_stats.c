// SPDX-License-Identifier: MIT
/* tests/unit/test_class_stats.c: engine/class_stats.h: pass outcomes counted per class, step
 * durations land in the right histogram bucket, and the class label set stays bounded (past
 * CF_CLASS_STATS_MAX - 1 classes the rest count as "other"). */
#include <stdio.h>
#include <string.h>

#include "engine/class_stats.h"
#include "tests/support/test.h"

static const cf_class_stats *row(const char *name)
{
    for (size_t i = 0; i < cf_class_stats_count(); i++)
        if (strcmp(cf_class_stats_at(i)->name, name) == 0)
            return cf_class_stats_at(i);
    return NULL;
}

static void test_passes_are_counted_per_class_and_outcome(void **state)
{
    (void)state;
    cf_class_stats_note_pass(cf_class_stats_of("Billing"), CF_PASS_COMPLETED);
    cf_class_stats_note_pass(cf_class_stats_of("Billing"), CF_PASS_COMPLETED);
    cf_class_stats_note_pass(cf_class_stats_of("Billing"), CF_PASS_STALLED);
    cf_class_stats_note_pass(cf_class_stats_of("Mailer"), CF_PASS_HALTED);
    const cf_class_stats *b = row("Billing");
    assert_non_null(b);
    assert_int_equal(atomic_load(&b->passes[CF_PASS_COMPLETED]), 2);
    assert_int_equal(atomic_load(&b->passes[CF_PASS_STALLED]), 1);
    assert_int_equal(atomic_load(&b->passes[CF_PASS_HALTED]), 0);
    assert_int_equal(atomic_load(&row("Mailer")->passes[CF_PASS_HALTED]), 1);
    assert_string_equal(cf_pass_end_name(CF_PASS_STORE_ERROR), "store_error");
}

static void test_step_durations_fall_in_their_bucket(void **state)
{
    (void)state;
    cf_class_stats_note_step(cf_class_stats_of("Timing"), true, 3000); /* 3 ms: le 0.005 */
    cf_class_stats_note_step(cf_class_stats_of("Timing"), true, 5000); /* exactly 5 ms: le 0.005 */
    cf_class_stats_note_step(cf_class_stats_of("Timing"), false, 70000000); /* 70 s: +Inf */
    const cf_class_stats *t = row("Timing");
    assert_non_null(t);
    assert_int_equal(atomic_load(&t->steps[0].bucket[1]), 2);
    assert_int_equal(atomic_load(&t->steps[0].count), 2);
    assert_int_equal(atomic_load(&t->steps[0].sum_us), 8000);
    assert_int_equal(atomic_load(&t->steps[1].bucket[CF_STEP_BUCKETS_MAX]), 1);
}

static void test_classes_past_the_cap_count_as_other(void **state)
{
    (void)state;
    char name[32];
    for (int i = 0; i < CF_CLASS_STATS_MAX + 10; i++) {
        snprintf(name, sizeof name, "Many%d", i);
        cf_class_stats_note_pass(cf_class_stats_of(name), CF_PASS_FAILED);
    }
    assert_int_equal(cf_class_stats_count(), CF_CLASS_STATS_MAX);
    const cf_class_stats *other = row("other");
    assert_non_null(other);
    assert_true(atomic_load(&other->passes[CF_PASS_FAILED]) >= 10);
    cf_class_stats_note_pass(cf_class_stats_of("Billing"),
                             CF_PASS_COMPLETED); /* known classes keep their row */
    assert_int_equal(atomic_load(&row("Billing")->passes[CF_PASS_COMPLETED]), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passes_are_counted_per_class_and_outcome),
        cmocka_unit_test(test_step_durations_fall_in_their_bucket),
        cmocka_unit_test(test_classes_past_the_cap_count_as_other),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("class_stats", tests, NULL, NULL);
}
