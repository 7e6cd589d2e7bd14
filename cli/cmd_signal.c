// SPDX-License-Identifier: MIT
/* cli/cmd_signal.c: `chronoforge signal KEY --class C NAME [--payload JSON] [--id ID]`: stores
 * a signal for a workflow in Postgres directly (store/signals.h; an idle workflow is made due
 * in the same statement), then publishes its wake. A lost wake loses nothing: the healing pass
 * republishes the due workflow. The id (random when absent) makes a resend count once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/rand.h"
#include "queue/control.h"
#include "queue/schedule.h"
#include "store/signals.h"

typedef struct signal_opts {
    const char *wf_class, *payload, *id;
    char by[320]; /* user@host */
    char gen_id[25];
} signal_opts;

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    signal_opts *o = arg;
    if (ctx->args.npos != 2)
        return cf_cli_usage(ctx, "give the workflow's KEY and the signal's NAME");
    if (!o->wf_class)
        return cf_cli_usage(ctx, "--class is required (keys are unique per class)");
    cf_cli_who(o->by, sizeof o->by);
    if (!o->id) {
        cf_rand_hex(o->gen_id, 24);
        o->id = o->gen_id;
    }
    cf_signal_send_req req = {o->wf_class, ctx->args.pos[0], ctx->args.pos[1],
                              o->id,       o->payload,       o->by};
    char why[200];
    if (cf_signal_check(&req, why, sizeof why) != CF_OK)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "%s", why);
    return CF_OK;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const signal_opts *o = arg;
    const char *key = ctx->args.pos[0], *name = ctx->args.pos[1];
    cf_signal_send_req req = {o->wf_class, key, name, o->id, o->payload, o->by};
    cf_signal_send_result res;
    cf_status st;
    for (int attempt = 1;; attempt++) { /* idempotent on the id: an unknown outcome is resent */
        st = cf_store_signal_send(ctx->store, &req, &res);
        if (!cf_status_is_transient(st) || attempt == 3)
            break;
        cf_clock_sleep_ms(cf_backoff_delay_ms(200, 2000, attempt, true), NULL);
    }
    if (st == CF_ERR_NOT_FOUND)
        return cf_cli_refuse(ctx, st, "no workflow %s/%s", o->wf_class, key);
    if (st == CF_ERR_STATE)
        return cf_cli_refuse(ctx, st, "workflow %s/%s is %s; it takes no more signals", o->wf_class,
                             key, cf_wf_state_name(res.state));
    if (st != CF_OK)
        return st;
    if (res.woke && cf_continuation_wake(ctx->queue, o->wf_class, key, res.queue) != CF_OK)
        fprintf(stderr,
                "chronoforge signal: the signal is stored but the wake was not published (%s); "
                "the healing pass will publish it\n",
                cf_queue_errstr(ctx->queue));
    printf("%s signal %s (id %s) to %s/%s (%s)\n", res.duplicate ? "already had" : "sent", name,
           o->id, o->wf_class, key, cf_wf_state_name(res.state));
    return CF_OK;
}

int cf_cli_cmd_signal(int argc, char **argv)
{
    signal_opts o = {0};
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class (required)", &o.wf_class, NULL},
        {"payload", 0, "JSON", "the signal's payload, JSON text (at most 64 KiB)", &o.payload,
         NULL},
        {"id", 0, "ID", "the signal's id (1-64 bytes; default random): a resend counts once", &o.id,
         NULL},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "signal KEY NAME --class CLASS [--payload JSON] [--id ID]",
                .summary = "Sends the signal NAME to a workflow: stored in Postgres (a resend "
                           "with the same --id counts once), then the workflow is woken. Its "
                           "cf_await_signal of that name takes it, in send order, one signal per "
                           "await; one sent before the await is kept. Refused (exit 1) for an "
                           "unknown workflow or one that is completed or failed.",
                .min_positional = 2,
                .max_positional = 2,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE | CF_CLI_NEEDS_REDIS,
        .check = check,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}
