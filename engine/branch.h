// SPDX-License-Identifier: MIT
/* engine/branch.h: what the rest of the engine asks of branches (engine/branch.c; the public
 * primitives are in chronoforge.h): the branch changes a commit carries, what happens once it
 * is durable, the parent wakes a pass leaves, and the completion gate. */
#ifndef CF_ENGINE_BRANCH_H
#define CF_ENGINE_BRANCH_H

#include "engine/effects.h"
#include "engine/run.h"

/* A parent halted on a merge looks again after this long even when no child woke it (a
 * backstop; the child that finishes a branch wakes it at once). */
#define CF_MERGE_RECHECK_MS 300000

/* Children's contexts read back by cf_branch_outcome are refused above this size. */
#define CF_BRANCH_OUTCOME_MAX 65536

/* cf_branch_fill_ws adds the run's pending branch changes to ws (borrowed until the commit
 * returns) and points ws->wake_out at wake. */
void cf_branch_fill_ws(cf_run *run, cf_write_set *ws, cf_ws_wake *wake);

/* cf_branch_committed: the commit that carried the pending changes is durable. The children it
 * created are handed to the run's sink (or kept for the pass's end), a parent it woke is kept
 * for the pass's end, and the pending changes are dropped. */
void cf_branch_committed(cf_run *run, const cf_ws_wake *wake);

/* cf_branch_discard drops the pending changes of a commit that failed. */
void cf_branch_discard(cf_run *run);

/* cf_branch_take_effects moves the effects kept for the pass's end onto *to (appending). */
cf_status cf_branch_take_effects(cf_run *run, cf_effects *to);

/* cf_branch_unmerged returns a branch opened in this pass and never merged, or NULL. */
const char *cf_branch_unmerged(cf_run *run);

/* cf_branch_pass_free frees the run's branch state (NULL-safe). */
void cf_branch_pass_free(cf_run *run);

#endif
