// SPDX-License-Identifier: MIT
/* cli/commands.h: the table of CLI commands. Each command lives in cli/cmd_<name>.c, parses its
 * own argv (argv[0] is the command name) through cf_cli_run (cli/runner.h) and returns an exit
 * code (0 done, 1 refused or failed, 2 usage). */
#ifndef CF_CLI_COMMANDS_H
#define CF_CLI_COMMANDS_H

typedef struct cf_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cf_cli_command;

/* The table, terminated by an entry whose name is NULL (cli/commands.c). */
extern const cf_cli_command cf_cli_commands[];

#endif
