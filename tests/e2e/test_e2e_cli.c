// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_cli.c: the command line as an operator uses it, through the real binary:
 * --help and --version on every command, SPEC §5's exit codes, `classes`, `workers` and quiet
 * mode (a quiet worker finishes its running step, takes nothing new, stays up, and resumes; by
 * `workers quiet|resume` and by SIGTSTP), and `stats` counting quiet workers. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clock.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

/* e2e.c runs workers with a 500 ms heartbeat and a 3 s lease; quiet and resume apply at the
 * next beat. Waits allow many times that. */
#define HEARTBEAT_MS 500
#define DEADLINE_MS  60000

static cf_e2e E;

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

/* cli runs `chronoforge <args...>` and returns its exit code, stdout in out. */
#define cli(out, ...)                                                                              \
    cf_e2e_cli(&E, out, sizeof out, (const char *const[]){cf_test_env("CF_BIN"), __VA_ARGS__, NULL})

/* workers_json returns `workers --json`'s array of workers (owned by the returned root). */
static json_t *workers_json(json_t **root)
{
    static char out[16384];
    assert_int_equal(cli(out, "workers", "--json"), 0);
    json_error_t jerr;
    *root = json_loads(out, 0, &jerr);
    assert_non_null(*root);
    json_t *list = json_object_get(*root, "workers");
    assert_true(json_is_array(list));
    return list;
}

/* worker_field copies field of the only worker into buf ("" when there is none). */
static const char *worker_field(const char *field, char *buf, size_t cap)
{
    json_t *root;
    json_t *list = workers_json(&root);
    buf[0] = '\0';
    json_t *w = json_array_get(list, 0);
    json_t *v = w ? json_object_get(w, field) : NULL;
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    json_decref(root);
    return buf;
}

static bool worker_in_state(void *want)
{
    char buf[64];
    return strcmp(worker_field("state", buf, sizeof buf), want) == 0;
}

static void wait_worker_state(const char *state)
{
    assert_true(cf_test_wait_for(worker_in_state, (void *)state, DEADLINE_MS));
}

static int64_t ready_len(void)
{
    char key[200];
    snprintf(key, sizeof key, "%s:{default}:ready", E.prefix);
    return cf_e2e_redis_int((const char *const[]){"LLEN", key, NULL});
}

static const char *const COMMANDS[] = {"worker",  "enqueue", "requeue", "cancel",  "status",
                                       "list",    "stats",   "workers", "classes", "dead",
                                       "migrate", "config",  "heal",    NULL};

static void test_every_command_takes_help_and_version(void **state)
{
    (void)state;
    char out[16384];
    for (const char *const *c = COMMANDS; *c; c++) {
        assert_int_equal(cli(out, *c, "--version"), 0);
        assert_true(strncmp(out, "chronoforge ", 12) == 0);
        assert_int_equal(cli(out, *c, "--help"), 0);
        char want[64];
        snprintf(want, sizeof want, "usage: chronoforge %s", *c);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, "--version"));
    }
    /* The top-level usage names every command. */
    assert_int_equal(cli(out, "--help"), 0);
    for (const char *const *c = COMMANDS; *c; c++) {
        char want[64];
        snprintf(want, sizeof want, "\n  %s ", *c);
        assert_non_null(strstr(out, want));
    }
}

static void test_exit_codes(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(cli(out, "list", "--no-such-flag"), 2); /* usage */
    assert_int_equal(cli(out, "enqueue", "OnlyAClass"), 2);  /* missing argument */
    assert_int_equal(cli(out, "dead", "bury"), 2);           /* unknown subcommand */
    assert_int_equal(cli(out, "workers", "quiet"), 2);       /* neither ID nor --all */
    assert_int_equal(cli(out, "workers", "quiet", "w", "--all"), 2);
    assert_int_equal(cli(out, "list", "--limit", "0"), 1); /* refused value */
    assert_int_equal(cli(out, "enqueue", "A", "k", "--kwargs", "[1]"), 1);
    assert_int_equal(cli(out, "status", "no-such-key"), 1); /* refused: not found */
    assert_int_equal(cli(out, "requeue", "no-such-key"), 1);
    assert_int_equal(cli(out, "workers", "quiet", "no-such-worker"), 1);
    assert_int_equal(cli(out, "list", "--state", "idle"), 0);
    assert_int_equal(cli(out, "stats"), 0);
    assert_non_null(strstr(out, "workers: 0 live, 0 quiet"));
    assert_int_equal(cli(out, "dead", "list"), 0);
    assert_non_null(strstr(out, "0 dead letters shown (queue default)"));
}

static void test_classes_lists_registered_classes(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(cli(out, "classes"), 0);
    assert_non_null(strstr(out, "Exerciser\n  test workflow driven by its kwargs"));
    assert_non_null(strstr(out, "FlakyApiSync\n  a flaky partner API"));
    assert_non_null(strstr(out, "step policy: "));
    assert_non_null(strstr(out, "SubscriptionRenewal\n  activate, renew monthly"));
    assert_non_null(strstr(out, "8 classes registered\n"));
    assert_int_equal(cli(out, "classes", "--json"), 0);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    assert_non_null(root);
    json_t *classes = json_object_get(root, "classes");
    assert_int_equal(json_array_size(classes), 8);
    bool found = false;
    size_t i;
    json_t *c;
    json_array_foreach(classes, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "class")), "Exerciser") == 0) {
            found = true;
            assert_string_equal(json_string_value(json_object_get(c, "queue")), "default");
            assert_non_null(json_string_value(json_object_get(c, "workflow_policy")));
        }
    }
    assert_true(found);
    json_decref(root);
}

/* kwargs: one step that sleeps sleep_ms, logging to this test's ledger. */
static void enqueue_sleeper(const char *key, int sleep_ms, char *ledger, size_t cap)
{
    snprintf(ledger, cap, "%s/ledger", E.dir);
    char kwargs[600];
    snprintf(kwargs, sizeof kwargs, "{\"steps\": 1, \"sleep_ms\": %d, \"ledger\": \"%s\"}",
             sleep_ms, ledger);
    cf_e2e_enqueue(&E, "Exerciser", key, kwargs);
}

typedef struct ledger_line {
    const char *path, *prefix;
} ledger_line;

static bool ledger_has(void *arg)
{
    const ledger_line *l = arg;
    return cf_e2e_ledger_count(l->path, l->prefix) > 0;
}

static bool log_has(void *needle)
{
    return cf_e2e_log_contains(&E, 0, needle);
}

static void test_quiet_worker_finishes_its_step_takes_nothing_new_and_resumes(void **state)
{
    (void)state;
    char out[16384], id[128], ledger[400], buf[64];
    cf_e2e_worker(&E, 0, (const char *const[]){"-c", "1", NULL}, NULL);
    wait_worker_state("running");
    worker_field("id", id, sizeof id);
    assert_string_equal(worker_field("concurrency", buf, sizeof buf), "1");

    /* A's step sleeps 20 heartbeats: quiet arrives while it runs. */
    enqueue_sleeper("cli-a", 20 * HEARTBEAT_MS, ledger, sizeof ledger);
    ledger_line started = {ledger, "cli-a step_1 1"};
    assert_true(cf_test_wait_for(ledger_has, &started, DEADLINE_MS));
    assert_int_equal(cli(out, "workers", "quiet", id), 0);
    assert_non_null(strstr(out, "quieted: 1 worker"));
    wait_worker_state("quiet");
    char st[32]; /* still in its step: no row yet (a lazy begin, docs/healing.md) */
    assert_string_not_equal(cf_e2e_state(&E, "cli-a", st, sizeof st), "completed");
    assert_string_equal(worker_field("busy", buf, sizeof buf), "1");
    assert_int_equal(cli(out, "stats"), 0);
    assert_non_null(strstr(out, "workers: 1 live, 1 quiet"));

    /* B arrives while the worker is quiet: A finishes, B is not taken. */
    enqueue_sleeper("cli-b", 0, ledger, sizeof ledger);
    assert_true(cf_e2e_wait_state(&E, "cli-a", "completed", DEADLINE_MS));
    assert_string_equal(cf_e2e_state(&E, "cli-b", st, sizeof st), "");
    assert_int_equal(cf_e2e_ledger_count(ledger, "cli-b "), 0);
    assert_int_equal(ready_len(), 1);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 0), -1); /* still up */
    assert_int_equal(cli(out, "workers"), 0);
    assert_non_null(strstr(out, " quiet "));
    assert_non_null(strstr(out, "1 worker registered, 1 live, 1 quiet"));

    assert_int_equal(cli(out, "workers", "resume", id), 0);
    assert_true(cf_e2e_wait_state(&E, "cli-b", "completed", DEADLINE_MS));
    wait_worker_state("running");
    assert_true(cf_e2e_log_contains(&E, 0, "event=worker_quiet "));
    assert_true(cf_test_wait_for(log_has, (void *)"event=worker_resumed ", DEADLINE_MS));
}

static void test_sigtstp_quiets_idempotently_and_resume_all_undoes_it(void **state)
{
    (void)state;
    char out[4096], ledger[400];
    cf_e2e_worker(&E, 0, (const char *const[]){"-c", "2", NULL}, NULL);
    wait_worker_state("running");
    cf_e2e_signal(&E, 0, SIGTSTP);
    cf_e2e_signal(&E, 0, SIGTSTP);
    wait_worker_state("quiet");
    cf_e2e_signal(&E, 0, SIGTSTP);
    enqueue_sleeper("cli-c", 0, ledger, sizeof ledger);
    /* Several beats later it has still taken nothing (a worker that was not quiet would have
     * finished it in milliseconds), and it stays up. */
    cf_clock_sleep_ms(4 * HEARTBEAT_MS, NULL);
    char st[32];
    assert_string_equal(cf_e2e_state(&E, "cli-c", st, sizeof st), "");
    assert_int_equal(ready_len(), 1);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, 0), -1);
    assert_int_equal(cli(out, "stats", "--json"), 0);
    assert_non_null(strstr(out, "\"workers_quiet\": 1"));

    assert_int_equal(cli(out, "workers", "resume", "--all"), 0);
    assert_non_null(strstr(out, "resumed: 1 worker"));
    assert_true(cf_e2e_wait_state(&E, "cli-c", "completed", DEADLINE_MS));
    wait_worker_state("running");

    /* A quiet worker still drains on SIGTERM and leaves cleanly. */
    cf_e2e_signal(&E, 0, SIGTSTP);
    wait_worker_state("quiet");
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 0);
    json_t *root;
    assert_int_equal(json_array_size(workers_json(&root)), 0);
    json_decref(root);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_command_takes_help_and_version),
        T(test_exit_codes),
        T(test_classes_lists_registered_classes),
        T(test_quiet_worker_finishes_its_step_takes_nothing_new_and_resumes),
        T(test_sigtstp_quiets_idempotently_and_resume_all_undoes_it),
    };
#undef T
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_cli", tests, NULL, NULL);
}
