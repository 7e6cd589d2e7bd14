// SPDX-License-Identifier: MIT
/* cli/cmd_classes.c: `chronoforge classes`: the workflow classes registered in this binary, with
 * description, queue, max duration and retry policies. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "common/duration.h"
#include "engine/registry.h"
#include "engine/retry.h"

/* describe_policy writes one policy (and its or_else chain) as text: "3 attempts, base 1s, cap
 * 30s; on Net*: ...". */
static void describe_policy(const cf_retry_policy *p, const cf_retry_policy *dflt, char *buf,
                            size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    if (p == NULL) {
        used = (size_t)snprintf(buf, cap, "built-in: ");
        p = dflt;
    }
    for (int depth = 0; p && depth < 16 && used < cap; p = p->or_else, depth++) {
        char base[32], capd[32], on[256] = "";
        cf_duration_format(p->base_ms, base, sizeof base);
        cf_duration_format(p->cap_ms, capd, sizeof capd);
        for (const char *const *c = p->retry_on; c && *c; c++) {
            size_t l = strlen(on);
            snprintf(on + l, sizeof on - l, "%s%s", l ? "," : "on ", *c);
        }
        char attempts[32];
        if (p->max_attempts > 0)
            snprintf(attempts, sizeof attempts, "%d attempts", p->max_attempts);
        else
            snprintf(attempts, sizeof attempts, "unlimited attempts");
        int n = snprintf(buf + used, cap - used, "%s%s%s%s, base %s, cap %s%s",
                         depth ? "; else " : "", on, on[0] ? ": " : "", attempts, base, capd,
                         p->no_jitter ? ", no jitter" : "");
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const bool *as_json = arg;
    const cf_config *cfg = &ctx->args.cfg;
    json_t *rows = json_array();
    size_t n = cf_registry_count();
    for (size_t i = 0; i < n; i++) {
        const cf_workflow_def *d = cf_registry_at(i);
        char step[512], wf[512], maxd[32];
        describe_policy(d->step_policy, &cf_retry_step_default, step, sizeof step);
        describe_policy(d->workflow_policy, &cf_retry_workflow_default, wf, sizeof wf);
        if (d->workflow_policy_fn) {
            size_t l = strlen(wf);
            snprintf(wf + l, sizeof wf - l, " (or computed per run)");
        }
        int64_t max_ms = d->max_duration_ms > 0 ? d->max_duration_ms : cfg->max_duration_ms;
        cf_duration_format(max_ms, maxd, sizeof maxd);
        const char *queue = d->queue ? d->queue : "default";
        const char *desc = d->description ? d->description : "";
        if (*as_json) {
            json_array_append_new(rows, json_pack("{ss ss ss sI ss ss}", "class", d->name,
                                                  "description", desc, "queue", queue,
                                                  "max_duration_ms", (json_int_t)max_ms,
                                                  "step_policy", step, "workflow_policy", wf));
            continue;
        }
        printf("%s\n  %s\n  queue %s, max duration %s%s\n  step policy: %s\n  workflow policy: "
               "%s\n",
               d->name, desc[0] ? desc : "(no description)", queue, maxd,
               d->max_duration_ms > 0 ? "" : " (the worker setting)", step, wf);
    }
    if (*as_json) {
        json_t *root = json_pack("{so}", "classes", rows);
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(root);
    } else {
        json_decref(rows);
        printf("%zu class%s registered\n", n, n == 1 ? "" : "es");
    }
    return CF_OK;
}

int cf_cli_cmd_classes(int argc, char **argv)
{
    bool as_json = false;
    const cf_cli_opt opts[] = {{"json", 0, NULL, "print JSON", NULL, &as_json}, {0}};
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "classes [--json]",
                .summary = "Lists the workflow classes registered in this binary: description, "
                           "default queue, max duration, step and workflow retry policies.",
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &as_json);
}
