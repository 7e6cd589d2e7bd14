// SPDX-License-Identifier: MIT
/* engine/run.h: the state of one pass of one workflow (struct cf_run, opaque to workflow
 * authors): identity, stored kwargs and context, the steps Postgres knows, the writes pending
 * for the next commit, and why the pass halted. The executor creates it; primitives
 * (engine/primitives.c) and accessors (engine/inputs.c) use it.
 *
 * Pending writes: a step's completion is kept pending until the next durable point (the start
 * of the next durably_execute, or the end of the pass). With a lazy begin (cf_run_set_lazy)
 * the begin rides on the first commit, so a one-step workflow costs one commit; otherwise two:
 * the run's begin and its end. A step's side effects never start before every earlier
 * completion is durable (cf_run_flush). */
#ifndef CF_ENGINE_RUN_H
#define CF_ENGINE_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "chronoforge.h"
#include "common/arena.h"
#include "common/log.h"
#include "engine/effects.h"
#include "engine/store_port.h"
#include "store/context.h"
#include "store/store.h"

/* Why a pass halted (set by the primitive that returned CF_FLOW_HALT). */
typedef enum cf_halt_kind {
    CF_HALT_NONE = 0,
    CF_HALT_WAKE,     /* idle until wake_at_ms: wait, poll, retry backoff, shutdown */
    CF_HALT_EXTERNAL, /* idle with nothing scheduled: continue_if */
    CF_HALT_STALL,    /* a step exhausted its policy, a wait_until timed out */
    CF_HALT_ABANDON,  /* the fence moved or the store failed: write nothing more */
    CF_HALT_CANCEL,   /* a commit said the workflow was cancelled: nothing more runs */
    CF_HALT_FAIL,     /* fail the workflow now, with the error already noted (a merge whose
                         child failed, CF_MERGE_FAIL) */
} cf_halt_kind;

/* The run's view of one step: loaded from the store, then updated as the pass goes. */
typedef struct cf_run_step {
    char *name; /* arena */
    cf_step_state state;
    int attempts;
    json_t *metadata; /* owned ref, never NULL (an object) */
    int64_t started_at_ms;
} cf_run_step;

/* cf_run_sink: where a pass's mid-pass effects go right after the commit that made them
 * durable (children's first envelopes, engine/branch.c): the worker publishes them at once.
 * NULL publish: they join the effects of the pass's end (cf_finish_result). */
typedef struct cf_run_sink {
    cf_status (*publish)(void *arg, const cf_effects *fx);
    void *arg;
} cf_run_sink;

/* cf_run_cascade: what a cancelled workflow's cleanup pass does before its on_cancel (the
 * worker cancels the workflow's unfinished children, worker/cancel.h); NULL: nothing. A failure
 * halts the pass, which runs again (cancelling is healed like idle). */
typedef struct cf_run_cascade {
    cf_status (*cancel_children)(void *arg, cf_run *run);
    void *arg;
} cf_run_cascade;

/* The clock a pass reads (Unix ms): the real one unless a test sets another after cf_run_init. */
typedef struct cf_run_clock {
    int64_t (*now_ms)(void *arg);
    void *arg;
} cf_run_clock;

struct cf_run {
    /* identity and inputs */
    const cf_workflow_def *def;
    cf_store_port store;
    cf_run_clock clock;
    cf_wf_row row; /* from cf_store_run_begin: id, fence, kwargs, queue, attempt, ... */
    cf_context ctx;
    const atomic_bool *stopping; /* worker shutdown: halt before starting another step */
    cf_log_ctx log;

    /* steps known, in a small open-addressing table */
    cf_run_step *steps;
    size_t nsteps, steps_cap;
    uint32_t *index; /* 1-based positions into steps; 0 = empty slot */
    size_t index_cap;

    /* writes waiting for the next durable point */
    cf_ws_step *pending;
    size_t npending, pending_cap;
    cf_ws_error *errors;
    size_t nerrors, errors_cap;

    /* signals consumed by awaits of this pass, committed with the next write set
     * (engine/signals.c), and the signal the pass halted awaiting (NULL: none) */
    cf_ws_signal_use *sig_uses;
    size_t nsig_uses, sig_uses_cap;
    const char *await_name;

    /* a step completion was recorded this pass: the workflow-level retry budget starts over */
    bool progressed;

    /* Cancellation (store/cancel.h). cleanup: this pass runs the class's on_cancel (the row
     * carried a cancel request when it began; steps are named `on_cancel$<name>`).
     * cancel_seen: a commit of this pass found a cancel request on the row, so a body pass
     * stops at its next primitive (CF_HALT_CANCEL) and its end leaves the workflow cancelling. */
    bool cleanup;
    bool cancel_seen;

    /* A lazy begin not made yet (docs/healing.md, "lazy window"): the run read its row without
     * locking it, and its first commit carries the begin as a compare-and-set on the fence it
     * read. lazy_until_ms bounds the window: a step that starts at or after it first makes
     * the begin durable alone (0: no bound). */
    bool lazy_open;
    cf_ws_lazy lazy;
    int64_t lazy_until_ms;

    /* the current step (inside its function) */
    bool in_step;
    int attempt;

    /* an error recorded by cf_fail */
    bool failed;
    char fail_class[129];
    char fail_msg[1024];

    /* why the pass stops */
    cf_halt_kind halt;
    int64_t wake_at_ms;
    cf_status abandon_status;

    /* durably_repeat (engine/repeat.c): tick rows kept per repeat (the worker's
     * repeat-keep-ticks; 0: all), and the old ones the next commit deletes */
    int repeat_keep_ticks;
    bool repeat_prune_set;
    cf_ws_repeat_prune repeat_prune;
    struct cf_branch_pass *branches; /* branches of this pass (engine/branch.c); NULL: none */
    cf_run_sink sink;
    cf_run_cascade cascade;

    cf_arena arena;                     /* strings that live as long as the pass */
    struct cf_class_stats *class_stats; /* its class's metrics row, looked up once per pass */
};

/* Tick rows a repeat keeps unless the worker says otherwise (--repeat-keep-ticks). */
#define CF_REPEAT_KEEP_TICKS_DEFAULT 1000

/* cf_run_init prepares run for a pass over row (ownership of row's JSON moves to run) and the
 * loaded steps (borrowed; copied), committing through store (copied; NULL: none, every commit
 * fails with CF_ERR_STATE). The clock is the real one. Returns CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_run_init(cf_run *run, const cf_workflow_def *def,
                                    const cf_store_port *store, cf_wf_row *row,
                                    const cf_step_list *steps, const atomic_bool *stopping,
                                    const char *jid);
void cf_run_deinit(cf_run *run);

/* cf_run_set_lazy makes the pass's begin lazy (docs/healing.md): the row given to cf_run_init
 * was read at fence_read (0: no row; then row.id is 0) and nothing was written; the first
 * commit begins the run by compare-and-set, with queue and lock_value (copied) and the row's
 * kwargs and options. bound_ms > 0: a step starting bound_ms or more after now first commits
 * the begin alone. Returns CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_run_set_lazy(cf_run *run, const char *queue, const char *lock_value,
                                        int64_t fence_read, int64_t bound_ms);

/* cf_run_now returns the pass's clock in Unix ms. */
int64_t cf_run_now(const cf_run *run);

/* cf_run_step_find returns the run's view of step name, or NULL. */
cf_run_step *cf_run_step_find(cf_run *run, const char *name);

/* cf_run_note_step records a step write: updates the run's view and queues the row for the
 * next commit (replacing an earlier pending write of the same step). metadata is borrowed
 * (NULL keeps the step's current metadata). error_* may be NULL. A completion (CF_STEP_COMPLETED)
 * marks the pass as having made progress (run->progressed). */
CF_MUST_CHECK cf_status cf_run_note_step(cf_run *run, const char *name, cf_step_state state,
                                         int attempts, json_t *metadata, const char *error_class,
                                         const char *error_message);

/* cf_run_note_error queues an error-log row (step_name NULL: workflow-level), with the context
 * as it is now. */
CF_MUST_CHECK cf_status cf_run_note_error(cf_run *run, const char *step_name, int attempt,
                                          const char *error_class, const char *message);

/* cf_run_note_signal_use queues the consumption of signal row signal_row_id by await step
 * step_name (copied) for the next commit. */
CF_MUST_CHECK cf_status cf_run_note_signal_use(cf_run *run, int64_t signal_row_id,
                                               const char *step_name);

/* cf_run_flush commits the pending writes (CONTINUE outcome) if there are any or the context
 * changed. On CF_ERR_CONFLICT or another failure the run is marked abandoned.
 * Every commit of a pass that recorded a step completion also resets the stored workflow-level
 * retry counts to {} (unless the caller passes its own), together with the completion. */
CF_MUST_CHECK cf_status cf_run_flush(cf_run *run);

/* cf_run_workflow_budget returns the workflow-level retry counts a body error of this pass is
 * counted against (owned; NULL on OOM): the stored ones, or {} when the pass recorded a step
 * completion (the budget counts consecutive failed passes, SPEC §4). */
json_t *cf_run_workflow_budget(const cf_run *run);

/* cf_run_finish commits the pending writes with the final outcome (next_wake_at for HALT). */
CF_MUST_CHECK cf_status cf_run_finish(cf_run *run, cf_ws_outcome outcome, int64_t next_wake_at_ms,
                                      int attempt, json_t *retry_counts);

/* cf_run_halt sets why the pass stops and returns CF_FLOW_HALT. */
cf_flow cf_run_halt(cf_run *run, cf_halt_kind kind, int64_t wake_at_ms);

/* cf_run_abandon marks the pass abandoned because of st and returns CF_FLOW_HALT. */
cf_flow cf_run_abandon(cf_run *run, cf_status st);

#endif
