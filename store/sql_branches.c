// SPDX-License-Identifier: MIT
/* store/sql_branches.c: the branches' reads (store/branches.c) (store/sql.h names the parameters
 * and columns of each; the table is in store/sql.c). */
#include "store/sql_text.h"

/* clang-format would pack the SQL into a right-hand column of string fragments. */
// clang-format off

/* ---- Branches (store/branches.c) ---- */

// clang-format off
/* One branch row of a workflow: $1 workflow id, $2 branch name. Returns state, spawned,
 * remaining (SPEC §3). */
const char cf_sql_branch_get[] =
    "SELECT b.state, b.spawned, b.remaining"
    " FROM " BR " b"
    " WHERE b.workflow_id = $1 AND b.name = $2";

/* A branch's children counted by state ($1 parent id, $2 branch name), over the partial
 * (parent_id, branch, state) index. */
const char cf_sql_branch_counts[] =
    "SELECT c.state, count(*)"
    " FROM " WF " c"
    " WHERE c.parent_id = $1 AND c.branch = $2"
    " GROUP BY c.state";

/* Every branch row of a workflow ($1 id), by name: name, state, spawned, remaining. */
const char cf_sql_branches_of[] =
    "SELECT b.name, b.state, b.spawned, b.remaining"
    " FROM " BR " b"
    " WHERE b.workflow_id = $1"
    " ORDER BY b.name";

/* The children of a workflow ($1 parent id), keyset pages after id $2, at most $3 rows, in id
 * order: the workflow columns. */
const char cf_sql_children_of[] =
    "SELECT " WF_COLS("c")
    " FROM " WF " c"
    " WHERE c.parent_id = $1 AND c.id > $2"
    " ORDER BY c.id LIMIT $3";
// clang-format on
// clang-format on
