// SPDX-License-Identifier: MIT
/* cli/cmd_dashboard.c: `chronoforge dashboard`: serves the web dashboard (http/dashboard.h) on
 * --listen until SIGTERM or SIGINT. The action token comes from --token-file PATH or the
 * environment (CHRONOFORGE_DASHBOARD_TOKEN), never from a flag's value (flags show in `ps`);
 * without one, or with --read-only, the dashboard only shows. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "http/dashboard.h"
#include "http/server.h"

#define TOKEN_MAX 512

typedef struct dash_opts {
    const char *listen, *token_file;
    bool read_only;
    char token[TOKEN_MAX + 2];
} dash_opts;

/* read_token reads the first line of path (at most TOKEN_MAX bytes, trailing CR/LF dropped). */
static cf_status read_token(cf_cli_ctx *ctx, const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "--token-file %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
        fprintf(stderr,
                "chronoforge dashboard: warning: %s is readable by other users (chmod 600 it)\n",
                path);
    bool ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(out, "\r\n") : 0;
    if (ok && out[n] == '\0' && n >= cap - 1)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "--token-file %s: longer than %d bytes", path,
                             TOKEN_MAX);
    out[n] = '\0';
    return CF_OK;
}

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    dash_opts *o = arg;
    char host[256];
    int port;
    if (cf_http_parse_listen(o->listen, host, sizeof host, &port) != CF_OK)
        return cf_cli_usage(ctx, "--listen takes ADDR:PORT (for example %s), not '%s'",
                            CF_DASH_LISTEN_DEFAULT, o->listen);
    const char *env = getenv("CHRONOFORGE_DASHBOARD_TOKEN");
    if (o->token_file) {
        if (read_token(ctx, o->token_file, o->token, sizeof o->token) != CF_OK)
            return CF_ERR_INVALID;
    } else if (env) {
        if (strlen(env) > TOKEN_MAX)
            return cf_cli_refuse(ctx, CF_ERR_INVALID,
                                 "CHRONOFORGE_DASHBOARD_TOKEN is longer than %d bytes", TOKEN_MAX);
        snprintf(o->token, sizeof o->token, "%s", env);
    }
    if ((o->token_file || env) && strlen(o->token) < 16 && !o->read_only)
        return cf_cli_refuse(ctx, CF_ERR_INVALID,
                             "the dashboard token must be at least 16 characters (generate one: "
                             "head -c 24 /dev/urandom | base64)");
    return CF_OK;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    dash_opts *o = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the daemon's thread inherits the mask */
    signal(SIGPIPE, SIG_IGN);
    cf_dash_opts d = {.listen = o->listen,
                      .token = o->token[0] ? o->token : NULL,
                      .read_only = o->read_only,
                      .cfg = &ctx->args.cfg};
    cf_dash *dash = NULL;
    cf_status st = cf_dash_start(&d, ctx->store, ctx->queue, &dash);
    memset(o->token, 0, sizeof o->token);
    if (st != CF_OK)
        return cf_cli_refuse(ctx, st, "cannot serve the dashboard on %s", o->listen);
    printf("dashboard on http://%s/ (%s)\n", o->listen,
           o->read_only || !d.token ? "read-only" : "actions after sign-in with the token");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    cf_dash_stop(dash);
    return CF_OK;
}

int cf_cli_cmd_dashboard(int argc, char **argv)
{
    dash_opts o = {.listen = CF_DASH_LISTEN_DEFAULT};
    const cf_cli_opt opts[] = {
        {"listen", 0, "ADDR:PORT", "where to serve (default " CF_DASH_LISTEN_DEFAULT ")", &o.listen,
         NULL},
        {"token-file", 0, "PATH",
         "the sign-in token for actions (else CHRONOFORGE_DASHBOARD_TOKEN; none: read-only)",
         &o.token_file, NULL},
        {"read-only", 0, NULL, "show only: no sign-in, no action", NULL, &o.read_only},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "dashboard [--listen ADDR:PORT] [--token-file PATH] [--read-only]",
                .summary =
                    "Serves the web dashboard: workflows by state and queue, throughput, stuck "
                    "work, workflows with filters, one workflow's timeline and errors, queues and "
                    "dead letters, workers. Actions (requeue, dead-letter retry and purge, worker "
                    "quiet and resume) need a sign-in with the token, read from --token-file or "
                    "CHRONOFORGE_DASHBOARD_TOKEN (never a flag's value); without a token, or with "
                    "--read-only, there are none. Runs until SIGTERM or SIGINT.",
                .max_positional = 0,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE | CF_CLI_NEEDS_REDIS,
        .check = check,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}
