// SPDX-License-Identifier: MIT
/* cli/cmd_requeue.c: `chronoforge requeue KEY`: retry_later of a stalled or failed workflow (a
 * retry_workflow envelope the next worker runs). */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "common/buf.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "store/query.h"

typedef struct requeue_opts {
    const char *wf_class;
} requeue_opts;

/* push_retry publishes a retry_workflow envelope for row on its queue. */
static cf_status push_retry(cf_cli_ctx *ctx, const cf_wf_row *row)
{
    cf_envelope env;
    cf_error err = {0};
    if (cf_envelope_init_job(&env, row->wf_class, row->key, row->queue, &err) != CF_OK)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "%s", err.msg);
    env.retry_workflow = true;
    cf_buf buf = CF_BUF_INIT;
    cf_status st = cf_envelope_encode(&env, &buf);
    if (st == CF_OK)
        st = cf_enqueue(ctx->redis, ctx->args.cfg.prefix, row->queue, buf.data, buf.len);
    if (st == CF_OK)
        printf("requeued %s/%s (was %s): %s\n", row->wf_class, row->key, row->state, env.jid);
    else
        st = cf_cli_refuse(ctx, st, "enqueue failed: %s", cf_redis_errstr(ctx->redis));
    cf_buf_deinit(&buf);
    cf_envelope_deinit(&env);
    return st;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const requeue_opts *o = arg;
    const char *key = ctx->args.pos[0];
    cf_wf_row row = {0};
    cf_status st = cf_store_find(ctx->store, o->wf_class, key, &row);
    if (st == CF_ERR_NOT_FOUND)
        return cf_cli_refuse(ctx, st, "no workflow with key '%s'%s%s", key,
                             o->wf_class ? " and class " : "", o->wf_class ? o->wf_class : "");
    if (st != CF_OK)
        return st;
    if (strcmp(row.state, "stalled") != 0 && strcmp(row.state, "failed") != 0)
        st = cf_cli_refuse(ctx, CF_ERR_STATE,
                           "workflow %s/%s is %s; only stalled or failed workflows can be requeued",
                           row.wf_class, row.key, row.state);
    else
        st = push_retry(ctx, &row);
    cf_wf_row_deinit(&row);
    return st;
}

int cf_cli_cmd_requeue(int argc, char **argv)
{
    requeue_opts o = {0};
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class, when the key is used by several", &o.wf_class,
         NULL},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "requeue KEY [--class CLASS]",
                .summary = "Resumes a stalled or failed workflow (retry_later): its failed step "
                           "gets a fresh retry budget; attempt numbers keep counting. Other "
                           "states are refused and nothing is enqueued.",
                .min_positional = 1,
                .max_positional = 1,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE | CF_CLI_NEEDS_REDIS,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}
