// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_producers.c: the Ruby and Python clients against real workers:
 * retry_later resumes a stalled workflow, changes nothing for a completed one, and never
 * creates a workflow that does not exist; signal(...) is applied by a worker and answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000

static cf_e2e E;

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    const char *args[] = {"-c", "4", NULL};
    cf_e2e_worker(&E, 0, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

/* produce runs one client call (lang "ruby" or "python") with the test's Redis and prefix. */
static void produce(const char *lang, const char *call)
{
    char cmd[2048];
    const char *url = cf_test_env("CF_TEST_REDIS_URL");
    if (strcmp(lang, "ruby") == 0)
        snprintf(
            cmd, sizeof cmd,
            "CHRONOFORGE_REDIS_URL='%s' CHRONOFORGE_PREFIX='%s' /usr/bin/ruby -Iclients/ruby/lib "
            "-e 'require \"chronoforge/client\"; c = Chronoforge::Client.new; %s'",
            url, E.prefix, call);
    else
        snprintf(cmd, sizeof cmd,
                 "CHRONOFORGE_REDIS_URL='%s' CHRONOFORGE_PREFIX='%s' PYTHONPATH=clients/python "
                 "/usr/bin/python3 -c 'from chronoforge import Client; c = Client(); %s'",
                 url, E.prefix, call);
    assert_int_equal(system(cmd), 0);
}

static int64_t attempts_of(const char *key)
{
    return cf_e2e_sql_int(&E,
                          "SELECT l.attempts FROM chrono_forge_execution_logs l JOIN "
                          "chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 AND "
                          "l.step_name = 'durably_execute$step_1'",
                          key);
}

static void retry_later_resumes_a_stalled_workflow(const char *lang, const char *key)
{
    char call[512];
    snprintf(call, sizeof call,
             strcmp(lang, "ruby") == 0
                 ? "c.enqueue(\"Exerciser\", \"%s\", { \"steps\" => 1, \"fail_first\" => 1, "
                   "\"step_max_attempts\" => 1 })"
                 : "c.enqueue(\"Exerciser\", \"%s\", {\"steps\": 1, \"fail_first\": 1, "
                   "\"step_max_attempts\": 1})",
             key);
    produce(lang, call);
    assert_true(cf_e2e_wait_state(&E, key, "stalled", DEADLINE_MS));
    snprintf(call, sizeof call, "c.retry_later(\"Exerciser\", \"%s\")", key);
    produce(lang, call);
    assert_true(cf_e2e_wait_state(&E, key, "completed", DEADLINE_MS));
    assert_int_equal(attempts_of(key), 2);
}

static void test_ruby_retry_later_resumes_a_stalled_workflow(void **state)
{
    (void)state;
    retry_later_resumes_a_stalled_workflow("ruby", "rb-stalled");
}

static void test_python_retry_later_resumes_a_stalled_workflow(void **state)
{
    (void)state;
    retry_later_resumes_a_stalled_workflow("python", "py-stalled");
}

static void test_retry_later_of_completed_or_unknown_changes_nothing(void **state)
{
    (void)state;
    produce("python", "c.enqueue(\"Exerciser\", \"done-1\", {\"steps\": 1})");
    assert_true(cf_e2e_wait_state(&E, "done-1", "completed", DEADLINE_MS));
    int64_t fence =
        cf_e2e_sql_int(&E, "SELECT fence FROM chrono_forge_workflows WHERE key = $1", "done-1");
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_log_events(&E, 0, "not_executable", "key=done-1"), 0);
    produce("ruby", "c.retry_later(\"Exerciser\", \"done-1\")");
    produce("python", "c.retry_later(\"Exerciser\", \"never-enqueued\")");
    /* both deliveries were handled and acked without running anything */
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
    assert_int_equal(cf_e2e_log_events(&E, 0, "not_executable", "key=never-enqueued state=none"),
                     1);
    assert_int_equal(cf_e2e_log_events(&E, 0, "not_executable", "key=done-1 state=completed"), 1);
    char buf[32];
    assert_string_equal(cf_e2e_state(&E, "done-1", buf, sizeof buf), "completed");
    assert_int_equal(attempts_of("done-1"), 1);
    assert_int_equal(
        cf_e2e_sql_int(&E, "SELECT fence FROM chrono_forge_workflows WHERE key = $1", "done-1"),
        fence);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE key = $1",
                                    "never-enqueued"),
                     0);
}

/* Both clients' signal(...) through a live worker (control requests, SPEC §2): each is
 * answered accepted once the signal is in Postgres, and the workflow's awaits take them in the
 * order they were sent. A refusal comes back with its code. */
static void test_clients_signal_through_a_worker(void **state)
{
    (void)state;
    cf_e2e_enqueue(&E, "Exerciser", "cs-1",
                   "{\"steps\": 2, \"await_signal\": \"go\", \"await_signal_count\": 2}");
    produce("ruby", "r = c.signal(\"Exerciser\", \"cs-1\", \"go\", {\"from\" => \"ruby\"}, "
                    "timeout: 20); exit(r.accepted? ? 0 : 1)");
    produce("python", "r = c.signal(\"Exerciser\", \"cs-1\", \"go\", {\"from\": \"python\"}, "
                      "timeout=20); raise SystemExit(0 if r.accepted else 1)");
    assert_true(cf_e2e_wait_state(&E, "cs-1", "completed", DEADLINE_MS));
    char *got = cf_e2e_sql(
        &E, "SELECT context->'signal_payloads' FROM chrono_forge_workflows WHERE key = $1", "cs-1");
    assert_string_equal(got, "[{\"from\": \"ruby\"}, {\"from\": \"python\"}]");
    free(got);
    produce("python", "r = c.signal(\"Exerciser\", \"cs-1\", \"go\", timeout=20); "
                      "raise SystemExit(0 if r.refused and r.code == \"finished\" else 1)");
    produce("ruby", "r = c.signal(\"Exerciser\", \"nobody\", \"go\", timeout: 20); "
                    "exit(r.refused? && r.code == \"unknown_workflow\" ? 0 : 1)");
}

/* Both clients' cancel(...) through a live worker: accepted once Postgres holds the request
 * (who and why recorded), the workflow's on_cancel runs and it ends cancelled; a second cancel
 * is refused with the code saying why. */
static void test_clients_cancel_through_a_worker(void **state)
{
    (void)state;
    cf_e2e_enqueue(&E, "Exerciser", "cc-r", "{\"steps\": 1, \"await_signal\": \"never\"}");
    cf_e2e_enqueue(&E, "Exerciser", "cc-p", "{\"steps\": 1, \"await_signal\": \"never\"}");
    assert_true(cf_e2e_wait_keys_in_state(&E, "cc-%", "idle", 2, DEADLINE_MS));
    produce("ruby", "r = c.cancel(\"Exerciser\", \"cc-r\", reason: \"ruby says stop\", by: "
                    "\"billing\", timeout: 20); exit(r.accepted? ? 0 : 1)");
    produce("python", "r = c.cancel(\"Exerciser\", \"cc-p\", reason=\"python says stop\", "
                      "by=\"support\", timeout=20); raise SystemExit(0 if r.accepted else 1)");
    assert_true(cf_e2e_wait_state(&E, "cc-r", "cancelled", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "cc-p", "cancelled", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE (key ="
                                    " 'cc-r' AND cancel_requested_by = 'billing' AND"
                                    " cancel_reason = 'ruby says stop') OR (key = 'cc-p' AND"
                                    " cancel_requested_by = 'support' AND cancel_reason = $1)",
                                    "python says stop"),
                     2);
    produce("python", "r = c.cancel(\"Exerciser\", \"cc-r\", timeout=20); "
                      "raise SystemExit(0 if r.refused and r.code == \"cancelled\" else 1)");
    produce("ruby", "r = c.cancel(\"Exerciser\", \"nobody\", timeout: 20); "
                    "exit(r.refused? && r.code == \"not_found\" ? 0 : 1)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ruby_retry_later_resumes_a_stalled_workflow),
        cmocka_unit_test(test_python_retry_later_resumes_a_stalled_workflow),
        cmocka_unit_test(test_retry_later_of_completed_or_unknown_changes_nothing),
        cmocka_unit_test(test_clients_signal_through_a_worker),
        cmocka_unit_test(test_clients_cancel_through_a_worker),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_producers", tests, setup, teardown);
}
