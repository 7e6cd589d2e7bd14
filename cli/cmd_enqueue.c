// SPDX-License-Identifier: MIT
/* cli/cmd_enqueue.c: `chronoforge enqueue CLASS KEY`: a producer written in C, with the same
 * validation as the decoder. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/duration.h"
#include "engine/registry.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"

typedef struct enqueue_opts {
    const char *kwargs, *in, *at, *options;
    const char *queue;
    int64_t due_ms; /* 0: now */
    cf_buf encoded; /* the validated envelope */
    char jid[65];
} enqueue_opts;

/* parse_object parses text as a JSON object into *out (owned). */
static cf_status parse_object(cf_cli_ctx *ctx, const char *flag, const char *text, json_t **out)
{
    json_error_t jerr;
    *out = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (json_is_object(*out))
        return CF_OK;
    cf_status st = cf_cli_refuse(ctx, CF_ERR_INVALID, "%s must be a JSON object: %s", flag,
                                 *out ? "not an object" : jerr.text);
    json_decref(*out);
    *out = NULL;
    return st;
}

/* check builds and validates the envelope before Redis is opened. */
static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    enqueue_opts *o = arg;
    cf_error err = {0};
    if (o->in && o->at)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "give --in or --at, not both");
    if (o->in) {
        int64_t ms;
        if (cf_duration_parse_ms(o->in, &ms, &err) != CF_OK)
            return cf_cli_refuse(ctx, CF_ERR_INVALID, "--in: %s", err.msg);
        o->due_ms = cf_clock_unix_ms() + ms;
    } else if (o->at && cf_time_parse_unix_ms(o->at, &o->due_ms, &err) != CF_OK) {
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "--at: %s", err.msg);
    }
    const char *wf_class = ctx->args.pos[0], *key = ctx->args.pos[1];
    const cf_workflow_def *def = cf_registry_find(wf_class);
    o->queue = ctx->args.queues_given ? ctx->args.cfg.queues[0]
               : def && def->queue    ? def->queue
                                      : "default";
    cf_envelope env;
    if (cf_envelope_init_job(&env, wf_class, key, o->queue, &err) != CF_OK)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "%s", err.msg);
    cf_status st = CF_OK;
    if (o->kwargs)
        st = parse_object(ctx, "--kwargs", o->kwargs, &env.kwargs);
    if (st == CF_OK && o->options)
        st = parse_object(ctx, "--options", o->options, &env.options);
    if (st == CF_OK && (cf_envelope_validate(&env, &err) != CF_OK ||
                        cf_envelope_encode(&env, &o->encoded) != CF_OK))
        st = cf_cli_refuse(ctx, CF_ERR_INVALID, "invalid job: %s%s%s", err.msg,
                           err.field[0] ? " (field " : "", err.field[0] ? err.field : "");
    snprintf(o->jid, sizeof o->jid, "%s", env.jid);
    cf_envelope_deinit(&env);
    if (st == CF_OK && def == NULL)
        fprintf(stderr,
                "chronoforge enqueue: note: class '%s' is not registered in this binary; "
                "a worker that knows it must run it\n",
                wf_class);
    return st;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    enqueue_opts *o = arg;
    cf_status st =
        o->due_ms > 0
            ? cf_enqueue_at(ctx->queue, o->queue, o->encoded.data, o->encoded.len, o->due_ms)
            : cf_enqueue(ctx->queue, o->queue, o->encoded.data, o->encoded.len);
    if (st != CF_OK)
        return cf_cli_refuse(ctx, st, "enqueue failed: %s", cf_queue_errstr(ctx->queue));
    printf("%s\n", o->jid);
    return CF_OK;
}

int cf_cli_cmd_enqueue(int argc, char **argv)
{
    enqueue_opts o = {.encoded = CF_BUF_INIT};
    const cf_cli_opt opts[] = {
        {"kwargs", 0, "JSON", "the workflow's arguments, a JSON object", &o.kwargs, NULL},
        {"options", 0, "JSON", "per-workflow options, e.g. {\"max_duration\": \"30m\"}", &o.options,
         NULL},
        {"in", 0, "DURATION", "run it this much later (e.g. 30s, 10m)", &o.in, NULL},
        {"at", 0, "TIME", "run it at this time (ISO-8601 or Unix seconds)", &o.at, NULL},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "enqueue CLASS KEY [--kwargs JSON] [--options JSON] [-q QUEUE] "
                         "[--in DURATION | --at TIME]",
                .summary = "Enqueues a workflow run. KEY is the workflow's identity for its whole "
                           "life; kwargs are stored when the workflow is first created. Prints "
                           "the jid.",
                .min_positional = 2,
                .max_positional = 2,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_REDIS,
        .check = check,
        .body = body,
    };
    int rc = cf_cli_run(argc, argv, &r, &o);
    cf_buf_deinit(&o.encoded);
    return rc;
}
