// SPDX-License-Identifier: MIT
/* cli/args.h: command-line parsing shared by every command: the settings of worker/config.h
 * (flag > environment > default), the command's own options, positional arguments, --help,
 * --version. */
#ifndef CF_CLI_ARGS_H
#define CF_CLI_ARGS_H

#include <stdbool.h>

#include "worker/config.h"

/* One option of a command. Exactly one of value (takes an argument) or flag (a switch) is set. */
typedef struct cf_cli_opt {
    const char *name; /* long name without dashes */
    char short_flag;
    const char *arg_name; /* for help: "JSON", "DURATION"; NULL for switches */
    const char *help;
    const char **value; /* receives the argument (borrowed from argv) */
    bool *flag;         /* set to true when present */
} cf_cli_opt;

typedef struct cf_cli_command_spec {
    const char *usage;   /* "enqueue CLASS KEY [options]" */
    const char *summary; /* one paragraph */
    int min_positional, max_positional;
    const cf_cli_opt *opts; /* terminated by {NULL} */
    int scope;              /* which settings apply: CF_CFG_ALL, | CF_CFG_WORKER */
} cf_cli_command_spec;

typedef struct cf_cli_args {
    cf_config cfg;
    const char *pos[8];
    int npos;
    bool queues_given; /* -q/--queues or CHRONOFORGE_QUEUES was given */
} cf_cli_args;

/* cf_cli_parse parses argv (argv[0] is the command name). Returns -1 when the command should
 * run, else the exit code to return at once (0 after --help or --version, 2 on a usage error, 1
 * when a setting is invalid), having printed help or a one-line error. */
int cf_cli_parse(int argc, char **argv, const cf_cli_command_spec *spec, cf_cli_args *out);

/* cf_cli_fail prints "chronoforge <cmd>: <message>" on stderr and returns 1. */
int cf_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
