// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_retention.c: retention with real worker processes: `--retention` deletes
 * completed workflows (and only those, by default) once they are older than the setting, from
 * the one worker holding the healing lease; `chronoforge cleanup` deletes by hand, with a dry
 * run, refusing unfinished states; bad settings are refused at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/e2e.h"
#include "tests/support/http.h"
#include "tests/support/test.h"

#define RETENTION_MS      2000
#define SWEEP_INTERVAL_MS 300
#define DEADLINE_MS       (10 * RETENTION_MS + 30000)

static cf_e2e E;

/* Runs the binary with these arguments; its exit code, stdout in out. */
#define CLI(out, ...)                                                                              \
    cf_e2e_cli(&E, out, sizeof out, (const char *const[]){cf_test_env("CF_BIN"), __VA_ARGS__, NULL})

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_e2e_teardown(&E);
    return 0;
}

static int64_t count_like(const char *like)
{
    return cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE $1",
                          like);
}

static bool wait_count_like(const char *like, int64_t n, int64_t timeout_ms)
{
    for (int64_t waited = 0; waited < timeout_ms; waited += 100) {
        if (count_like(like) == n)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static void test_worker_retention_deletes_old_completed_workflows(void **state)
{
    (void)state;
    char listen[32];
    int port = cf_test_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    const char *const args[] = {
        "-c",   "2", "--retention", "2s", "--sweep-interval", "300ms", "--metrics-listen",
        listen, NULL};
    cf_e2e_worker(&E, 0, args, NULL);
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof key, "kept-%d", i);
        cf_e2e_enqueue(&E, "Exerciser", key, "{\"steps\": 1}");
    }
    cf_e2e_enqueue(&E, "Exerciser", "failing-0",
                   "{\"steps\": 1, \"fail_workflow\": true, \"workflow_max_attempts\": 1}");
    assert_true(cf_e2e_wait_state(&E, "kept-2", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "failing-0", "failed", DEADLINE_MS));
    /* they are deleted once older than the setting, with their logs */
    assert_true(wait_count_like("kept-%", 0, DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l WHERE NOT"
                                    " EXISTS (SELECT 1 FROM chrono_forge_workflows w WHERE w.id ="
                                    " l.workflow_id)",
                                    NULL),
                     0);
    assert_true(cf_e2e_wait_log_events(&E, 0, "retention", NULL, 1, DEADLINE_MS));
    /* failed workflows are kept unless --retention-states names them */
    assert_int_equal(count_like("failing-%"), 1);
    /* and the worker counted what it deleted */
    static char scrape[1 << 18];
    assert_int_equal(cf_test_http(port, "GET", "/metrics", NULL, NULL, scrape, sizeof scrape), 200);
    const char *line = strstr(cf_test_http_body(scrape), "\nchronoforge_retention_deleted_total ");
    assert_non_null(line);
    assert_true(strtoll(strchr(line + 1, ' ') + 1, NULL, 10) >= 3);
}

static void test_cleanup_command(void **state)
{
    (void)state;
    const char *const args[] = {"-c", "2", NULL};
    cf_e2e_worker(&E, 0, args, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "aged-0", "{\"steps\": 1}");
    cf_e2e_enqueue(&E, "Exerciser", "aged-1", "{\"steps\": 1}");
    cf_e2e_enqueue(&E, "Exerciser", "young-0", "{\"steps\": 1}");
    assert_true(cf_e2e_wait_keys_in_state(&E, "%-%", "completed", 3, DEADLINE_MS));
    cf_e2e_sql_exec(&E, "UPDATE chrono_forge_workflows SET created_at = now() - interval '40"
                        " days', completed_at = now() - interval '40 days' WHERE key LIKE"
                        " 'aged-%'");
    char out[1024];
    assert_int_equal(CLI(out, "cleanup", "--older-than", "30d", "--dry-run"), 0);
    assert_non_null(strstr(out, "would delete 2 completed,cancelled workflows"));
    assert_int_equal(count_like("aged-%"), 2);
    assert_int_equal(CLI(out, "cleanup", "--older-than", "30d"), 0);
    assert_non_null(strstr(out, "deleted 2 completed,cancelled workflows"));
    assert_int_equal(count_like("aged-%"), 0);
    assert_int_equal(count_like("young-%"), 1);
    assert_int_equal(CLI(out, "cleanup", "--older-than", "1d", "--state", "running"), 1);
    assert_int_equal(CLI(out, "cleanup"), 2);
    assert_int_equal(CLI(out, "config", "--retention-states", "idle"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_worker_retention_deletes_old_completed_workflows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_command, setup, teardown),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_retention", tests, NULL, NULL);
}
