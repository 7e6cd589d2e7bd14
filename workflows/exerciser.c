// SPDX-License-Identifier: MIT
/* workflows/exerciser.c: the test workflow `Exerciser`, registered only when
 * CHRONOFORGE_TEST_WORKFLOWS=1. Benchmarks and fault tests depend on its kwargs, which are
 * stable:
 *   steps (int, 3)            durable steps step_1 .. step_N; after each, context last_step = N
 *   ledger (path)             every attempt of every step appends "<key> <step> <attempt>\n"
 *                             with one O_APPEND write, as it starts
 *   sleep_ms (int, 0)         each attempt then sleeps this long
 *   sleep_step (int, 0)       when set, only that step sleeps sleep_ms
 *   hold_file (path)          instead of sleeping, wait (at most sleep_ms, default 60000) until
 *                             this file exists: a test acts while the step is known to run
 *   fail_first (int, 0)       each step fails (Exerciser.Flaky) on attempts 1..fail_first
 *   step_max_attempts, step_backoff_ms (ints)   the steps' policy (cap = 10 x base)
 *   wait_ms (int, 0)          after step_1, a durable wait named "pause"
 *   fail_workflow (bool)      after the last step every run raises Exerciser.Boom;
 *   workflow_max_attempts, workflow_backoff_ms  that policy (cap = 10 x base)
 *   abort_step (int, 0)       that step calls abort() (crash-loop tests)
 *   await_signal (string)     after step_1 (and its wait), await_signal_count cf_await_signal
 *   await_signal_count (int, 1)  calls on the signal of that name, steps signal_1, signal_2, ..;
 *                             each payload (null: timed out) appended to the context array
 *                             signal_payloads, in order
 *   signal_timeout_ms (int, 60000)  each await's timeout (0: none)
 *   signal_on_timeout (string, "stall")  "return": a timed-out await returns without a payload
 *   children (int, 0)         after the steps, a branch "kids" whose spawn_each "kid" dispatches
 *                             that many Exerciser children, keys <key>$kids$kid_<i>, kwargs
 *                             {"steps": child_steps, "ledger": <this ledger>}, and a merge
 *                             "kids"; a step "count_kids" then sets context children_completed
 *                             (int) and children_not_completed from the branch's counts
 *   child_steps (int, 1)      the children's steps
 *   spawn_batch (int, 1000)   children per dispatch commit
 *   spawn_pause_ms (int, 0)   a sleep before each dispatch batch but the first (kill tests)
 *   child_sleep_ms (int, 0)   the children's sleep_ms
 *   child_gate_file (path)    the children's gate_file
 *   stall_kid (int, -1)       that child stalls at once (fail_first 1, step_max_attempts 1)
 *   child_trouble (str)       the merge's on_trouble: "wait" (default), "fail", "continue"
 *   merge_timeout_ms (int, 0) the merge's timeout
 *   repeat_ticks (int, 0)     after the steps, a durably_repeat "tick" until this many ticks
 *                             completed (context ticks; skipped and failed ticks do not count);
 *                             each execution of a tick appends "<key> tick@<tick ms> <attempt>"
 *   repeat_every_ms (int, 1000)   its period
 *   repeat_timeout_ms (int, 0)    its ticks' timeout (0: the default, 1 h)
 *   repeat_fail_file (path)       while this file exists, every tick fails (Exerciser.TickFailed)
 *   repeat_on_error ("continue")  or "stall": what a tick does once its policy is exhausted
 *   repeat_max_attempts, repeat_backoff_ms (ints)   the ticks' policy (cap = 10 x base)
 *   gate_file (path)          after the repeat, continue_if "gate" until this file exists
 * Order: steps (wait_ms after step_1; the awaits after step_1) -> children -> repeat ->
 * gate_file -> fail_workflow.
 * A workflow a schedule started records its tick (cf_run_scheduled_at_ms) as context
 * scheduled_at, saved with step_1.
 * on_cancel (SPEC §4), after a cancel: one durable step "cleanup" (stored `on_cancel$cleanup`,
 * under the steps' policy above) that appends "<key> on_cancel <attempt>\n" to the ledger and
 * stores the cancel's reason as context cancel_reason;
 *   cleanup_fail_first (int, 0)  it fails (Exerciser.CleanupFailed) on attempts 1..N
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

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
    int64_t only = cf_kwarg_int(run, "sleep_step", 0);
    const char *hold = cf_kwarg_str(run, "hold_file", NULL);
    if ((only == 0 || only == arg->number) && hold) {
        for (int64_t left = cf_kwarg_int(run, "sleep_ms", 60000); left > 0 && access(hold, F_OK);
             left -= 10)
            sleep_ms(10);
    } else if (only == 0 || only == arg->number) {
        sleep_ms(cf_kwarg_int(run, "sleep_ms", 0));
    }
    if (cf_kwarg_int(run, "abort_step", 0) == arg->number)
        abort();
    if (cf_run_attempt(run) <= cf_kwarg_int(run, "fail_first", 0))
        return cf_fail(run, "Exerciser.Flaky", "%s fails on attempt %d by request", arg->name,
                       cf_run_attempt(run));
    return cf_ctx_set_int(run, "last_step", arg->number);
}

static cf_flow exerciser_tick(cf_run *run, void *arg, int64_t tick_ms)
{
    (void)arg;
    char name[40];
    snprintf(name, sizeof name, "tick@%lld", (long long)tick_ms);
    append_ledger(run, name);
    const char *fail_file = cf_kwarg_str(run, "repeat_fail_file", NULL);
    if (fail_file && access(fail_file, F_OK) == 0)
        return cf_fail(run, "Exerciser.TickFailed", "%s fails while %s exists", name, fail_file);
    return cf_ctx_set_int(run, "ticks", cf_ctx_get_int(run, "ticks", 0) + 1);
}

static cf_flow ticks_done(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    *met = cf_ctx_get_int(run, "ticks", 0) >= cf_kwarg_int(run, "repeat_ticks", 0);
    return CF_FLOW_OK;
}

/* exerciser_repeat runs the repeat the repeat_* kwargs describe. */
static cf_flow exerciser_repeat(cf_run *run)
{
    cf_retry_policy tick_policy = {0};
    cf_repeat_opts opts = {
        .every_ms = cf_kwarg_int(run, "repeat_every_ms", 1000),
        .timeout_ms = cf_kwarg_int(run, "repeat_timeout_ms", 0),
        .till = ticks_done,
        .on_error = strcmp(cf_kwarg_str(run, "repeat_on_error", "continue"), "stall") == 0
                        ? CF_REPEAT_STALL
                        : CF_REPEAT_CONTINUE,
    };
    if (cf_kwarg_len(run, "repeat_max_attempts") >= 0 ||
        cf_kwarg_len(run, "repeat_backoff_ms") >= 0) {
        tick_policy.max_attempts = (int)cf_kwarg_int(run, "repeat_max_attempts", 3);
        tick_policy.base_ms = cf_kwarg_int(run, "repeat_backoff_ms", 1000);
        tick_policy.cap_ms = 10 * tick_policy.base_ms;
        opts.policy = &tick_policy;
    }
    return cf_durably_repeat(run, "tick", exerciser_tick, NULL, &opts);
}

static cf_flow gate_open(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    *met = access(cf_kwarg_str(run, "gate_file", ""), F_OK) == 0;
    return CF_FLOW_OK;
}

/* step_policy fills *scratch from the kwargs and returns it, or NULL (the default policy). */
static const cf_retry_policy *step_policy(cf_run *run, cf_retry_policy *scratch)
{
    if (cf_kwarg_len(run, "step_max_attempts") < 0 && cf_kwarg_len(run, "step_backoff_ms") < 0)
        return NULL;
    scratch->max_attempts = (int)cf_kwarg_int(run, "step_max_attempts", 3);
    scratch->base_ms = cf_kwarg_int(run, "step_backoff_ms", 1000);
    scratch->cap_ms = 10 * scratch->base_ms;
    return scratch;
}

static cf_flow cleanup_step(cf_run *run, void *arg)
{
    (void)arg;
    append_ledger(run, "on_cancel");
    if (cf_run_attempt(run) <= cf_kwarg_int(run, "cleanup_fail_first", 0))
        return cf_fail(run, "Exerciser.CleanupFailed", "cleanup fails on attempt %d by request",
                       cf_run_attempt(run));
    const char *reason = cf_run_cancel_reason(run);
    return cf_ctx_set_str(run, "cancel_reason", reason ? reason : "");
}

static cf_flow exerciser_on_cancel(cf_run *run)
{
    cf_retry_policy scratch = {0};
    return cf_durably_execute(run, "cleanup", cleanup_step, NULL, step_policy(run, &scratch));
}

/* ---- children ---- */

typedef struct kids_arg {
    int64_t batch, pause_ms, stall;
    char kw[1200];
} kids_arg;

static cf_flow kid_item(cf_run *run, void *argp, int64_t i, const char **cls, const char **kw)
{
    kids_arg *a = argp;
    if (i > 0 && i % a->batch == 0)
        sleep_ms(a->pause_ms);
    json_t *o = json_pack("{sI}", "steps", (json_int_t)cf_kwarg_int(run, "child_steps", 1));
    const char *ledger = cf_kwarg_str(run, "ledger", NULL);
    if (o && ledger)
        json_object_set_new(o, "ledger", json_string(ledger));
    if (o && cf_kwarg_int(run, "child_sleep_ms", 0) > 0)
        json_object_set_new(o, "sleep_ms", json_integer(cf_kwarg_int(run, "child_sleep_ms", 0)));
    if (o && cf_kwarg_str(run, "child_gate_file", NULL))
        json_object_set_new(o, "gate_file", json_string(cf_kwarg_str(run, "child_gate_file", "")));
    if (o && i == a->stall) {
        json_object_set_new(o, "fail_first", json_integer(1));
        json_object_set_new(o, "step_max_attempts", json_integer(1));
    }
    int n = o ? json_dumpb(o, a->kw, sizeof a->kw - 1, JSON_COMPACT) : 0;
    json_decref(o);
    if (n <= 0 || (size_t)n >= sizeof a->kw)
        return cf_fail(run, "Exerciser.Kwargs", "cannot build the kwargs of child %lld",
                       (long long)i);
    a->kw[n] = '\0';
    *cls = "Exerciser";
    *kw = a->kw;
    return CF_FLOW_OK;
}

static cf_flow spawn_kids(cf_run *run, void *arg)
{
    kids_arg *a = arg;
    cf_spawn_opts opts = {.batch = (int)a->batch};
    return cf_spawn_each(run, "kid", cf_kwarg_int(run, "children", 0), kid_item, a, &opts);
}

static cf_flow count_kids(cf_run *run, void *arg)
{
    (void)arg;
    cf_branch_counts c;
    CF_TRY(cf_branch_count(run, "kids", &c));
    CF_TRY(cf_ctx_set_int(run, "children_completed", c.completed));
    return cf_ctx_set_int(run, "children_not_completed", c.spawned - c.completed);
}

static cf_flow children(cf_run *run)
{
    kids_arg a = {.batch = cf_kwarg_int(run, "spawn_batch", 1000),
                  .pause_ms = cf_kwarg_int(run, "spawn_pause_ms", 0),
                  .stall = cf_kwarg_int(run, "stall_kid", -1)};
    if (a.batch < 1)
        a.batch = 1;
    CF_TRY(cf_branch(run, "kids", spawn_kids, &a, NULL));
    const char *trouble = cf_kwarg_str(run, "child_trouble", "wait");
    cf_merge_opts mo = {
        .on_trouble = strcmp(trouble, "fail") == 0       ? CF_MERGE_FAIL
                      : strcmp(trouble, "continue") == 0 ? CF_MERGE_CONTINUE
                                                         : CF_MERGE_WAIT,
        .timeout_ms = cf_kwarg_int(run, "merge_timeout_ms", 0),
    };
    CF_TRY(cf_merge(run, "kids", (const char *const[]){"kids"}, 1, &mo));
    return cf_durably_execute(run, "count_kids", count_kids, NULL, NULL);
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
    if (cf_run_scheduled_at_ms(run) > 0)
        CF_TRY(cf_ctx_set_int(run, "scheduled_at", cf_run_scheduled_at_ms(run)));
    cf_retry_policy scratch = {0};
    const cf_retry_policy *policy = step_policy(run, &scratch);
    for (int64_t i = 1; i <= steps; i++) {
        step_arg arg = {.number = (int)i};
        snprintf(arg.name, sizeof arg.name, "step_%d", (int)i);
        CF_TRY(cf_durably_execute(run, arg.name, exerciser_step, &arg, policy));
        if (i == 1 && cf_kwarg_int(run, "wait_ms", 0) > 0)
            CF_TRY(cf_wait(run, "pause", cf_kwarg_int(run, "wait_ms", 0)));
        if (i == 1)
            CF_TRY(await_signals(run));
    }
    if (cf_kwarg_int(run, "children", 0) > 0)
        CF_TRY(children(run));
    if (cf_kwarg_int(run, "repeat_ticks", 0) > 0)
        CF_TRY(exerciser_repeat(run));
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
        .on_cancel = exerciser_on_cancel,
        .description = "test workflow driven by its kwargs (benchmarks and fault tests)",
    };
    return cf_register(&def);
}
