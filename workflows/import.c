// SPDX-License-Identifier: MIT
/* workflows/import.c: `FanOutImport` and its child `ImportRow`: an import that fans out to one
 * child workflow per row, waits for them all, then reports. kwargs of FanOutImport: rows (an
 * array of objects, each with a "sku"). Each row becomes the child `<key>$rows$row_<i>` with
 * kwargs {"row": <the row>}; a row without a sku stalls its child (one attempt), and the merge
 * continues without it (CF_MERGE_CONTINUE); the step "report" sets context imported and
 * rejected from the branch's counts. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "chronoforge.h"
#include "workflows/examples.h"

static const cf_retry_policy once = {.max_attempts = 1};

static cf_flow import_one(cf_run *run, void *arg)
{
    (void)arg;
    const char *sku = cf_kwarg_str(run, "row.sku", NULL);
    if (sku == NULL || *sku == '\0')
        return cf_fail(run, "Import.InvalidRow", "the row has no sku");
    /* A real import would write the row to its system here (idempotently: a step may run
     * again). */
    return cf_ctx_set_str(run, "imported_sku", sku);
}

static cf_flow import_row(cf_run *run)
{
    return cf_durably_execute(run, "import", import_one, NULL, &once);
}

/* The kwargs of row i, built in the caller's buffer (copied by cf_spawn_each at once). */
typedef struct rows_arg {
    char kw[4096];
} rows_arg;

static cf_flow row_item(cf_run *run, void *argp, int64_t i, const char **cls, const char **kw)
{
    rows_arg *a = argp;
    char path[32];
    snprintf(path, sizeof path, "rows[%lld]", (long long)i);
    const char *row = cf_kwarg_json(run, path);
    int n = snprintf(a->kw, sizeof a->kw, "{\"row\": %s}", row ? row : "{}");
    if (n < 0 || (size_t)n >= sizeof a->kw)
        return cf_fail(run, "Import.RowTooLarge", "rows[%lld] is over %zu bytes", (long long)i,
                       sizeof a->kw - 16);
    *cls = "ImportRow";
    *kw = a->kw;
    return CF_FLOW_OK;
}

static cf_flow fan_out(cf_run *run, void *arg)
{
    return cf_spawn_each(run, "row", cf_kwarg_len(run, "rows"), row_item, arg, NULL);
}

static cf_flow report(cf_run *run, void *arg)
{
    (void)arg;
    cf_branch_counts c;
    CF_TRY(cf_branch_count(run, "rows", &c));
    CF_TRY(cf_ctx_set_int(run, "imported", c.completed));
    return cf_ctx_set_int(run, "rejected", c.spawned - c.completed);
}

static cf_flow fan_out_import(cf_run *run)
{
    if (cf_kwarg_len(run, "rows") < 0)
        return cf_fail(run, "Import.NoRows", "kwargs need rows (an array)");
    rows_arg a;
    CF_TRY(cf_branch(run, "rows", fan_out, &a, NULL));
    const cf_merge_opts merge = {.on_trouble = CF_MERGE_CONTINUE};
    CF_TRY(cf_merge(run, "rows", (const char *const[]){"rows"}, 1, &merge));
    return cf_durably_execute(run, "report", report, NULL, NULL);
}

int cf_examples_register_import(void)
{
    static const cf_workflow_def parent = {
        .name = "FanOutImport",
        .fn = fan_out_import,
        .description = "one child ImportRow per row (branch + spawn_each), merge, report",
    };
    static const cf_workflow_def child = {
        .name = "ImportRow",
        .fn = import_row,
        .description = "imports one row of a FanOutImport (stalls on a row without a sku)",
    };
    return cf_register(&parent) || cf_register(&child);
}
