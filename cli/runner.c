// SPDX-License-Identifier: MIT
/* cli/runner.c: cf_cli_run: parse, check, open, run, close, exit code. */
#include "cli/runner.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/connect.h"
#include "common/alloc.h"

cf_status cf_cli_refuse(cf_cli_ctx *ctx, cf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->why, sizeof ctx->why, fmt, ap);
    va_end(ap);
    return st == CF_OK ? CF_ERR_STATE : st;
}

cf_status cf_cli_usage(cf_cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->why, sizeof ctx->why, fmt, ap);
    va_end(ap);
    ctx->usage = true;
    return CF_ERR_INVALID;
}

cf_status cf_cli_parse_count(cf_cli_ctx *ctx, const char *name, const char *text, long lo, long hi,
                             long *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end || v < lo || v > hi)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "%s takes %ld-%ld, not '%s'", name, lo, hi, text);
    *out = v;
    return CF_OK;
}

/* explain finds the reason of a failure the body did not explain itself. */
static void explain(cf_cli_ctx *ctx, cf_status st)
{
    if (ctx->why[0])
        return;
    if (ctx->store)
        snprintf(ctx->why, sizeof ctx->why, "%s", cf_store_errstr(ctx->store));
    if (!ctx->why[0] && ctx->queue && cf_queue_errstr(ctx->queue)[0])
        snprintf(ctx->why, sizeof ctx->why, "%s", cf_queue_errstr(ctx->queue));
    if (!ctx->why[0])
        snprintf(ctx->why, sizeof ctx->why, "%s", cf_status_str(st));
}

int cf_cli_run(int argc, char **argv, const cf_cli_runner *r, void *opts)
{
    cf_cli_ctx *ctx = cf_calloc(1, sizeof *ctx); /* cf_cli_args is large: keep it off the stack */
    if (ctx == NULL)
        return cf_cli_fail(argv[0], "out of memory");
    ctx->cmd = argv[0];
    ctx->spec = &r->spec;
    int rc = cf_cli_parse(argc, argv, &r->spec, &ctx->args);
    if (rc >= 0) {
        cf_free(ctx);
        return rc;
    }
    cf_status st = r->check ? r->check(ctx, opts) : CF_OK;
    if (st == CF_OK && (r->needs & CF_CLI_NEEDS_REDIS) &&
        cf_cli_open_queue(ctx->cmd, &ctx->args.cfg, &ctx->queue)) {
        cf_free(ctx);
        return 1;
    }
    if (st == CF_OK && (r->needs & CF_CLI_NEEDS_STORE) &&
        cf_cli_open_store(ctx->cmd, &ctx->args.cfg, &ctx->store)) {
        cf_queue_free(ctx->queue);
        cf_free(ctx);
        return 1;
    }
    if (st == CF_OK)
        st = r->body(ctx, opts);
    rc = 0;
    if (st != CF_OK) {
        explain(ctx, st);
        fflush(stdout);
        fprintf(stderr, "chronoforge %s: %s\n", ctx->cmd, ctx->why);
        if (ctx->usage)
            fprintf(stderr, "usage: chronoforge %s\n", r->spec.usage);
        rc = ctx->usage ? 2 : 1;
    }
    cf_store_close(ctx->store);
    cf_queue_free(ctx->queue);
    cf_free(ctx);
    return rc;
}

void cf_cli_who(char *buf, size_t cap)
{
    const char *user = getenv("USER");
    const struct passwd *pw = user && *user ? NULL : getpwuid(getuid());
    if (pw)
        user = pw->pw_name;
    char host[256] = "unknown";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    snprintf(buf, cap, "%s@%s", user && *user ? user : "unknown", host);
}
