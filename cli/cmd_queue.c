// SPDX-License-Identifier: MIT
/* cli/cmd_queue.c: `chronoforge queue pause|resume Q`: stop and restart taking from a queue.
 * The flag is written to Postgres first (its mirror, from which healing restores Redis), then
 * to Redis's P:{Q}:paused, which workers' take and promote scripts read (worker/queue_pause.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "queue/keys.h"
#include "worker/queue_pause.h"

typedef struct queue_opts {
    char by[320];
} queue_opts;

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    queue_opts *o = arg;
    cf_cli_who(o->by, sizeof o->by);
    if (ctx->args.npos != 2)
        return cf_cli_usage(ctx, "give pause or resume, and a queue");
    const char *sub = ctx->args.pos[0];
    if (strcmp(sub, "pause") != 0 && strcmp(sub, "resume") != 0)
        return cf_cli_usage(ctx, "unknown subcommand '%s' (pause or resume)", sub);
    if (!cf_queue_name_valid(ctx->args.pos[1]))
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "queue must be [A-Za-z0-9_.-]{1,64}, not '%s'",
                             ctx->args.pos[1]);
    return CF_OK;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const queue_opts *o = arg;
    bool pause = strcmp(ctx->args.pos[0], "pause") == 0;
    const char *queue = ctx->args.pos[1];
    bool told = false;
    cf_status st = cf_queue_pause_apply(ctx->store, ctx->queue, queue, pause, o->by, &told);
    if (st != CF_OK)
        return st;
    if (!told)
        return cf_cli_refuse(ctx, CF_ERR_UNAVAILABLE,
                             "queue %s is %s in Postgres but Redis could not be told (%s); the "
                             "healing pass will set it",
                             queue, pause ? "paused" : "resumed", cf_queue_errstr(ctx->queue));
    printf("%s queue %s%s\n", pause ? "paused" : "resumed", queue,
           pause ? ": workers stop taking from it within a second; its envelopes stay" : "");
    return CF_OK;
}

int cf_cli_cmd_queue(int argc, char **argv)
{
    queue_opts o = {0};
    static const cf_cli_opt opts[] = {{0}};
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "queue pause|resume QUEUE",
                .summary = "Pauses a queue: workers stop taking from it within a second and "
                           "leave its envelopes where they are; running passes finish; its due "
                           "wakes wait; healing publishes nothing into it. Resume restarts it. "
                           "The flag is kept in Postgres too, so it survives a Redis data loss.",
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
