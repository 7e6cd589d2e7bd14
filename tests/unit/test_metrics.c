// SPDX-License-Identifier: MIT
/* tests/unit/test_metrics.c: common/metrics.h and its rendering (http/process_metrics.c):
 * histogram buckets and units, halts by reason, the capped error-class table, the per-class
 * workflow events and step-attempts histogram of engine/class_stats.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "engine/class_stats.h"
#include "http/metrics.h"
#include "tests/support/test.h"

/* render writes the process metrics into a static buffer. */
static const char *render(void)
{
    static char page[1 << 16];
    FILE *f = fmemopen(page, sizeof page, "w");
    assert_non_null(f);
    cf_metrics_render_process(f);
    fclose(f);
    return page;
}

static void test_histogram_buckets_are_cumulative_in_seconds(void **state)
{
    (void)state;
    cf_hist *h = &cf_metrics_g.redis_rtt;
    cf_hist_observe(h, 300);     /* 0.3 ms: le 0.0005 */
    cf_hist_observe(h, 500);     /* exactly 0.5 ms: le 0.0005 */
    cf_hist_observe(h, 2000000); /* 2 s: +Inf */
    cf_hist_observe(h, -5);      /* a clock step back counts as 0: le 0.0001 */
    const char *p = render();
    assert_non_null(strstr(p, "# TYPE chronoforge_redis_round_trip_seconds histogram\n"));
    assert_non_null(strstr(p, "chronoforge_redis_round_trip_seconds_bucket{le=\"0.0001\"} 1\n"));
    assert_non_null(strstr(p, "chronoforge_redis_round_trip_seconds_bucket{le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(p, "chronoforge_redis_round_trip_seconds_bucket{le=\"0.0005\"} 3\n"));
    assert_non_null(strstr(p, "chronoforge_redis_round_trip_seconds_bucket{le=\"1\"} 3\n"));
    assert_non_null(strstr(p, "chronoforge_redis_round_trip_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(p, "chronoforge_redis_round_trip_seconds_sum 2.000800\n"));
    assert_non_null(strstr(p, "chronoforge_redis_round_trip_seconds_count 4\n"));
    cf_hist_observe(&cf_metrics_g.pg_batch, 3); /* counts, not seconds: le 4 */
    p = render();
    assert_non_null(strstr(p, "chronoforge_postgres_commit_batch_size_bucket{le=\"2\"} 0\n"));
    assert_non_null(strstr(p, "chronoforge_postgres_commit_batch_size_bucket{le=\"4\"} 1\n"));
    assert_non_null(strstr(p, "chronoforge_postgres_commit_batch_size_sum 3.000000\n"));
}

static void test_halts_have_one_series_per_reason(void **state)
{
    (void)state;
    cf_metrics_halt(CF_HALT_REASON_RETRY);
    cf_metrics_halt(CF_HALT_REASON_RETRY);
    cf_metrics_halt(CF_HALT_REASON_CONTINUE_IF);
    cf_metrics_halt(CF_HALT_REASON_COUNT); /* out of range: ignored */
    const char *p = render();
    assert_non_null(strstr(p, "chronoforge_halts_total{reason=\"retry\"} 2\n"));
    assert_non_null(strstr(p, "chronoforge_halts_total{reason=\"continue_if\"} 1\n"));
    assert_non_null(strstr(p, "chronoforge_halts_total{reason=\"wait\"} 0\n"));
    int series = 0;
    for (const char *s = strstr(p, "chronoforge_halts_total{"); s;
         s = strstr(s + 1, "chronoforge_halts_total{"))
        series++;
    assert_int_equal(series, CF_HALT_REASON_COUNT);
}

static void test_error_classes_are_capped_with_other(void **state)
{
    (void)state;
    cf_metrics_error("Net.Timeout");
    cf_metrics_error("Net.Timeout");
    cf_metrics_error(NULL);
    for (int i = 0; i < 100; i++) {
        char cls[32];
        snprintf(cls, sizeof cls, "Spam.E%d", i);
        cf_metrics_error(cls);
    }
    cf_metrics_error("Net.Timeout"); /* seen before the cap: still its own series */
    assert_int_equal(cf_metrics_error_count(), CF_ERROR_CLASSES_MAX);
    const char *p = render();
    assert_non_null(
        strstr(p, "chronoforge_workflow_errors_total{error_class=\"Net.Timeout\"} 3\n"));
    assert_non_null(strstr(p, "chronoforge_workflow_errors_total{error_class=\"unknown\"} 1\n"));
    /* 2 rows above, 29 Spam classes, the other 71 in "other" */
    assert_non_null(strstr(p, "chronoforge_workflow_errors_total{error_class=\"other\"} 71\n"));
    assert_null(strstr(p, "Spam.E29\""));
    assert_non_null(strstr(p, "Spam.E28\""));
}

static void test_workflow_events_and_step_attempts_per_class(void **state)
{
    (void)state;
    cf_class_stats *c = cf_class_stats_of("Metered");
    cf_class_stats_note_workflow(c, CF_WF_EVENT_STARTED);
    cf_class_stats_note_workflow(c, CF_WF_EVENT_COMPLETED);
    cf_class_stats_note_workflow(c, CF_WF_EVENT_STALLED);
    cf_class_stats_note_attempts(c, 1);
    cf_class_stats_note_attempts(c, 3);
    assert_int_equal(c->workflows[CF_WF_EVENT_STARTED], 1);
    assert_int_equal(c->workflows[CF_WF_EVENT_FAILED], 0);
    assert_string_equal(cf_wf_event_name(CF_WF_EVENT_STALLED), "stalled");
    assert_int_equal(c->attempts.bucket[0], 1); /* le 1 */
    assert_int_equal(c->attempts.bucket[2], 1); /* le 3 */
    assert_int_equal(c->attempts.sum, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets_are_cumulative_in_seconds),
        cmocka_unit_test(test_halts_have_one_series_per_reason),
        cmocka_unit_test(test_error_classes_are_capped_with_other),
        cmocka_unit_test(test_workflow_events_and_step_attempts_per_class),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
