// SPDX-License-Identifier: MIT
/* chronoforge.h: the one public header. Workflow authors write plain C functions against it,
 * register them by class name and hand their binary's main() to cf_main(), which gives it every
 * command of the `chronoforge` CLI (docs/SPEC.md §5).
 *
 * A workflow is replayed from its top on every delivery. Durable primitives (cf_durably_execute,
 * cf_wait, cf_wait_until, cf_continue_if) look up their step in Postgres: a completed step is
 * skipped, the next one runs. When a primitive must stop the pass (a wait not yet due, a retry
 * with backoff, a stall), it returns CF_FLOW_HALT and the workflow function must return it at once:
 *
 *     static cf_flow onboarding(cf_run *run)
 *     {
 *         CF_TRY(cf_durably_execute(run, "create_account", create_account, NULL, NULL));
 *         CF_TRY(cf_wait(run, "cool_off", 2000));
 *         CF_TRY(cf_durably_execute(run, "send_welcome", send_welcome, NULL, NULL));
 *         return CF_FLOW_OK;
 *     }
 *
 * Code between primitives runs again on every pass; steps run at least once and may run again
 * when a worker dies mid-step, so a step with outside effects must be idempotent.
 * Strings returned by accessors are owned by the run and valid until the pass ends. */
#ifndef CHRONOFORGE_H
#define CHRONOFORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CF_VERSION_MAJOR  0
#define CF_VERSION_MINOR  1
#define CF_VERSION_PATCH  0
#define CF_VERSION_STRING "0.1.0"

/* cf_version returns CF_VERSION_STRING of the library actually linked. */
const char *cf_version(void);

/* ---- Flow control ---- */

/* What a workflow, a step or a primitive returns. */
typedef enum cf_flow {
    CF_FLOW_OK = 0, /* go on (from a workflow function: the workflow is complete) */
    CF_FLOW_HALT =
        1, /* stop this pass now; the executor knows why (wait, retry, stall, shutdown) */
    CF_FLOW_ERROR = 2, /* an error was recorded with cf_fail() */
} cf_flow;

/* CF_TRY returns from the calling function unless expr gave CF_FLOW_OK. */
#define CF_TRY(expr)                                                                               \
    do {                                                                                           \
        cf_flow cf_try_flow_ = (expr);                                                             \
        if (cf_try_flow_ != CF_FLOW_OK)                                                            \
            return cf_try_flow_;                                                                   \
    } while (0)

typedef struct cf_run cf_run; /* one pass of one workflow; valid inside the workflow call */

/* cf_fail records an error of error_class (dotted, e.g. "Net.Timeout"; [A-Za-z0-9_.:]) with a
 * printf message, and returns CF_FLOW_ERROR for the caller to return. From a step function, it
 * fails that step (retried by its policy, then the workflow stalls); from the workflow function, it
 * is a workflow-level error (retried by the workflow policy, then the workflow fails). */
cf_flow cf_fail(cf_run *run, const char *error_class, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Retry policies ---- */

/* A retry policy. delay(n) = min(cap, base * 2^(n-1)), drawn from [delay/2, delay] with jitter.
 * retry_on lists error-class prefixes (NULL-terminated; "Net" matches "Net.Timeout"); NULL
 * means every class. max_attempts counts executions (0: no cap). Chain policies with or_else
 * to build a composite: the first policy whose retry_on matches the error decides, with its own
 * budget kept in Postgres. */
typedef struct cf_retry_policy {
    int max_attempts;
    int64_t base_ms;
    int64_t cap_ms;
    bool no_jitter;
    const char *const *retry_on;
    const struct cf_retry_policy *or_else;
} cf_retry_policy;

/* A policy that never retries (the default of cf_wait_until). */
extern const cf_retry_policy cf_retry_none;

/* ---- Primitives ---- */

typedef cf_flow (*cf_step_fn)(cf_run *run, void *arg);
typedef cf_flow (*cf_cond_fn)(cf_run *run, void *arg, bool *met);

/* cf_durably_execute runs fn(run, arg) once, durably: a completed step is skipped on replay. On
 * an error the step is retried with policy (NULL: the workflow's step policy, else 3 attempts,
 * 1 s base, 30 s cap); when the policy is exhausted the workflow stalls. name: [^$]{1,200}. */
cf_flow cf_durably_execute(cf_run *run, const char *name, cf_step_fn fn, void *arg,
                           const cf_retry_policy *policy);

/* cf_wait halts until duration_ms after the first time the pass reached it (the target time is
 * recorded then and never moves). */
cf_flow cf_wait(cf_run *run, const char *name, int64_t duration_ms);

/* cf_wait_until evaluates cond now and then every check_interval_ms until it is met or
 * timeout_ms has passed since the first evaluation; a timeout is an error of class "Timeout"
 * and stalls the workflow. An error from cond is retried by policy (NULL: never). */
cf_flow cf_wait_until(cf_run *run, const char *name, cf_cond_fn cond, void *arg, int64_t timeout_ms,
                      int64_t check_interval_ms, const cf_retry_policy *policy);

/* cf_continue_if evaluates cond; when it is not met the workflow halts with nothing scheduled
 * until it is enqueued again (e.g. by a webhook handler through a client). An error from cond
 * stalls the workflow. */
cf_flow cf_continue_if(cf_run *run, const char *name, cf_cond_fn cond, void *arg);

/* ---- Periodic steps ---- */

/* A tick: runs once per tick of a repeat, as a step; tick_ms is its scheduled time (Unix ms). */
typedef cf_flow (*cf_tick_fn)(cf_run *run, void *arg, int64_t tick_ms);

/* What a tick whose retry policy is exhausted does. */
typedef enum cf_repeat_on_error {
    CF_REPEAT_CONTINUE = 0, /* record it failed and go on with the next tick */
    CF_REPEAT_STALL = 1,    /* stall the workflow (a requeue runs the tick again) */
} cf_repeat_on_error;

/* cf_repeat_opts: the options of cf_durably_repeat. Set exactly one period: every_ms, days or
 * months. Zero-initialise and set what you need. */
typedef struct cf_repeat_opts {
    int64_t every_ms;    /* a fixed period */
    int days;            /* calendar days in tz: the wall-clock time is kept across DST */
    int months;          /* calendar months in tz: the start's day, clamped to the month's end */
    const char *tz;      /* days and months: an IANA zone ("Europe/Berlin"); NULL: "UTC" */
    int64_t start_at_ms; /* the first tick (Unix ms); 0: when the workflow first reaches it */
    cf_cond_fn till;     /* checked before each tick; met: the repeat is done (NULL: never) */
    void *till_arg;
    int64_t timeout_ms; /* a tick not run within this of its time is skipped (0: 1 hour) */
    const cf_retry_policy *policy; /* per tick (NULL: the workflow's step policy or built-in) */
    cf_repeat_on_error on_error;
} cf_repeat_opts;

/* cf_durably_repeat runs tick_fn once per tick of a grid (start + k periods, never drifting
 * with lateness) until opts->till is met, then returns CF_FLOW_OK and the workflow goes on. The
 * workflow halts between ticks. Each tick runs at least once and completes at most once; its
 * errors are retried by opts->policy, then handled by opts->on_error. After downtime, the ticks
 * more than timeout_ms old are skipped together (one summary row) and the others run, oldest
 * first. name: [^$]{1,200}. A NULL opts, no period or two, a negative value or an unknown zone
 * is an error of class "Workflow.InvalidRepeat". Rows and replay: docs/SPEC.md §4. */
cf_flow cf_durably_repeat(cf_run *run, const char *name, cf_tick_fn tick_fn, void *arg,
                          const cf_repeat_opts *opts);

/* ---- Branches: child workflows and their merge ---- */

/* A branch dispatches child workflows (ordinary workflows of any registered class, with their
 * own lock, retries and status, linked to this one as their parent); a merge waits for them.
 *
 *     static cf_flow item(cf_run *run, void *arg, int64_t i, const char **cls, const char **kw)
 *     { *cls = "ImportRow"; *kw = rows_json_at(arg, i); return CF_FLOW_OK; }
 *     static cf_flow fan_out(cf_run *run, void *arg)
 *     { return cf_spawn_each(run, "row", n_rows, item, arg, NULL); }
 *     ...
 *     CF_TRY(cf_branch(run, "rows", fan_out, arg, NULL));
 *     CF_TRY(cf_merge(run, "rows", (const char *const[]){"rows"}, 1, NULL));
 *
 * A branch's body runs on every pass until it has returned CF_FLOW_OK once (the branch is then
 * sealed, durably) and never again. Children are created durably and exactly once, in batches
 * committed with the dispatch cursor, then published: the body must produce the same items in
 * the same order until it is sealed. Child keys: "<key>$<branch>$<spawn name>" (cf_spawn) and
 * "<key>$<branch>$<spawn name>_<i>" (cf_spawn_each); a key over 256 bytes fails the spawn with
 * class "Branch.KeyTooLong". Names: [^$]{1,200}. */

typedef struct cf_spawn_opts {
    const char *queue; /* the children's queue; NULL: the child class's registered queue, else
                          "default" */
    int batch;         /* cf_spawn_each: children per dispatch commit (0: 1000) */
} cf_spawn_opts;

typedef struct cf_branch_opts {
    const cf_spawn_opts *spawn; /* defaults of the spawns inside the body given no options */
} cf_branch_opts;

/* What a merge does when a child stalls or fails (it is not finished: a requeue may still
 * complete it). */
typedef enum cf_merge_on_trouble {
    CF_MERGE_WAIT = 0, /* the branch stays open until an operator requeues the child and it
                          completes (the default) */
    CF_MERGE_FAIL,     /* once every other child finished: the parent fails
                          ("Branch.ChildFailed") */
    CF_MERGE_CONTINUE, /* once every other child finished: the merge completes; the outcomes
                          say which children did not complete */
} cf_merge_on_trouble;

typedef struct cf_merge_opts {
    cf_merge_on_trouble on_trouble;
    int64_t timeout_ms; /* > 0: the parent stalls with class "Timeout" when its branches are
                           not done this long after the merge was first reached */
} cf_merge_opts;

/* cf_item_fn gives the class and the kwargs (a JSON object text; NULL: {}) of item i (0-based)
 * of a cf_spawn_each; both are copied before the next call. */
typedef cf_flow (*cf_item_fn)(cf_run *run, void *arg, int64_t i, const char **wf_class,
                              const char **kwargs_json);

/* cf_branch opens branch name and runs body(run, arg) unless the branch is sealed. */
cf_flow cf_branch(cf_run *run, const char *name, cf_step_fn body, void *arg,
                  const cf_branch_opts *opts);

/* cf_spawn dispatches one child of class wf_class (inside a branch's body). */
cf_flow cf_spawn(cf_run *run, const char *name, const char *wf_class, const char *kwargs_json,
                 const cf_spawn_opts *opts);

/* cf_spawn_each dispatches count children, item i from item(run, arg, i, ...), resuming after
 * the last committed batch (inside a branch's body). */
cf_flow cf_spawn_each(cf_run *run, const char *name, int64_t count, cf_item_fn item, void *arg,
                      const cf_spawn_opts *opts);

/* cf_merge waits for branches[0..n) (opened earlier in this pass) to be done: sealed and every
 * child finished. Until then the workflow halts; the child whose commit finishes the last of
 * them wakes it. A workflow that completes with a branch it did not merge fails with class
 * "Branch.Unmerged". */
cf_flow cf_merge(cf_run *run, const char *name, const char *const *branches, size_t n,
                 const cf_merge_opts *opts);

/* cf_branch_outcome reads one child: spawn name and index (< 0 for a cf_spawn child) in
 * branch. *state is its state ("completed", "stalled", ...; "none" when it does not exist) and
 * *context_json its context (NULL when none); CF_FLOW_ERROR ("Branch.OutcomeTooLarge") for a
 * context over 64 KiB. Read at each call: call it inside a step to keep what it saw. */
cf_flow cf_branch_outcome(cf_run *run, const char *branch, const char *spawn, int64_t index,
                          const char **state, const char **context_json);

typedef struct cf_branch_counts {
    int64_t spawned, remaining; /* children dispatched; not completed yet */
    int64_t idle, running, completed, stalled, failed;
} cf_branch_counts;

/* cf_branch_count reads branch's counts (read at each call, as cf_branch_outcome). */
cf_flow cf_branch_count(cf_run *run, const char *branch, cf_branch_counts *out);

/* ---- Signals ---- */

/* What an await does when its timeout passes with no signal. */
typedef enum cf_await_on_timeout {
    CF_AWAIT_TIMEOUT_STALL = 0, /* an error of class "Timeout": the workflow stalls (default) */
    CF_AWAIT_TIMEOUT_RETURN,    /* the await completes with *payload_json NULL */
} cf_await_on_timeout;

typedef struct cf_await_opts {
    int64_t timeout_ms; /* from the first time the pass reached the await; 0: wait forever */
    cf_await_on_timeout on_timeout;
} cf_await_opts;

/* cf_await_signal halts until a signal named signal_name arrives (`chronoforge signal`, the
 * clients' signal(...)), durably: its step `await_signal$<step_name>` completes with the
 * signal, consumed by this await alone, in the same commit. A signal sent before the workflow
 * reaches the await is kept for it; signals of one name are consumed in the order they were
 * sent, one per await. *payload_json (owned by the run) receives the signal's payload as
 * compact JSON text ("null" for a signal sent without one), also on replay, or NULL when the
 * await timed out with CF_AWAIT_TIMEOUT_RETURN. opts NULL: no timeout. step_name: [^$]{1,200};
 * signal_name: 1-200 bytes without '$'. */
cf_flow cf_await_signal(cf_run *run, const char *step_name, const char *signal_name,
                        const cf_await_opts *opts, const char **payload_json);

/* ---- Inputs ---- */

/* Kwargs accessors. path is a key, or a path into nested values: "items[2].sku". The default
 * is returned when the value is absent or of another type. */
int64_t cf_kwarg_int(cf_run *run, const char *path, int64_t dflt);
double cf_kwarg_double(cf_run *run, const char *path, double dflt);
bool cf_kwarg_bool(cf_run *run, const char *path, bool dflt);
const char *cf_kwarg_str(cf_run *run, const char *path, const char *dflt);
/* cf_kwarg_len: elements of an array, members of an object, -1 when absent. */
int64_t cf_kwarg_len(cf_run *run, const char *path);
/* cf_kwarg_json: the value at path as compact JSON text ("" path: all kwargs); NULL if absent. */
const char *cf_kwarg_json(cf_run *run, const char *path);

/* Identity of the running workflow. */
const char *cf_run_key(cf_run *run);
const char *cf_run_class(cf_run *run);
/* cf_run_attempt: the current step's 1-based execution number (inside a step), else 0. */
int cf_run_attempt(cf_run *run);
/* cf_run_scheduled_at_ms: the tick (Unix ms) of the schedule fire that started this workflow
 * (`chronoforge schedule`, SPEC §4, schedules), or 0 when no schedule started it. */
int64_t cf_run_scheduled_at_ms(cf_run *run);
/* cf_run_cancel_reason: in a cancelled workflow (its on_cancel), the reason the cancel gave
 * ("" when none); NULL when the workflow was not cancelled. */
const char *cf_run_cancel_reason(cf_run *run);

/* ---- Context: small JSON working state, saved with each step ---- */

/* Setters return CF_FLOW_OK, or CF_FLOW_ERROR (class "Context.Invalid") for a value over 16 KiB or
 * a key that is empty or over 256 bytes. The _once forms leave an existing key alone. json setters
 * take JSON text. */
cf_flow cf_ctx_set_int(cf_run *run, const char *key, int64_t value);
cf_flow cf_ctx_set_double(cf_run *run, const char *key, double value);
cf_flow cf_ctx_set_bool(cf_run *run, const char *key, bool value);
cf_flow cf_ctx_set_str(cf_run *run, const char *key, const char *value);
cf_flow cf_ctx_set_json(cf_run *run, const char *key, const char *json);
cf_flow cf_ctx_set_once_str(cf_run *run, const char *key, const char *value);
cf_flow cf_ctx_set_once_json(cf_run *run, const char *key, const char *json);
/* cf_ctx_merge sets every member of a JSON object (all or nothing); cf_ctx_merge_once only
 * the members whose keys are absent. */
cf_flow cf_ctx_merge(cf_run *run, const char *json_object);
cf_flow cf_ctx_merge_once(cf_run *run, const char *json_object);
bool cf_ctx_has(cf_run *run, const char *key);
int64_t cf_ctx_get_int(cf_run *run, const char *key, int64_t dflt);
double cf_ctx_get_double(cf_run *run, const char *key, double dflt);
bool cf_ctx_get_bool(cf_run *run, const char *key, bool dflt);
const char *cf_ctx_get_str(cf_run *run, const char *key, const char *dflt);
const char *cf_ctx_get_json(cf_run *run, const char *key); /* NULL when absent */

/* ---- Registration ---- */

typedef cf_flow (*cf_workflow_fn)(cf_run *run);

/* A schedule declared in code (cf_workflow_def.schedules). `chronoforge migrate` creates it, or
 * replaces the definition of the schedule of that name, keeping its pause flag and last fire;
 * worker start never does (a rolling deploy would flap it). Removing one from the code leaves
 * it in Postgres: `chronoforge schedule remove NAME`. */
typedef struct cf_schedule_def {
    const char *name;         /* [A-Za-z0-9_.:@-]{1,128}, unique across the fleet */
    const char *cron;         /* a cron entry (common/cron.h), or NULL with every_ms */
    int64_t every_ms;         /* a tick every every_ms from the Unix epoch (cron NULL) */
    const char *tz;           /* the cron entry's zone (NULL: "UTC") */
    const char *kwargs_json;  /* a JSON object (NULL: {}) */
    const char *key_template; /* NULL: "{schedule}@{tick}" */
    bool overlap_allow;       /* false: skip a tick while the previous workflow is unfinished */
} cf_schedule_def;

typedef struct cf_workflow_def {
    const char *name;                   /* class name, [A-Za-z0-9_.:]{1,128} */
    cf_workflow_fn fn;                  /* the workflow body */
    const char *queue;                  /* default queue for enqueues (NULL: "default") */
    int64_t max_duration_ms;            /* lock lifetime of a run (0: the worker setting) */
    const cf_retry_policy *step_policy; /* default for steps (NULL: built-in) */
    const cf_retry_policy
        *workflow_policy; /* workflow-level errors (NULL: 10 attempts, cap 600 s) */
    /* Optional: a workflow-level policy computed per run (e.g. from kwargs); fill *scratch and
     * return it, or return NULL to use workflow_policy. */
    const cf_retry_policy *(*workflow_policy_fn)(cf_run *run, cf_retry_policy *scratch);
    const char *description;          /* one line, for `chronoforge classes` and logs */
    const cf_schedule_def *schedules; /* optional: nschedules schedules of this class */
    size_t nschedules;
    /* Optional: runs after the workflow is cancelled (SPEC §4), replayed like the body; its
     * primitives are durable steps named `on_cancel$<name>` under step_policy, run at least
     * once; cf_run_cancel_reason() says why. CF_FLOW_OK (or a step that exhausts its policy, or
     * an error: recorded) leaves the workflow cancelled. NULL: cancelled at once. */
    cf_workflow_fn on_cancel;
} cf_workflow_def;

/* cf_register adds a workflow class (def is copied; its strings and policies are borrowed and
 * must outlive the process's use of them, e.g. be static). Returns 0, or -1 with a logged
 * `event=register_refused` line (nothing registered) for an invalid or duplicate name, or a retry
 * policy that makes no sense; the message names the field, e.g. "step_policy.or_else.base_ms".
 * Refused policies (step_policy, workflow_policy and their or_else chains): negative values; cap_ms
 * below base_ms; max_attempts 0 (no cap) with base_ms 0 (no delay), which retries at once forever;
 * an empty retry_on list or prefix; an or_else after a catch-all (retry_on NULL) policy; an
 * or_else chain that loops or is longer than 16. Per-call policies and those returned by
 * workflow_policy_fn are checked the same way when used: a step given a nonsense policy fails
 * with class "Workflow.InvalidPolicy" without running and stalls the workflow; a nonsense
 * workflow_policy_fn result is logged and workflow_policy (or the built-in) applies instead.
 * Call before cf_main. */
int cf_register(const cf_workflow_def *def);

/* cf_main runs the chronoforge command line (worker, enqueue, requeue, cancel, status, list,
 * stats, workers, classes, dead, migrate, config, heal, cleanup, schedule, queue; every command
 * takes --help and --version) with the workflows registered so far. Returns the process exit
 * code: 0 done, 1 refused or failed, 2 usage. */
int cf_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
