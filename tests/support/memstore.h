// SPDX-License-Identifier: MIT
/* tests/support/memstore.h: an in-memory store behind the engine's store port
 * (engine/store_port.h), for unit tests of replay without Postgres. It holds one workflow row,
 * its execution-log rows and its error rows, and applies what the Postgres statements apply:
 * a run begin (executable states from store/states.h, fence + 1, crash count), a requeue
 * (stalled|failed -> idle with fresh retry budgets and its `$workflow_retry$<ms>` row) and write
 * sets under their fence (upserted steps, error rows, a repeat's pruned tick rows, the
 * `$workflow_completion$` / `$workflow_failure$<id>` markers, the outcome's state), with their
 * branch changes (children inserted once per key, branch rows; engine/branch.c reads them through
 * branch_get), and a cancel (store/cancel.h: the request on the row, the conversion of a
 * releasing outcome to cancelling, the commit's cancel_out). A begin hands its run every row but
 * repetition rows, as the Postgres preload does.
 * Its clock is the tests' to move: passes read it through the run clock.
 *
 * It lives in tests/support, not in the library: an embedder or `requeue --now` resumes a real
 * workflow, whose rows are in Postgres, so nothing outside the tests needs a store in memory. */
#ifndef CF_TESTS_SUPPORT_MEMSTORE_H
#define CF_TESTS_SUPPORT_MEMSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/finish.h"
#include "engine/store_port.h"

typedef struct cf_memstore_error {
    int64_t id;
    char *step_name; /* NULL: workflow-level */
    int attempt;
    char *error_class, *message;
} cf_memstore_error;

/* cf_memstore_branch: a branch row as BRANCH_CTES (store/sql.c) keeps it; children's own
 * commits are not modelled: a test lowers remaining itself. */
typedef struct cf_memstore_branch {
    char name[201];
    cf_branch_state state;
    int64_t spawned, remaining;
} cf_memstore_branch;

#define CF_MEMSTORE_MAX_BRANCHES 8

typedef struct cf_memstore {
    bool exists;
    cf_wf_row wf;       /* the workflow row as stored */
    cf_step_list steps; /* execution-log rows in creation order, markers included */
    cf_memstore_error *errors;
    size_t nerrors, errors_cap;
    int64_t now_ms;      /* the clock (Unix ms): tests move it */
    int commits;         /* write sets applied */
    cf_status fail_next; /* when not CF_OK: the next commit fails with it, applying nothing */
    int64_t next_id;
    char err[256];
    size_t loaded_steps;   /* rows the last begin handed to its run (repetition rows never are) */
    int64_t pruned;        /* tick rows deleted by write sets' repeat prunes */
    int repeat_keep_ticks; /* the runs' repeat_keep_ticks (0: the default; < 0: keep all) */
    /* branches of the workflow, and the child keys its write sets inserted (each once: a
     * re-touched batch inserts nothing new; child_inserts counts every attempt) */
    cf_memstore_branch branches[CF_MEMSTORE_MAX_BRANCHES];
    size_t nbranches;
    char **children;
    size_t nchildren, children_cap;
    int child_inserts;
} cf_memstore;

/* cf_memstore_init: an empty store whose clock reads now_ms. */
void cf_memstore_init(cf_memstore *m, int64_t now_ms);
void cf_memstore_deinit(cf_memstore *m);

/* cf_memstore_port returns the store port of m (borrowed). */
cf_store_port cf_memstore_port(cf_memstore *m);

/* cf_memstore_begin is cf_store_run_begin on m: creates the workflow (kwargs_json: its kwargs,
 * NULL: {}) or locks it when executable (idle, running); *out and *steps are owned by the
 * caller. CF_ERR_STATE (out filled) when not executable. */
cf_status cf_memstore_begin(cf_memstore *m, const char *wf_class, const char *key,
                            const char *kwargs_json, cf_wf_row *out, cf_step_list *steps);

/* cf_memstore_requeue is cf_store_requeue (store/requeue.h) on m at m's clock, requested by
 * "test": a stalled or failed workflow becomes idle and due now, its retry_counts {}, the
 * "retry_counts" key removed from its failed steps' metadata (attempt numbers keep counting),
 * and the `$workflow_retry$<now_ms>` row (completed, metadata {previous_state, requested_by})
 * is added. A second call at the same clock finds that row and changes nothing (CF_OK), as the
 * store's idempotent retry does. CF_ERR_NOT_FOUND: no workflow; CF_ERR_STATE: not stalled or
 * failed, nothing changed. */
cf_status cf_memstore_requeue(cf_memstore *m);

/* cf_memstore_cancel is cf_store_cancel (store/cancel.h) on m at m's clock, requested by "test":
 * an idle or stalled workflow without a request becomes cancelling and due now; a running one
 * only records it (its next commit reports it, and its release leaves it cancelling). Returns
 * CF_OK (accepted), CF_ERR_NOT_FOUND, or CF_ERR_STATE (refused; nothing changed). Callable from
 * inside a step of a pass (a cancel arriving while the step runs). */
cf_status cf_memstore_cancel(cf_memstore *m, const char *reason);

/* cf_memstore_pass runs one pass as the executor does: begin, cf_run_init over m's port with
 * m's clock, cf_finish_run. *fin (may be NULL) receives how it ended (the caller then owns its
 * effects: cf_finish_result_deinit). Returns the begin's status (CF_ERR_STATE: not executable,
 * nothing ran). */
cf_status cf_memstore_pass(cf_memstore *m, const cf_workflow_def *def, cf_finish_result *fin);

/* cf_memstore_branch_find returns the branch row name, or NULL. */
cf_memstore_branch *cf_memstore_branch_find(cf_memstore *m, const char *name);

/* cf_memstore_step returns the stored row of step name, or NULL. */
const cf_step_row *cf_memstore_step(const cf_memstore *m, const char *name);

/* cf_memstore_errors_of counts the error rows of step name (NULL: workflow-level). */
size_t cf_memstore_errors_of(const cf_memstore *m, const char *step_name);

#endif
