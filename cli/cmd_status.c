// SPDX-License-Identifier: MIT
/* cli/cmd_status.c: `chronoforge status KEY` (state, step timeline, errors, context) and
 * `chronoforge list` (workflows by state and class, keyset-paged); text or --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "cli/connect.h"
#include "cli/render.h"
#include "store/query.h"

int cf_cli_cmd_status(int argc, char **argv)
{
    const char *wf_class = NULL;
    bool as_json = false;
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class, when the key is used by several", &wf_class,
         NULL},
        {"json", 0, NULL, "print JSON", NULL, &as_json},
        {0},
    };
    const cf_cli_command_spec spec = {
        .usage = "status KEY [--class CLASS] [--json]",
        .summary = "Shows one workflow: state, the timeline of its steps with times, attempts and "
                   "errors, its error log and its context.",
        .min_positional = 1,
        .max_positional = 1,
        .opts = opts,
        .scope = CF_CFG_ALL,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    cf_store *store = NULL;
    if (cf_cli_open_store("status", &a.cfg, &store))
        return 1;
    cf_wf_detail d = {0};
    cf_status st = cf_store_show(store, wf_class, a.pos[0], 0, &d);
    char why[256] = "";
    if (st != CF_OK)
        snprintf(why, sizeof why, "%s", cf_store_errstr(store));
    cf_store_close(store);
    if (st == CF_ERR_NOT_FOUND)
        return cf_cli_fail("status", "no workflow with key '%s'", a.pos[0]);
    if (st != CF_OK)
        return cf_cli_fail("status", "%s", why[0] ? why : cf_status_str(st));
    if (as_json)
        cf_render_detail_json(stdout, &d);
    else
        cf_render_detail_text(stdout, &d);
    cf_wf_detail_deinit(&d);
    return 0;
}

int cf_cli_cmd_list(int argc, char **argv)
{
    const char *state = NULL, *wf_class = NULL, *limit = NULL, *after = NULL;
    bool as_json = false;
    const cf_cli_opt opts[] = {
        {"state", 0, "STATE", "idle, running, completed, failed or stalled", &state, NULL},
        {"class", 0, "CLASS", "only this workflow class", &wf_class, NULL},
        {"limit", 0, "N", "at most N rows (1-1000, default 50)", &limit, NULL},
        {"after", 0, "ID", "the page after this id (printed as next_after)", &after, NULL},
        {"json", 0, NULL, "print JSON", NULL, &as_json},
        {0},
    };
    const cf_cli_command_spec spec = {
        .usage = "list [--state STATE] [--class CLASS] [--limit N] [--after ID] [--json]",
        .summary = "Lists workflows, oldest first, a page at a time.",
        .opts = opts,
        .scope = CF_CFG_ALL,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    cf_wf_list_filter f = {.state = state, .wf_class = wf_class};
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*end || v < 1 || v > 1000)
            return cf_cli_fail("list", "--limit takes 1-1000, not '%s'", limit);
        f.limit = (size_t)v;
    }
    if (after) {
        char *end;
        f.after_id = strtoll(after, &end, 10);
        if (*end || f.after_id < 0)
            return cf_cli_fail("list", "--after takes an id, not '%s'", after);
    }
    cf_store *store = NULL;
    if (cf_cli_open_store("list", &a.cfg, &store))
        return 1;
    cf_wf_list l = {0};
    cf_status st = cf_store_list(store, &f, &l);
    char why[256] = "";
    if (st != CF_OK)
        snprintf(why, sizeof why, "%s", cf_store_errstr(store));
    cf_store_close(store);
    if (st != CF_OK)
        return cf_cli_fail("list", "%s", why[0] ? why : cf_status_str(st));
    if (as_json)
        cf_render_list_json(stdout, &l);
    else
        cf_render_list_text(stdout, &l);
    cf_wf_list_deinit(&l);
    return 0;
}
