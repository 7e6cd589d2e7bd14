// SPDX-License-Identifier: MIT
/* cli/cmd_status.c: `chronoforge status KEY` (state, step timeline, errors, context) and
 * `chronoforge list` (workflows by state and class, keyset-paged); text or --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/render.h"
#include "cli/runner.h"
#include "store/query.h"

typedef struct status_opts {
    const char *wf_class;
    bool as_json;
} status_opts;

static cf_status status_body(cf_cli_ctx *ctx, void *arg)
{
    const status_opts *o = arg;
    const char *key = ctx->args.pos[0];
    cf_wf_detail d = {0};
    cf_status st = cf_store_show(ctx->store, o->wf_class, key, 0, &d);
    if (st == CF_ERR_NOT_FOUND)
        return cf_cli_refuse(ctx, st, "no workflow with key '%s'", key);
    if (st != CF_OK)
        return st;
    if (o->as_json)
        cf_render_detail_json(stdout, &d);
    else
        cf_render_detail_text(stdout, &d);
    cf_wf_detail_deinit(&d);
    return CF_OK;
}

int cf_cli_cmd_status(int argc, char **argv)
{
    status_opts o = {0};
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class, when the key is used by several", &o.wf_class,
         NULL},
        {"json", 0, NULL, "print JSON", NULL, &o.as_json},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "status KEY [--class CLASS] [--json]",
                .summary = "Shows one workflow: state, the timeline of its steps with times, "
                           "attempts and errors, its error log and its context.",
                .min_positional = 1,
                .max_positional = 1,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE,
        .body = status_body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}

typedef struct list_opts {
    const char *limit, *after;
    bool as_json;
    cf_wf_list_filter f;
} list_opts;

static cf_status list_check(cf_cli_ctx *ctx, void *arg)
{
    list_opts *o = arg;
    long v;
    if (o->limit && cf_cli_parse_count(ctx, "--limit", o->limit, 1, 1000, &v) != CF_OK)
        return CF_ERR_INVALID;
    if (o->limit)
        o->f.limit = (size_t)v;
    if (o->after) {
        char *end;
        o->f.after_id = strtoll(o->after, &end, 10);
        if (o->after[0] == '\0' || *end || o->f.after_id < 0)
            return cf_cli_refuse(ctx, CF_ERR_INVALID, "--after takes an id, not '%s'", o->after);
    }
    return CF_OK;
}

static cf_status list_body(cf_cli_ctx *ctx, void *arg)
{
    const list_opts *o = arg;
    cf_wf_list l = {0};
    cf_status st = cf_store_list(ctx->store, &o->f, &l);
    if (st != CF_OK)
        return st;
    if (o->as_json)
        cf_render_list_json(stdout, &l);
    else
        cf_render_list_text(stdout, &l);
    cf_wf_list_deinit(&l);
    return CF_OK;
}

int cf_cli_cmd_list(int argc, char **argv)
{
    list_opts o = {0};
    const cf_cli_opt opts[] = {
        {"state", 0, "STATE", "idle, running, completed, failed, stalled, cancelling or cancelled",
         &o.f.state, NULL},
        {"class", 0, "CLASS", "only this workflow class", &o.f.wf_class, NULL},
        {"limit", 0, "N", "at most N rows (1-1000, default 50)", &o.limit, NULL},
        {"after", 0, "ID", "the page after this id (printed as next_after)", &o.after, NULL},
        {"json", 0, NULL, "print JSON", NULL, &o.as_json},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "list [--state STATE] [--class CLASS] [--limit N] [--after ID] [--json]",
                .summary = "Lists workflows, oldest first, a page at a time.",
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE,
        .check = list_check,
        .body = list_body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}
