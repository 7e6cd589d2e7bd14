// SPDX-License-Identifier: MIT
/* cli/runner.h: the one shape every one-shot command shares: parse argv (cli/args.h), check
 * the options, open what the command needs (Redis, the store, both), run the command's body,
 * close, and map the body's status to SPEC §5's exit codes (0 done, 1 refused or failed with a
 * one-line reason on stderr, 2 usage). A command file holds only its options and its body. */
#ifndef CF_CLI_RUNNER_H
#define CF_CLI_RUNNER_H

#include "cli/args.h"
#include "common/status.h"
#include "queue/queue.h"
#include "store/store.h"

/* What a command needs opened before its body runs. */
enum {
    CF_CLI_NEEDS_REDIS = 1 << 0,
    CF_CLI_NEEDS_STORE = 1 << 1,
};

typedef struct cf_cli_ctx {
    const char *cmd; /* "status" */
    const cf_cli_command_spec *spec;
    cf_cli_args args; /* settings and positional arguments */
    cf_queue *queue;  /* open (no worker id) when the command needs Redis, else NULL */
    cf_store *store;  /* open when the command needs the store, else NULL */
    char why[512];    /* the one-line reason of a failure ("" : the runner finds one) */
    bool usage;       /* the failure is a usage error (exit 2) */
} cf_cli_ctx;

/* A step of a command: returns CF_OK, or a failure explained by cf_cli_refuse/cf_cli_usage,
 * or a bare status (the runner then explains it with the store's or the queue handle's last
 * error). */
typedef cf_status (*cf_cli_step)(cf_cli_ctx *ctx, void *opts);

typedef struct cf_cli_runner {
    cf_cli_command_spec spec; /* usage, summary, positional counts, option table, scope */
    int needs;                /* CF_CLI_NEEDS_* */
    cf_cli_step check;        /* optional: validates options before anything is opened */
    cf_cli_step body;         /* the command itself */
} cf_cli_runner;

/* cf_cli_run parses argv (argv[0] is the command name), then runs check and body with opts (the
 * command's own option values, which its option table points into). Returns the exit code. */
int cf_cli_run(int argc, char **argv, const cf_cli_runner *r, void *opts);

/* cf_cli_who writes "user@host" (who asked, for audit rows: requeue, cancel) into buf. */
void cf_cli_who(char *buf, size_t cap);

/* cf_cli_refuse records why the command failed and returns st (never CF_OK: CF_OK becomes
 * CF_ERR_STATE): `return cf_cli_refuse(ctx, CF_ERR_NOT_FOUND, "no workflow '%s'", key);`. */
cf_status cf_cli_refuse(cf_cli_ctx *ctx, cf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cf_cli_usage records a usage error (exit 2; the usage line is printed after it) and returns
 * CF_ERR_INVALID. */
cf_status cf_cli_usage(cf_cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cf_cli_parse_count parses a whole number in [lo, hi] given to option name; on failure it
 * refuses with "NAME takes LO-HI, not 'TEXT'". */
cf_status cf_cli_parse_count(cf_cli_ctx *ctx, const char *name, const char *text, long lo, long hi,
                             long *out);

/* cf_cli_who writes "user@host" (who asked, for audit columns and rows) into buf. */
void cf_cli_who(char *buf, size_t cap);

#endif
