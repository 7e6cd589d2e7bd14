// SPDX-License-Identifier: MIT
/* cli/cmd_enqueue.c: `chronoforge enqueue CLASS KEY` and `chronoforge requeue KEY` (retry_later
 * of a stalled or failed workflow): producers written in C, with the same validation as the
 * decoder. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "cli/connect.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/duration.h"
#include "engine/registry.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"

/* push encodes env and pushes it (due_ms 0: now). Returns an exit code. */
static int push(const char *cmd, const cf_config *cfg, const char *queue, cf_envelope *env,
                int64_t due_ms)
{
    cf_buf buf = CF_BUF_INIT;
    cf_error err = {0};
    if (cf_envelope_validate(env, &err) != CF_OK || cf_envelope_encode(env, &buf) != CF_OK) {
        cf_buf_deinit(&buf);
        return cf_cli_fail(cmd, "invalid job: %s%s%s", err.msg, err.field[0] ? " (field " : "",
                           err.field[0] ? err.field : "");
    }
    cf_queue *q = NULL;
    if (cf_cli_open_queue(cmd, cfg, &q)) {
        cf_buf_deinit(&buf);
        return 1;
    }
    cf_status st = due_ms > 0 ? cf_enqueue_at(q, queue, buf.data, buf.len, due_ms)
                              : cf_enqueue(q, queue, buf.data, buf.len);
    int rc = 0;
    if (st != CF_OK)
        rc = cf_cli_fail(cmd, "enqueue failed: %s", cf_queue_errstr(q));
    cf_queue_free(q);
    cf_buf_deinit(&buf);
    return rc;
}

int cf_cli_cmd_enqueue(int argc, char **argv)
{
    const char *kwargs_text = NULL, *in = NULL, *at = NULL, *options_text = NULL;
    const cf_cli_opt opts[] = {
        {"kwargs", 0, "JSON", "the workflow's arguments, a JSON object", &kwargs_text, NULL},
        {"options", 0, "JSON", "per-workflow options, e.g. {\"max_duration\": \"30m\"}",
         &options_text, NULL},
        {"in", 0, "DURATION", "run it this much later (e.g. 30s, 10m)", &in, NULL},
        {"at", 0, "TIME", "run it at this time (ISO-8601 or Unix seconds)", &at, NULL},
        {0},
    };
    const cf_cli_command_spec spec = {
        .usage = "enqueue CLASS KEY [--kwargs JSON] [-q QUEUE] [--in DURATION | --at TIME]",
        .summary = "Enqueues a workflow run. KEY is the workflow's identity for its whole life; "
                   "kwargs are stored when the workflow is first created. Prints the jid.",
        .min_positional = 2,
        .max_positional = 2,
        .opts = opts,
        .scope = CF_CFG_ALL,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    if (in && at)
        return cf_cli_fail("enqueue", "give --in or --at, not both");
    int64_t due = 0;
    cf_error err = {0};
    if (in) {
        int64_t ms;
        if (cf_duration_parse_ms(in, &ms, &err) != CF_OK)
            return cf_cli_fail("enqueue", "--in: %s", err.msg);
        due = cf_clock_unix_ms() + ms;
    } else if (at && cf_time_parse_unix_ms(at, &due, &err) != CF_OK) {
        return cf_cli_fail("enqueue", "--at: %s", err.msg);
    }
    const cf_workflow_def *def = cf_registry_find(a.pos[0]);
    const char *queue = a.queues_given      ? a.cfg.queues[0]
                        : def && def->queue ? def->queue
                                            : "default";
    cf_envelope env;
    if (cf_envelope_init_job(&env, a.pos[0], a.pos[1], queue, &err) != CF_OK)
        return cf_cli_fail("enqueue", "%s", err.msg);
    json_error_t jerr;
    if (kwargs_text) {
        env.kwargs = json_loads(kwargs_text, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(env.kwargs)) {
            cf_envelope_deinit(&env);
            return cf_cli_fail("enqueue", "--kwargs must be a JSON object: %s",
                               env.kwargs ? "not an object" : jerr.text);
        }
    }
    if (options_text) {
        env.options = json_loads(options_text, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(env.options)) {
            cf_envelope_deinit(&env);
            return cf_cli_fail("enqueue", "--options must be a JSON object");
        }
    }
    if (def == NULL)
        fprintf(stderr,
                "chronoforge enqueue: note: class '%s' is not registered in this binary; "
                "a worker that knows it must run it\n",
                a.pos[0]);
    rc = push("enqueue", &a.cfg, queue, &env, due);
    if (rc == 0)
        printf("%s\n", env.jid);
    cf_envelope_deinit(&env);
    return rc;
}

int cf_cli_cmd_requeue(int argc, char **argv)
{
    const char *wf_class = NULL;
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class, when the key is used by several", &wf_class,
         NULL},
        {0},
    };
    const cf_cli_command_spec spec = {
        .usage = "requeue KEY [--class CLASS]",
        .summary = "Resumes a stalled or failed workflow (retry_later): its failed step gets a "
                   "fresh retry budget; attempt numbers keep counting. Other states are refused "
                   "and nothing is enqueued.",
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
    if (cf_cli_open_store("requeue", &a.cfg, &store))
        return 1;
    cf_wf_row row = {0};
    cf_status st = cf_store_find(store, wf_class, a.pos[0], &row);
    char why[256] = "";
    if (st != CF_OK)
        snprintf(why, sizeof why, "%s", cf_store_errstr(store));
    cf_store_close(store);
    if (st == CF_ERR_NOT_FOUND)
        return cf_cli_fail("requeue", "no workflow with key '%s'%s%s", a.pos[0],
                           wf_class ? " and class " : "", wf_class ? wf_class : "");
    if (st != CF_OK)
        return cf_cli_fail("requeue", "%s", why[0] ? why : cf_status_str(st));
    if (strcmp(row.state, "stalled") != 0 && strcmp(row.state, "failed") != 0) {
        rc = cf_cli_fail("requeue",
                         "workflow %s/%s is %s; only stalled or failed workflows can be requeued",
                         row.wf_class, row.key, row.state);
        cf_wf_row_deinit(&row);
        return rc;
    }
    cf_envelope env;
    cf_error err = {0};
    if (cf_envelope_init_job(&env, row.wf_class, row.key, row.queue, &err) != CF_OK) {
        cf_wf_row_deinit(&row);
        return cf_cli_fail("requeue", "%s", err.msg);
    }
    env.retry_workflow = true;
    rc = push("requeue", &a.cfg, row.queue, &env, 0);
    if (rc == 0)
        printf("requeued %s/%s (was %s): %s\n", row.wf_class, row.key, row.state, env.jid);
    cf_envelope_deinit(&env);
    cf_wf_row_deinit(&row);
    return rc;
}
