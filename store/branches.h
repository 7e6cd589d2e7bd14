// SPDX-License-Identifier: MIT
/* store/branches.h: reads of branches (SPEC §3, chrono_forge_branches and the children's parent
 * link): a branch's row and its children counted by state, for a parent's merge and outcomes
 * (engine/branch.c through the store port) and for `chronoforge status` / `list --parent`. The
 * writes happen in the write-set statement (store/sql.c, BRANCH_CTES). */
#ifndef CF_STORE_BRANCHES_H
#define CF_STORE_BRANCHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/query.h"
#include "store/store.h"

typedef enum cf_branch_state {
    CF_BRANCH_NONE = 0, /* no row: never dispatched */
    CF_BRANCH_OPEN,     /* its body may still dispatch children */
    CF_BRANCH_SEALED,   /* its body is done and never runs again */
    CF_BRANCH_MERGED,   /* a merge of it completed */
} cf_branch_state;

/* cf_branch_row: one branch of one workflow. by_state (filled only when asked) counts its
 * children per workflow state (index cf_wf_state; unknown states under CF_WF_UNKNOWN). */
typedef struct cf_branch_row {
    char name[201];
    cf_branch_state state;
    int64_t spawned;   /* children inserted */
    int64_t remaining; /* children not finished (completed) yet */
    bool counted;
    int64_t by_state[CF_WF_STATE_COUNT];
} cf_branch_row;

const char *cf_branch_state_name(cf_branch_state st);

/* cf_store_branch_get reads branch name of workflow_id into *out (state CF_BRANCH_NONE when
 * there is no row), and counts its children by state when counts is true. Blocks. */
CF_MUST_CHECK cf_status cf_store_branch_get(cf_store *s, int64_t workflow_id, const char *name,
                                            bool counts, cf_branch_row *out);

/* cf_store_branches_of reads every branch of workflow_id, by name, each with its children
 * counted by state: *rows (owned; cf_free) and *n. Blocks. */
CF_MUST_CHECK cf_status cf_store_branches_of(cf_store *s, int64_t workflow_id, cf_branch_row **rows,
                                             size_t *n);

/* cf_store_children_of lists the children of parent_id in id order, keyset pages after
 * after_id, limit 1..1000 (0: 50), as cf_store_list does. *out owned. */
CF_MUST_CHECK cf_status cf_store_children_of(cf_store *s, int64_t parent_id, int64_t after_id,
                                             size_t limit, cf_wf_list *out);

#endif
