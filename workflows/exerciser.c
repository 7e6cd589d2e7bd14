// SPDX-License-Identifier: MIT
/* workflows/exerciser.c: the test workflow `Exerciser`, registered only when
 * CHRONOFORGE_TEST_WORKFLOWS=1. Benchmarks and fault tests depend on its kwargs, which are
 * stable:
 *   steps (int, 3)            durable steps step_1 .. step_N; after each, context last_step = N
 *   ledger (path)             every attempt of every step appends "<key> <step> <attempt>\n"
 *                             with one O_APPEND write, as it starts
 *   sleep_ms (int, 0)         each attempt then sleeps this long
 *   fail_first (int, 0)       each step fails (Exerciser.Flaky) on attempts 1..fail_first
 *   step_max_attempts, step_backoff_ms (ints)   the steps' policy (cap = 10 x base)
 *   wait_ms (int, 0)          after step_1, a durable wait named "pause"
 *   fail_workflow (bool)      after the last step every run raises Exerciser.Boom;
 *   workflow_max_attempts, workflow_backoff_ms  that policy (cap = 10 x base)
 *   abort_step (int, 0)       that step calls abort() (crash-loop tests)
 *   gate_file (path)          after the last step, continue_if "gate" until this file exists
 *   await_signal (string)     after step_1 (and its wait), await_signal_count cf_await_signal
 *   await_signal_count (int, 1)  calls on the signal of that name, steps signal_1, signal_2, ..;
 *                             each payload (null: timed out) appended to the context array
 *                             signal_payloads, in order
 *   signal_timeout_ms (int, 60000)  each await's timeout (0: none)
 *   signal_on_timeout (string, "stall")  "return": a timed-out await returns without a payload
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chronoforge.h"
#include "workflows/examples.h"

typedef struct step_arg {
    int number;
    char name[32];
} step_arg;

static void append_ledger(cf_run *run, const char *step)
{
    const char *path = cf_kwarg_str(run, "ledger", NULL);
    if (path == NULL || *path == '\0')
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "%s %s %d\n", cf_run_key(run), step, cf_run_attempt(run));
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static cf_flow exerciser_step(cf_run *run, void *argp)
{
    step_arg *arg = argp;
    append_ledger(run, arg->name);
    sleep_ms(cf_kwarg_int(run, "sleep_ms", 0));
    if (cf_kwarg_int(run, "abort_step", 0) == arg->number)
        abort();
    if (cf_run_attempt(run) <= cf_kwarg_int(run, "fail_first", 0))
        return cf_fail(run, "Exerciser.Flaky", "%s fails on attempt %d by request", arg->name,
                       cf_run_attempt(run));
    return cf_ctx_set_int(run, "last_step", arg->number);
}

static cf_flow gate_open(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    *met = access(cf_kwarg_str(run, "gate_file", ""), F_OK) == 0;
    return CF_FLOW_OK;
}

/* await_signals runs the await_signal knobs: the awaits in order, their payloads kept in the
 * context array signal_payloads (rebuilt on every pass from the awaits' durable results). */
static cf_flow await_signals(cf_run *run)
{
    const char *name = cf_kwarg_str(run, "await_signal", NULL);
    if (name == NULL)
        return CF_FLOW_OK;
    cf_await_opts opts = {
        .timeout_ms = cf_kwarg_int(run, "signal_timeout_ms", 60000),
        .on_timeout = strcmp(cf_kwarg_str(run, "signal_on_timeout", "stall"), "return") == 0
                          ? CF_AWAIT_TIMEOUT_RETURN
                          : CF_AWAIT_TIMEOUT_STALL,
    };
    int64_t count = cf_kwarg_int(run, "await_signal_count", 1);
    size_t cap = 2, len = 1;
    char *arr = malloc(cap);
    if (arr == NULL)
        return cf_fail(run, "Exerciser.NoMemory", "out of memory");
    arr[0] = '[';
    cf_flow f = CF_FLOW_OK;
    for (int64_t i = 1; i <= count && f == CF_FLOW_OK; i++) {
        char step[32];
        snprintf(step, sizeof step, "signal_%d", (int)i);
        const char *payload = NULL;
        f = cf_await_signal(run, step, name, &opts, &payload);
        if (f != CF_FLOW_OK)
            break;
        const char *item = payload ? payload : "null";
        size_t need = len + strlen(item) + 3;
        char *grown = need > cap ? realloc(arr, cap = need * 2) : arr;
        if (grown == NULL) {
            f = cf_fail(run, "Exerciser.NoMemory", "out of memory");
            break;
        }
        arr = grown;
        len += (size_t)sprintf(arr + len, "%s%s", i > 1 ? "," : "", item);
        arr[len] = ']';
        arr[len + 1] = '\0';
        f = cf_ctx_set_json(run, "signal_payloads", arr);
    }
    free(arr);
    return f;
}

static cf_flow exerciser(cf_run *run)
{
    int64_t steps = cf_kwarg_int(run, "steps", 3);
    cf_retry_policy step_policy = {0};
    const cf_retry_policy *policy = NULL;
    if (cf_kwarg_len(run, "step_max_attempts") >= 0 || cf_kwarg_len(run, "step_backoff_ms") >= 0) {
        step_policy.max_attempts = (int)cf_kwarg_int(run, "step_max_attempts", 3);
        step_policy.base_ms = cf_kwarg_int(run, "step_backoff_ms", 1000);
        step_policy.cap_ms = 10 * step_policy.base_ms;
        policy = &step_policy;
    }
    for (int64_t i = 1; i <= steps; i++) {
        step_arg arg = {.number = (int)i};
        snprintf(arg.name, sizeof arg.name, "step_%d", (int)i);
        CF_TRY(cf_durably_execute(run, arg.name, exerciser_step, &arg, policy));
        if (i == 1 && cf_kwarg_int(run, "wait_ms", 0) > 0)
            CF_TRY(cf_wait(run, "pause", cf_kwarg_int(run, "wait_ms", 0)));
        if (i == 1)
            CF_TRY(await_signals(run));
    }
    if (cf_kwarg_str(run, "gate_file", NULL))
        CF_TRY(cf_continue_if(run, "gate", gate_open, NULL));
    if (cf_kwarg_bool(run, "fail_workflow", false))
        return cf_fail(run, "Exerciser.Boom", "fail_workflow is set");
    return CF_FLOW_OK;
}

/* The workflow-level policy comes from kwargs, but registration is static: the run reads the
 * kwargs through this hook (see cf_workflow_def.workflow_policy_fn). */
static const cf_retry_policy *exerciser_workflow_policy(cf_run *run, cf_retry_policy *scratch)
{
    if (cf_kwarg_len(run, "workflow_max_attempts") < 0 &&
        cf_kwarg_len(run, "workflow_backoff_ms") < 0)
        return NULL;
    scratch->max_attempts = (int)cf_kwarg_int(run, "workflow_max_attempts", 10);
    scratch->base_ms = cf_kwarg_int(run, "workflow_backoff_ms", 1000);
    scratch->cap_ms = 10 * scratch->base_ms;
    return scratch;
}

int cf_examples_register_exerciser(void)
{
    static const cf_workflow_def def = {
        .name = "Exerciser",
        .fn = exerciser,
        .workflow_policy_fn = exerciser_workflow_policy,
        .description = "test workflow driven by its kwargs (benchmarks and fault tests)",
    };
    return cf_register(&def);
}
