// SPDX-License-Identifier: MIT
/* cli/render_branches.h: a workflow's branches (store/branches.h) on a terminal and in --json
 * output, for `chronoforge status`. */
#ifndef CF_CLI_RENDER_BRANCHES_H
#define CF_CLI_RENDER_BRANCHES_H

#include <stdio.h>

#include <jansson.h>

#include "store/branches.h"

/* cf_render_branches_text prints a "branches:" table (nothing when n is 0). */
void cf_render_branches_text(FILE *out, const cf_branch_row *rows, size_t n);

/* cf_render_branches_obj returns a JSON array of the branches (owned; NULL on OOM). */
json_t *cf_render_branches_obj(const cf_branch_row *rows, size_t n);

#endif
