// SPDX-License-Identifier: MIT
/* cli/render_branches.c: a workflow's branches with their children's counts, as text and JSON. */
#include "cli/render_branches.h"

void cf_render_branches_text(FILE *out, const cf_branch_row *rows, size_t n)
{
    if (n == 0)
        return;
    fprintf(out, "branches:\n  %-24s %-7s %8s %8s %8s %9s %14s\n", "NAME", "STATE", "SPAWNED",
            "WAITING", "RUNNING", "COMPLETED", "FAILED/STALLED");
    for (size_t i = 0; i < n; i++) {
        const cf_branch_row *b = &rows[i];
        fprintf(out, "  %-24s %-7s %8lld %8lld %8lld %9lld %7lld/%lld\n", b->name,
                cf_branch_state_name(b->state), (long long)b->spawned,
                (long long)b->by_state[CF_WF_IDLE], (long long)b->by_state[CF_WF_RUNNING],
                (long long)b->by_state[CF_WF_COMPLETED], (long long)b->by_state[CF_WF_FAILED],
                (long long)b->by_state[CF_WF_STALLED]);
    }
}

json_t *cf_render_branches_obj(const cf_branch_row *rows, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const cf_branch_row *b = &rows[i];
        json_t *o = json_pack("{ss ss sI sI sI sI sI sI sI}", "name", b->name, "state",
                              cf_branch_state_name(b->state), "spawned", (json_int_t)b->spawned,
                              "remaining", (json_int_t)b->remaining, "waiting",
                              (json_int_t)b->by_state[CF_WF_IDLE], "running",
                              (json_int_t)b->by_state[CF_WF_RUNNING], "completed",
                              (json_int_t)b->by_state[CF_WF_COMPLETED], "failed",
                              (json_int_t)b->by_state[CF_WF_FAILED], "stalled",
                              (json_int_t)b->by_state[CF_WF_STALLED]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
