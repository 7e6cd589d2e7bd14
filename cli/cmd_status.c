// SPDX-License-Identifier: MIT
/* cli/cmd_status.c: `chronoforge status KEY` (state, step timeline, errors, context, branches
 * and, with --children, a page of its children) and `chronoforge list` (workflows by state and
 * class, or a parent's children, keyset-paged); text or --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/render.h"
#include "cli/render_branches.h"
#include "cli/runner.h"
#include "common/alloc.h"
#include "store/branches.h"
#include "store/query.h"

typedef struct status_opts {
    const char *wf_class, *limit, *after;
    bool as_json, children;
    size_t limit_n;
    int64_t after_id;
} status_opts;

/* parse_page reads --limit (1-1000) and --after (an id) into *limit_n and *after_id. */
static cf_status parse_page(cf_cli_ctx *ctx, const char *limit, const char *after, size_t *limit_n,
                            int64_t *after_id)
{
    long v;
    if (limit && cf_cli_parse_count(ctx, "--limit", limit, 1, 1000, &v) != CF_OK)
        return CF_ERR_INVALID;
    if (limit)
        *limit_n = (size_t)v;
    if (after) {
        char *end;
        *after_id = strtoll(after, &end, 10);
        if (after[0] == '\0' || *end || *after_id < 0)
            return cf_cli_refuse(ctx, CF_ERR_INVALID, "--after takes an id, not '%s'", after);
    }
    return CF_OK;
}

static cf_status status_check(cf_cli_ctx *ctx, void *arg)
{
    status_opts *o = arg;
    return parse_page(ctx, o->limit, o->after, &o->limit_n, &o->after_id);
}

static void print_status(const status_opts *o, const cf_wf_detail *d, const cf_branch_row *br,
                         size_t nbr, const cf_wf_list *kids)
{
    if (!o->as_json) {
        cf_render_detail_text(stdout, d);
        cf_render_branches_text(stdout, br, nbr);
        if (o->children) {
            printf("children:\n");
            cf_render_list_text(stdout, kids);
        }
        return;
    }
    json_t *root = cf_render_detail_obj(d);
    if (root) {
        json_object_set_new(root, "branches", cf_render_branches_obj(br, nbr));
        if (o->children)
            json_object_set_new(root, "children", cf_render_list_obj(kids));
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
    json_decref(root);
}

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
    cf_branch_row *br = NULL;
    size_t nbr = 0;
    cf_wf_list kids = {0};
    st = cf_store_branches_of(ctx->store, d.wf.id, &br, &nbr);
    if (st == CF_OK && o->children)
        st = cf_store_children_of(ctx->store, d.wf.id, o->after_id, o->limit_n, &kids);
    if (st == CF_OK)
        print_status(o, &d, br, nbr, &kids);
    cf_wf_list_deinit(&kids);
    cf_free(br);
    cf_wf_detail_deinit(&d);
    return st;
}

int cf_cli_cmd_status(int argc, char **argv)
{
    status_opts o = {0};
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class, when the key is used by several", &o.wf_class,
         NULL},
        {"children", 0, NULL, "also list its children (a page: --limit, --after)", NULL,
         &o.children},
        {"limit", 0, "N", "children per page (1-1000, default 50)", &o.limit, NULL},
        {"after", 0, "ID", "the children after this id (printed as next_after)", &o.after, NULL},
        {"json", 0, NULL, "print JSON", NULL, &o.as_json},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "status KEY [--class CLASS] [--children [--limit N] [--after ID]] "
                         "[--json]",
                .summary = "Shows one workflow: state, the timeline of its steps with times, "
                           "attempts and errors, its error log, its context and its branches "
                           "with their children's counts.",
                .min_positional = 1,
                .max_positional = 1,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE,
        .check = status_check,
        .body = status_body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}

typedef struct list_opts {
    const char *limit, *after, *parent;
    bool as_json;
    cf_wf_list_filter f;
} list_opts;

static cf_status list_check(cf_cli_ctx *ctx, void *arg)
{
    list_opts *o = arg;
    if (o->parent && (o->f.state || o->f.wf_class))
        return cf_cli_refuse(ctx, CF_ERR_INVALID,
                             "--parent lists every child of one workflow; it takes no --state or "
                             "--class");
    return parse_page(ctx, o->limit, o->after, &o->f.limit, &o->f.after_id);
}

static cf_status list_body(cf_cli_ctx *ctx, void *arg)
{
    const list_opts *o = arg;
    cf_wf_list l = {0};
    cf_status st;
    if (o->parent) {
        cf_wf_row p = {0};
        st = cf_store_find(ctx->store, NULL, o->parent, &p);
        if (st == CF_ERR_NOT_FOUND)
            return cf_cli_refuse(ctx, st, "no workflow with key '%s'", o->parent);
        if (st == CF_OK)
            st = cf_store_children_of(ctx->store, p.id, o->f.after_id, o->f.limit, &l);
        cf_wf_row_deinit(&p);
    } else {
        st = cf_store_list(ctx->store, &o->f, &l);
    }
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
        {"parent", 0, "KEY", "the children of this workflow (its branches')", &o.parent, NULL},
        {"limit", 0, "N", "at most N rows (1-1000, default 50)", &o.limit, NULL},
        {"after", 0, "ID", "the page after this id (printed as next_after)", &o.after, NULL},
        {"json", 0, NULL, "print JSON", NULL, &o.as_json},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "list [--state STATE] [--class CLASS | --parent KEY] [--limit N] "
                         "[--after ID] [--json]",
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
